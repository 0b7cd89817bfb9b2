import { describe, expect, test } from "bun:test";
import type { MsbError } from "../../src/errors.ts";
import {
  type AuthChallenge,
  Authenticator,
  basicAuthorization,
  parseAuthChallenges,
} from "../../src/image/registry/auth.ts";

describe("parseAuthChallenges", () => {
  const table: Array<[string, AuthChallenge[]]> = [
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      [
        {
          scheme: "bearer",
          params: {
            realm: "https://auth.docker.io/token",
            service: "registry.docker.io",
            scope: "repository:library/alpine:pull",
          },
        },
      ],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: "basic", params: { realm: "Registry Realm" } }]],
    ["Basic", [{ scheme: "basic", params: {} }]],
    ['BEARER Realm="r", Service=s', [{ scheme: "bearer", params: { realm: "r", service: "s" } }]],
    [
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull,push"',
      [
        {
          scheme: "bearer",
          params: { realm: "https://ghcr.io/token", service: "ghcr.io", scope: "repository:a/b:pull,push" },
        },
      ],
    ],
    [
      'Basic realm="basic", Bearer realm="https://t/token",service="svc"',
      [
        { scheme: "basic", params: { realm: "basic" } },
        { scheme: "bearer", params: { realm: "https://t/token", service: "svc" } },
      ],
    ],
    [
      'Bearer realm="a\\"b",error="invalid_token"',
      [{ scheme: "bearer", params: { realm: 'a"b', error: "invalid_token" } }],
    ],
    ["", []],
  ];
  test.each(table)("%p", (header, expected) => {
    expect(parseAuthChallenges(header)).toEqual(expected);
  });
});

interface TokenCall {
  url: URL;
  authorization: string | null;
}

function tokenServer(body: (call: number) => Response) {
  const calls: TokenCall[] = [];
  const fetchFn = (async (input: URL | string, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    calls.push({ url: new URL(input.toString()), authorization: headers.get("authorization") });
    return body(calls.length);
  }) as typeof fetch;
  return { calls, fetchFn };
}

const CHALLENGE = 'Bearer realm="https://auth.example/token",service="example",scope="repository:a/b:pull"';

describe("Authenticator", () => {
  test("fetches an anonymous token with service and scope, then reuses it", async () => {
    const { calls, fetchFn } = tokenServer(() => Response.json({ token: "t1" }));
    const auth = new Authenticator({ fetch: fetchFn, userAgent: "test", credentials: () => undefined });
    expect(await auth.authorization("example", "repository:a/b:pull")).toBeUndefined();
    expect(await auth.respond("example", CHALLENGE, "repository:a/b:pull", false)).toBe("Bearer t1");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url.searchParams.get("service")).toBe("example");
    expect(calls[0]?.url.searchParams.get("scope")).toBe("repository:a/b:pull");
    expect(calls[0]?.authorization).toBeNull();
    expect(await auth.authorization("example", "repository:a/b:pull")).toBe("Bearer t1");
    expect(calls).toHaveLength(1);
  });

  test("asks for a token per scope, proactively after the first challenge", async () => {
    const { calls, fetchFn } = tokenServer((n) => Response.json({ access_token: `t${n}` }));
    const auth = new Authenticator({ fetch: fetchFn, userAgent: "test", credentials: () => undefined });
    await auth.respond("example", CHALLENGE, "repository:a/b:pull", false);
    expect(await auth.authorization("example", "repository:c/d:pull")).toBe("Bearer t2");
    expect(calls[1]?.url.searchParams.get("scope")).toBe("repository:c/d:pull");
  });

  test("sends Basic credentials to the token realm", async () => {
    const { calls, fetchFn } = tokenServer(() => Response.json({ token: "t" }));
    const credentials = { username: "alice", password: "s3cret" };
    const auth = new Authenticator({ fetch: fetchFn, userAgent: "test", credentials: () => credentials });
    await auth.respond("example", CHALLENGE, undefined, false);
    expect(calls[0]?.authorization).toBe(basicAuthorization(credentials));
  });

  test("a stale token is replaced after a second challenge", async () => {
    const { calls, fetchFn } = tokenServer((n) => Response.json({ token: `t${n}` }));
    const auth = new Authenticator({ fetch: fetchFn, userAgent: "test", credentials: () => undefined });
    await auth.respond("example", CHALLENGE, "repository:a/b:pull", false);
    expect(await auth.respond("example", CHALLENGE, "repository:a/b:pull", true)).toBe("Bearer t2");
    expect(calls).toHaveLength(2);
  });

  test("expired tokens are fetched again", async () => {
    let now = 0;
    const { calls, fetchFn } = tokenServer((n) => Response.json({ token: `t${n}`, expires_in: 60 }));
    const auth = new Authenticator({
      fetch: fetchFn,
      userAgent: "test",
      credentials: () => undefined,
      now: () => now,
    });
    await auth.respond("example", CHALLENGE, "repository:a/b:pull", false);
    now = 49_000;
    expect(await auth.authorization("example", "repository:a/b:pull")).toBe("Bearer t1");
    now = 51_000;
    expect(await auth.authorization("example", "repository:a/b:pull")).toBe("Bearer t2");
    expect(calls).toHaveLength(2);
  });

  test("rejected credentials are a permission error that names the user, never the password", async () => {
    const { fetchFn } = tokenServer(() => new Response("no", { status: 401 }));
    const auth = new Authenticator({
      fetch: fetchFn,
      userAgent: "test",
      credentials: () => ({ username: "alice", password: "s3cret" }),
    });
    const failure = auth.respond("example", CHALLENGE, undefined, false);
    await expect(failure).rejects.toThrow("rejected the credentials of alice");
    const error = (await failure.catch((caught: unknown) => caught)) as MsbError;
    expect(error.code).toBe("permission");
    expect(error.hint).toBe("msb registry login example");
    expect(error.message).not.toContain("s3cret");
  });

  test("a Basic challenge without credentials asks for a login", async () => {
    const { fetchFn } = tokenServer(() => Response.json({}));
    const auth = new Authenticator({ fetch: fetchFn, userAgent: "test", credentials: () => undefined });
    await expect(auth.respond("example", 'Basic realm="r"', undefined, false)).rejects.toThrow(
      "requires a login",
    );
  });

  test("a token response without a token is an error", async () => {
    const { fetchFn } = tokenServer(() => Response.json({ nothing: true }));
    const auth = new Authenticator({ fetch: fetchFn, userAgent: "test", credentials: () => undefined });
    await expect(auth.respond("example", CHALLENGE, undefined, false)).rejects.toThrow("returned no token");
  });

  test("a realm that is not an http(s) URL is refused", async () => {
    const { calls, fetchFn } = tokenServer(() => Response.json({ token: "t" }));
    const auth = new Authenticator({ fetch: fetchFn, userAgent: "test", credentials: () => undefined });
    await expect(
      auth.respond("example", 'Bearer realm="file:///etc/passwd"', undefined, false),
    ).rejects.toThrow("invalid token realm");
    await expect(auth.respond("example", 'Bearer realm="not a url"', undefined, false)).rejects.toThrow(
      "invalid token realm",
    );
    expect(calls).toHaveLength(0);
  });

  test("an unknown scheme is refused", async () => {
    const { fetchFn } = tokenServer(() => Response.json({}));
    const auth = new Authenticator({ fetch: fetchFn, userAgent: "test", credentials: () => undefined });
    await expect(auth.respond("example", "Negotiate", undefined, false)).rejects.toThrow(
      "unsupported authentication",
    );
  });
});
