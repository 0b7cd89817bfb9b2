// --secret and the TLS interception flags: what reaches the spec (names, hosts, placeholders,
// paths) and what never does (values), the values a start hands over, and every refusal.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sandboxArgs, sandboxOptionsInput } from "../../src/commands/_sandbox-args.ts";
import { UsageError } from "../../src/errors.ts";
import {
  buildSandboxSpec,
  type SandboxOptionsContext,
  type SandboxOptionsInput,
  validateSandboxOptions,
} from "../../src/sandbox/options.ts";
import { parseSecret, secretValuesForStart } from "../../src/sandbox/parse-secret.ts";
import { parseTlsFlags } from "../../src/sandbox/parse-tls.ts";
import type { SecretSpec } from "../../src/sandbox/spec.ts";

let root: string;
let context: SandboxOptionsContext;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "msb-secret-opts-"));
  writeFileSync(join(root, "ca.pem"), "cert");
  writeFileSync(join(root, "ca.key"), "key");
  context = { cwd: root, home: root, env: { FROM_ENV: "env-value-1" }, hostCpus: 4 };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const image = {
  reference: "docker.io/library/alpine:3.20",
  manifestDigest: "sha256:abc",
  config: {
    entrypoint: null,
    cmd: null,
    env: ["PATH=/bin"],
    workingDir: null,
    user: null,
    exposedPorts: [],
    volumes: [],
    labels: {},
  },
};

const build = (input: SandboxOptionsInput) => buildSandboxSpec(input, image, context);

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("parseSecret", () => {
  test.each([
    [
      "KEY=v@api.example.com",
      { name: "KEY", hosts: ["api.example.com"], body: false, source: "literal", value: "v" },
    ],
    [
      "KEY=a@b=c@API.example.com,*.Example.org:body",
      {
        name: "KEY",
        hosts: ["api.example.com", "*.example.org"],
        body: true,
        source: "literal",
        value: "a@b=c",
      },
    ],
    [
      "FROM_ENV@h.example",
      { name: "FROM_ENV", hosts: ["h.example"], body: false, source: "env", value: "env-value-1" },
    ],
  ])("%s", (text, expected) => {
    expect(parseSecret(text, context.env)).toEqual(expected as ReturnType<typeof parseSecret>);
  });

  test.each([
    ["KEY=v", /names no host/],
    ["KEY=v@", /invalid host ""/],
    ["KEY=v@not a host", /invalid host/],
    ["KEY=v@10.0.0", /invalid host/],
    ["1KEY=v@h.example", /invalid secret name "1KEY"/],
    ["KEY=@h.example", /the value is empty/],
    ["MISSING@h.example", /reads \$MISSING from your environment, but it is not set/],
  ])("%s is refused", (text, message) => {
    expect(() => parseSecret(text, context.env)).toThrow(message);
  });

  test("a refusal never repeats the value", () => {
    const error = thrown(() => parseSecret("KEY=supersecret@bad host", context.env));
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toContain("KEY=***@bad host");
    expect((error as UsageError).message).not.toContain("supersecret");
  });

  test("a value with a line break is refused", () => {
    expect(() => parseSecret("KEY=a\r\nX-Evil: 1@h.example", context.env)).toThrow(/line break/);
  });
});

describe("secrets in the spec", () => {
  test("the spec holds a placeholder in env and in network.secrets, never the value", () => {
    const spec = build({ secret: ["KEY=topsecret-1@api.example.com:body", "FROM_ENV@*.example.org"] });
    const stored = JSON.stringify(spec);
    expect(stored).not.toContain("topsecret-1");
    expect(stored).not.toContain("env-value-1");
    const secrets = spec.network?.secrets ?? [];
    expect(secrets.map(({ name, hosts, body, source }) => ({ name, hosts, body, source }))).toEqual([
      { name: "KEY", hosts: ["api.example.com"], body: true, source: "literal" },
      { name: "FROM_ENV", hosts: ["*.example.org"], body: false, source: "env" },
    ]);
    for (const secret of secrets) {
      expect(secret.placeholder).toMatch(new RegExp(`^msb_ph_${secret.name}_[0-9a-f]{32}$`));
      expect(spec.env).toContain(`${secret.name}=${secret.placeholder}`);
    }
    expect(spec.network?.secretViolation).toBe("block-and-log");
    expect(spec.network?.tls).toEqual({
      ports: [443],
      bypass: [],
      blockQuic: true,
      caCert: null,
      caKey: null,
      upstreamCaCerts: [],
    });
  });

  test("placeholders differ between sandboxes", () => {
    const one = build({ secret: ["KEY=v@h.example"] }).network?.secrets?.[0]?.placeholder;
    const two = build({ secret: ["KEY=v@h.example"] }).network?.secrets?.[0]?.placeholder;
    expect(one).not.toBe(two);
  });

  test("the parsed options carry the values for the supervisor", () => {
    const options = validateSandboxOptions({ secret: ["KEY=v1@h.example"] }, context);
    expect(options.secrets.map((secret) => [secret.name, secret.value])).toEqual([["KEY", "v1"]]);
  });

  test("no secret, no interception, no secret fields", () => {
    const network = build({}).network;
    expect(network?.tls).toBeUndefined();
    expect(network?.secrets).toBeUndefined();
    expect(network?.secretViolation).toBeUndefined();
  });

  test.each([
    [{ secret: ["K=v@h.example", "K=w@h.example"] }, /two --secret options set K/],
    [{ secret: ["K=v@h.example"], env: ["K=1"] }, /-e K and --secret K both set K/],
    [{ secret: ["K=v@h.example"], noNetwork: true }, /--no-network cannot be combined with --secret/],
    [{ tlsIntercept: true, noNetwork: true }, /--no-network cannot be combined with --tls-intercept/],
    [{ secretViolation: "block" }, /--secret-violation without a --secret/],
    [{ secret: ["K=v@h.example"], secretViolation: "explode" }, /invalid --secret-violation "explode"/],
    [{ tlsBypass: ["x.example"] }, /--tls-bypass needs TLS interception/],
  ] as [SandboxOptionsInput, RegExp][])("%p is refused", (input, message) => {
    expect(() => build(input)).toThrow(message);
  });
});

