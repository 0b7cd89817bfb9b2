import { afterEach, describe, expect, test } from "bun:test";
import { MsbError, NotFoundError } from "../../src/errors.ts";
import { parsePlatform } from "../../src/image/platform.ts";
import { parseReference } from "../../src/image/reference.ts";
import { type ClientOptions, RegistryClient } from "../../src/image/registry/client.ts";
import { MANIFEST_ACCEPT } from "../../src/image/registry/manifest.ts";
import {
  DOCKER_LIST,
  DOCKER_MANIFEST,
  DOCKER_SCHEMA1,
  FakeRegistry,
  type FakeRegistryOptions,
  sha256,
} from "../helpers/fake-registry.ts";

const AMD64 = parsePlatform("linux/amd64");
const ARM64 = parsePlatform("linux/arm64");
const fast = { attempts: 4, baseDelayMs: 1 };
const layer = (text: string) => new TextEncoder().encode(text);

let registry: FakeRegistry | undefined;
afterEach(() => registry?.stop());

function start(options: FakeRegistryOptions = {}): FakeRegistry {
  registry = new FakeRegistry(options);
  return registry;
}

function client(options: ClientOptions = {}): RegistryClient {
  return new RegistryClient({ retry: fast, ...options });
}

async function failure(promise: Promise<unknown>): Promise<MsbError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MsbError) return error;
    throw error;
  }
  throw new Error("expected a failure");
}

