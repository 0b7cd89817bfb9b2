// The agent's CA install: the marked block in a distro bundle (added once, replaced when the CA
// changes) and the exec environment that points runtimes at it; a -e value wins.
import { describe, expect, test } from "bun:test";
import { caEnvironment, GUEST_CA_FILE, withCaBlock } from "../../src/agent/ca-install.ts";
import { sessionEnv } from "../../src/agent/exec-env.ts";
import { checkBootConfig } from "../../src/agent/read-boot-config.ts";

const CA1 = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
const CA2 = "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n";
const SYSTEM = "-----BEGIN CERTIFICATE-----\nSYS\n-----END CERTIFICATE-----";

describe("withCaBlock", () => {
  test("appends once, replaces on a new CA, keeps the system roots", () => {
    const once = withCaBlock(SYSTEM, CA1);
    expect(once.startsWith(`${SYSTEM}\n# BEGIN msb`)).toBe(true);
    expect(withCaBlock(once, CA1)).toBe(once);
    const replaced = withCaBlock(once, CA2);
    expect(replaced).toContain("BBBB");
    expect(replaced).not.toContain("AAAA");
    expect(replaced.split("# BEGIN msb").length).toBe(2);
    expect(replaced.startsWith(SYSTEM)).toBe(true);
  });

  test("an empty bundle gets the block alone", () => {
    expect(withCaBlock("", CA1)).toBe(
      `# BEGIN msb TLS interception CA\n${CA1}# END msb TLS interception CA\n`,
    );
  });
});

describe("caEnvironment", () => {
  test("full-bundle variables name the bundle; NODE_EXTRA_CA_CERTS the CA alone", () => {
    expect(caEnvironment("/etc/ssl/certs/ca-certificates.crt")).toEqual([
      "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
      "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
      "CURL_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
      `NODE_EXTRA_CA_CERTS=${GUEST_CA_FILE}`,
    ]);
    expect(caEnvironment(null)[0]).toBe(`SSL_CERT_FILE=${GUEST_CA_FILE}`);
  });

  test("a sandbox -e and an exec -e override them", () => {
    const user = { uid: 0, gid: 0, name: "root", home: "/root" };
    const base = [...caEnvironment(null), "SSL_CERT_FILE=/mine.pem"];
    const env = sessionEnv({ baseEnv: base, requestEnv: ["CURL_CA_BUNDLE=/exec.pem"], user, tty: false });
    expect(env.SSL_CERT_FILE).toBe("/mine.pem");
    expect(env.CURL_CA_BUNDLE).toBe("/exec.pem");
    expect(env.NODE_EXTRA_CA_CERTS).toBe(GUEST_CA_FILE);
  });
});

describe("boot config", () => {
  const valid = {
    version: 1,
    backend: "namespace",
    hostname: "h",
    lowerDisk: "/l",
    upperDisk: "/u",
    runtimeDir: "/r",
    agentSocket: "/r/agent.sock",
    env: [],
    workdir: null,
    user: null,
    mounts: [],
    shutdownGraceMs: 1000,
  };

  test("caCertPem is optional and must be a PEM certificate", () => {
    expect(checkBootConfig(valid, "t").caCertPem).toBeUndefined();
    expect(checkBootConfig({ ...valid, caCertPem: CA1 }, "t").caCertPem).toBe(CA1);
    expect(() => checkBootConfig({ ...valid, caCertPem: "nope" }, "t")).toThrow(/caCertPem must be a PEM/);
  });
});