describe("parseTlsFlags", () => {
  test("every flag", () => {
    expect(
      parseTlsFlags(
        {
          tlsIntercept: true,
          tlsInterceptPort: ["443", "8443", "443"],
          tlsBypass: ["Pinned.Example", "*.bank.example"],
          noBlockQuic: true,
          tlsInterceptCaCert: "ca.pem",
          tlsInterceptCaKey: join(root, "ca.key"),
          tlsUpstreamCaCert: ["ca.pem"],
        },
        false,
        root,
      ),
    ).toEqual({
      ports: [443, 8443],
      bypass: ["pinned.example", "*.bank.example"],
      blockQuic: false,
      caCert: join(root, "ca.pem"),
      caKey: join(root, "ca.key"),
      upstreamCaCerts: [join(root, "ca.pem")],
    });
  });

  test("off unless asked for or implied", () => {
    expect(parseTlsFlags({}, false, root)).toBeNull();
    expect(parseTlsFlags({}, true, root)?.ports).toEqual([443]);
  });

  test.each([
    [{ tlsIntercept: true, tlsInterceptPort: ["0"] }, /invalid --tls-intercept-port "0"/],
    [{ tlsIntercept: true, tlsBypass: ["not a domain"] }, /invalid --tls-bypass/],
    [{ tlsIntercept: true, tlsInterceptCaCert: "ca.pem" }, /go together/],
    [
      { tlsIntercept: true, tlsInterceptCaCert: "nope.pem", tlsInterceptCaKey: "ca.key" },
      /nope.pem: no such file/,
    ],
    [{ tlsIntercept: true, tlsUpstreamCaCert: ["missing.pem"] }, /missing.pem: no such file/],
  ])("%p is refused", (flags, message) => {
    expect(() => parseTlsFlags(flags, false, root)).toThrow(message);
  });
});

describe("secretValuesForStart", () => {
  const stored: SecretSpec[] = [
    { name: "LIT", hosts: ["a.example"], body: false, source: "literal", placeholder: "msb_ph_LIT_0" },
    { name: "ENVD", hosts: ["b.example"], body: false, source: "env", placeholder: "msb_ph_ENVD_0" },
  ];

  test("given values win; env-sourced ones are read again", () => {
    const values = secretValuesForStart("box", stored, ["LIT=one", "ENVD=two"], {});
    expect([...values]).toEqual([
      ["LIT", "one"],
      ["ENVD", "two"],
    ]);
    const fromEnv = secretValuesForStart("box", stored, ["LIT=one@a.example"], { ENVD: "three" });
    expect(fromEnv.get("ENVD")).toBe("three");
  });

  test.each([
    [[], { ENVD: "x" }, /secret LIT of sandbox box was given as a value and is not kept/],
    [["LIT=1"], {}, /--secret ENVD reads \$ENVD from your environment, but it is not set/],
    [["LIT=1", "OTHER=2"], { ENVD: "x" }, /sandbox box has no secret OTHER/],
    [["LIT=1@c.example"], { ENVD: "x" }, /names hosts c.example, but the sandbox has a.example/],
  ])("%p with %p is refused", (given, env, message) => {
    expect(() => secretValuesForStart("box", stored, given, env)).toThrow(message);
  });

  test("the hint names the command that fixes it", () => {
    const error = thrown(() => secretValuesForStart("box", stored, [], { ENVD: "x" }));
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).hint).toContain("msb start box --secret LIT=VALUE");
  });
});

describe("flags", () => {
  test("run/create read every secret and TLS flag", () => {
    const input = sandboxOptionsInput(sandboxArgs, [
      "--secret",
      "A=1@a.example",
      "--secret=B@b.example:body",
      "--secret-violation",
      "block",
      "--tls-intercept",
      "--tls-intercept-port",
      "8443",
      "--tls-bypass",
      "x.example",
      "--no-block-quic",
      "--tls-intercept-ca-cert",
      "c.pem",
      "--tls-intercept-ca-key",
      "k.pem",
      "--tls-upstream-ca-cert",
      "u1.pem",
      "--tls-upstream-ca-cert",
      "u2.pem",
      "alpine",
    ]);
    expect(input).toMatchObject({
      secret: ["A=1@a.example", "B@b.example:body"],
      secretViolation: "block",
      tlsIntercept: true,
      tlsInterceptPort: ["8443"],
      tlsBypass: ["x.example"],
      noBlockQuic: true,
      tlsInterceptCaCert: "c.pem",
      tlsInterceptCaKey: "k.pem",
      tlsUpstreamCaCert: ["u1.pem", "u2.pem"],
    });
    expect(sandboxOptionsInput(sandboxArgs, ["alpine"]).tlsIntercept).toBe(false);
  });
});