describe("resolve", () => {
  test("a single-platform OCI image, anonymously", async () => {
    const fake = start();
    const pushed = fake.pushImage("team/app", "1", [layer("one"), layer("two")]);
    const resolved = await client().resolve(parseReference(`${fake.host}/team/app:1`), AMD64);
    expect(resolved.manifestDigest).toBe(pushed.manifest.digest);
    expect(resolved.indexDigest).toBeUndefined();
    expect(sha256(resolved.manifestBytes)).toBe(pushed.manifest.digest);
    expect(resolved.configDigest).toBe(pushed.config.digest);
    expect(resolved.config.config?.Cmd).toEqual(["/bin/sh"]);
    expect(resolved.layers).toEqual(pushed.layers);
    expect(resolved.platform).toEqual({ os: "linux", architecture: "amd64" });
    const manifestRequest = fake.registryRequests("/manifests/1")[0];
    expect(manifestRequest?.headers.accept).toBe(MANIFEST_ACCEPT);
    expect(manifestRequest?.headers["user-agent"]).toStartWith("msb/");
  });

  test("an OCI index picks the host's platform, arm64 without a variant matching v8", async () => {
    const fake = start();
    const amd = fake.pushImage("app", undefined, [layer("amd")]);
    const arm = fake.pushImage("app", undefined, [layer("arm")], {
      platform: { os: "linux", architecture: "arm64" },
    });
    const armv7 = fake.pushImage("app", undefined, [layer("v7")], {
      platform: { os: "linux", architecture: "arm", variant: "v7" },
    });
    const index = fake.pushIndex("app", "latest", [amd.manifest, arm.manifest, armv7.manifest]);
    const ref = parseReference(`${fake.host}/app`);

    const onArm = await client().resolve(ref, ARM64);
    expect(onArm.manifestDigest).toBe(arm.manifest.digest);
    expect(onArm.indexDigest).toBe(index.digest);
    expect(onArm.platform).toEqual({ os: "linux", architecture: "arm64", variant: "v8" });
    expect(onArm.layers).toEqual(arm.layers);

    const onAmd = await client().resolve(ref, AMD64);
    expect(onAmd.manifestDigest).toBe(amd.manifest.digest);
  });

  test("a Docker manifest list of Docker schema 2 manifests", async () => {
    const fake = start();
    const amd = fake.pushImage("app", undefined, [layer("a")], { mediaType: DOCKER_MANIFEST });
    const s390 = fake.pushImage("app", undefined, [layer("s")], {
      mediaType: DOCKER_MANIFEST,
      platform: { os: "linux", architecture: "s390x" },
    });
    fake.pushIndex("app", "2", [s390.manifest, amd.manifest], DOCKER_LIST);
    const resolved = await client().resolve(parseReference(`${fake.host}/app:2`), AMD64);
    expect(resolved.manifestDigest).toBe(amd.manifest.digest);
    expect(resolved.manifestMediaType).toBe(DOCKER_MANIFEST);
    expect(resolved.layers[0]?.mediaType).toBe("application/vnd.docker.image.rootfs.diff.tar.gzip");
  });

  test("an index without the wanted platform names the ones it has", async () => {
    const fake = start();
    const arm = fake.pushImage("app", undefined, [layer("arm")], {
      platform: { os: "linux", architecture: "arm64" },
    });
    fake.pushIndex("app", "1", [arm.manifest]);
    const error = await failure(client().resolve(parseReference(`${fake.host}/app:1`), AMD64));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toContain("has no image for linux/amd64; it has linux/arm64/v8");
  });

  test("a single manifest for another platform is refused", async () => {
    const fake = start();
    fake.pushImage("app", "1", [layer("amd")]);
    const error = await failure(client().resolve(parseReference(`${fake.host}/app:1`), ARM64));
    expect(error.message).toContain("is an image for linux/amd64, not linux/arm64/v8");
    expect(error.hint).toContain("--platform linux/amd64");
  });

  test("a pinned digest is fetched by digest and verified", async () => {
    const fake = start();
    const pushed = fake.pushImage("app", "1", [layer("x")]);
    const pinned = parseReference(`${fake.host}/app:1@${pushed.manifest.digest}`);
    expect((await client().resolve(pinned, AMD64)).manifestDigest).toBe(pushed.manifest.digest);
    expect(fake.registryRequests(`/manifests/${pushed.manifest.digest}`)).toHaveLength(1);

    fake.respondNext(`/manifests/${pushed.manifest.digest}`, 1, () => Response.json({ schemaVersion: 2 }));
    const error = await failure(client().resolve(pinned, AMD64));
    expect(error.message).toContain(`failed verification: expected ${pushed.manifest.digest}`);
  });

  test("a config that does not match its digest is refused", async () => {
    const fake = start();
    const pushed = fake.pushImage("app", "1", [layer("x")]);
    fake.corrupt.set(
      pushed.config.digest,
      layer(JSON.stringify({ rootfs: { type: "layers", diff_ids: ["x"] } })),
    );
    const error = await failure(client().resolve(parseReference(`${fake.host}/app:1`), AMD64));
    expect(error.message).toContain(`config of ${fake.host}/app:1 failed verification`);
    expect(error.message).toContain(pushed.config.digest);
  });

  test("a config whose diff_ids do not match the layers is refused", async () => {
    const fake = start();
    const pushed = fake.pushImage("app", undefined, [layer("x")]);
    const response = await fetch(`http://${fake.host}/v2/app/manifests/${pushed.manifest.digest}`);
    const manifest = (await response.json()) as { mediaType: string; layers: unknown[] };
    manifest.layers.push(fake.putBlob(layer("extra")));
    fake.putManifest("app", manifest, manifest.mediaType, "bad");
    const error = await failure(client().resolve(parseReference(`${fake.host}/app:bad`), AMD64));
    expect(error.message).toContain("1 diff_ids for 2 layers");
  });

  test("schema 1 manifests are rejected with a clear message", async () => {
    const fake = start();
    fake.putManifest("old", { schemaVersion: 1, name: "old", tag: "1", fsLayers: [] }, DOCKER_SCHEMA1, "1");
    const error = await failure(client().resolve(parseReference(`${fake.host}/old:1`), AMD64));
    expect(error.message).toBe(
      `${fake.host}/old:1 uses the Docker schema 1 manifest format, which msb does not support`,
    );
  });

  test("a missing image is a NotFoundError naming the reference", async () => {
    const fake = start();
    const error = await failure(client().resolve(parseReference(`${fake.host}/missing`), AMD64));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe(`image not found: ${fake.host}/missing:latest`);
    expect(error.hint).toContain(`msb registry login ${fake.host}`);
  });
});

describe("authentication", () => {
  test("Bearer: one anonymous token per scope, sent on every request", async () => {
    const fake = start({ auth: "bearer" });
    fake.pushImage("app", "1", [layer("x")]);
    const registryClient = client();
    await registryClient.resolve(parseReference(`${fake.host}/app:1`), AMD64);
    await registryClient.resolve(parseReference(`${fake.host}/app:1`), AMD64);
    const tokenRequests = fake.registryRequests("/token");
    expect(tokenRequests).toHaveLength(1);
    expect(tokenRequests[0]?.query).toContain("service=fake-registry");
    expect(tokenRequests[0]?.query).toContain(`scope=${encodeURIComponent("repository:app:pull")}`);
    expect(tokenRequests[0]?.headers.authorization).toBeUndefined();
    const apiRequests = fake.registryRequests("/v2/app/");
    expect(apiRequests.filter((request) => !request.headers.authorization)).toHaveLength(1);
    expect(
      apiRequests.slice(1).every((request) => request.headers.authorization?.startsWith("Bearer ")),
    ).toBe(true);
  });

  test("Bearer with credentials and an access_token response", async () => {
    const fake = start({ auth: "bearer", username: "alice", password: "pw", tokenField: "access_token" });
    fake.pushImage("app", "1", [layer("x")]);
    const credentials = (host: string) =>
      host === fake.host ? { username: "alice", password: "pw" } : undefined;
    await client({ credentials }).resolve(parseReference(`${fake.host}/app:1`), AMD64);
    expect(fake.registryRequests("/token")[0]?.headers.authorization).toStartWith("Basic ");

    const error = await failure(client().resolve(parseReference(`${fake.host}/app:1`), AMD64));
    expect(error.code).toBe("permission");
    expect(error.hint).toBe(`msb registry login ${fake.host}`);
  });

  test("a revoked token is replaced once after a new challenge", async () => {
    const fake = start({ auth: "bearer" });
    fake.pushImage("app", "1", [layer("x")]);
    const registryClient = client();
    const ref = parseReference(`${fake.host}/app:1`);
    await registryClient.resolve(ref, AMD64);
    fake.revokeTokens();
    await registryClient.resolve(ref, AMD64);
    expect(fake.registryRequests("/token")).toHaveLength(2);
  });

  test("Basic: credentials are sent after the challenge; wrong ones are a permission error", async () => {
    const fake = start({ auth: "basic", username: "bob", password: "right" });
    fake.pushImage("app", "1", [layer("x")]);
    const ref = parseReference(`${fake.host}/app:1`);
    await client({ credentials: () => ({ username: "bob", password: "right" }) }).resolve(ref, AMD64);

    const error = await failure(
      client({ credentials: () => ({ username: "bob", password: "wrong" }) }).resolve(ref, AMD64),
    );
    expect(error.code).toBe("permission");
    expect(error.message).toContain(`registry ${fake.host} denied access to ${fake.host}/app:1 (HTTP 401)`);
    expect(error.message).not.toContain("wrong");
  });

  test("ping checks credentials against /v2/", async () => {
    const basic = start({ auth: "basic", username: "bob", password: "right" });
    await client({ credentials: () => ({ username: "bob", password: "right" }) }).ping(basic.host);
    const wrong = await failure(
      client({ credentials: () => ({ username: "bob", password: "no" }) }).ping(basic.host),
    );
    expect(wrong.code).toBe("permission");
    expect(wrong.message).toBe(`registry ${basic.host} rejected the credentials of bob`);
    expect(wrong.hint).toBe(`msb registry login ${basic.host}`);
    expect((await failure(client().ping(basic.host))).message).toBe(
      `registry ${basic.host} requires a login`,
    );
    basic.stop();

    const bearer = start({ auth: "bearer", username: "alice", password: "pw" });
    await client({ credentials: () => ({ username: "alice", password: "pw" }) }).ping(
      `http://${bearer.host}`,
    );
    const rejected = await failure(
      client({ credentials: () => ({ username: "alice", password: "x" }) }).ping(bearer.host),
    );
    expect(rejected.code).toBe("permission");
    expect(rejected.message).toContain("rejected the credentials of alice");
  });
});

describe("retries", () => {
  test("503 twice, then success", async () => {
    const fake = start();
    fake.pushImage("app", "1", [layer("x")]);
    fake.failNext("/manifests/1", 2, 503);
    await client().resolve(parseReference(`${fake.host}/app:1`), AMD64);
    expect(fake.registryRequests("/manifests/1")).toHaveLength(3);
  });

  test("429 waits for Retry-After", async () => {
    const fake = start();
    fake.pushImage("app", "1", [layer("x")]);
    fake.failNext("/manifests/1", 1, 429, { "Retry-After": "1" });
    const started = Date.now();
    await client().resolve(parseReference(`${fake.host}/app:1`), AMD64);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  test("retries are bounded and end as 'unavailable'", async () => {
    const fake = start();
    fake.pushImage("app", "1", [layer("x")]);
    fake.failNext("/manifests/1", 100, 502);
    const error = await failure(client().resolve(parseReference(`${fake.host}/app:1`), AMD64));
    expect(error.code).toBe("unavailable");
    expect(error.message).toContain("answered 502");
    expect(error.message).toContain("tried 4 times");
    expect(fake.registryRequests("/manifests/1")).toHaveLength(4);
  });

  test("an unreachable registry is 'unavailable' and names the host", async () => {
    const fake = start();
    const host = fake.host;
    fake.stop();
    const error = await failure(client().resolve(parseReference(`${host}/app:1`), AMD64));
    expect(error.code).toBe("unavailable");
    expect(error.message).toContain(`cannot reach ${host}`);
  });
});
