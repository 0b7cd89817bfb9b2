// The DER writer and the X.509 certificates built on it: the interception CA, leaves per name
// (SAN kinds, validity, constraints) checked with the openssl CLI, a user's RSA CA, the leaf cache.
import { afterAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MsbError } from "../../src/errors.ts";
import { createCaPem, loadCertificateAuthority } from "../../src/network/tls/ca.ts";
import { integer, oid, readChildren, readElement, time, tlv } from "../../src/network/tls/der.ts";
import { LeafContexts, mintLeaf } from "../../src/network/tls/leaf-certificates.ts";
import { toPem } from "../../src/network/tls/x509.ts";
import { announceSkip, requireTool } from "../helpers/skip.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const DAY_MS = 86_400_000;
const NOW = new Date("2026-06-15T12:00:00Z");

describe("DER", () => {
  test.each([
    [0, "020100"],
    [127, "02017f"],
    [128, "02020080"],
    [256, "02020100"],
    [65_535, "020300ffff"],
  ])("INTEGER %p", (value, expected) => {
    expect(hex(integer(value))).toBe(expected);
  });

  test("INTEGER from bytes drops leading zeros and keeps it positive", () => {
    expect(hex(integer(Uint8Array.of(0, 0, 0x81)))).toBe("02020081");
    expect(hex(integer(Uint8Array.of(0x40, 1)))).toBe("02024001");
  });

  test.each([
    ["1.2.840.10045.4.3.2", "06082a8648ce3d040302"],
    ["2.5.29.17", "0603551d11"],
    ["1.3.6.1.5.5.7.3.1", "06082b06010505070301"],
  ])("OID %s", (dotted, expected) => {
    expect(hex(oid(dotted))).toBe(expected);
  });

  test.each([
    [0, "0400"],
    [127, `047f${"00".repeat(127)}`],
    [128, `048180${"00".repeat(128)}`],
    [256, `04820100${"00".repeat(256)}`],
  ])("length form for %p content bytes", (length, expected) => {
    expect(hex(tlv(0x04, new Uint8Array(length)))).toBe(expected);
  });

  test("UTCTime before 2050, GeneralizedTime from 2050", () => {
    expect(Buffer.from(time(new Date("2036-01-02T03:04:05Z"))).toString("latin1")).toBe(
      "\x17\x0d360102030405Z",
    );
    expect(Buffer.from(time(new Date("2050-01-02T03:04:05Z"))).toString("latin1")).toBe(
      "\x18\x0f20500102030405Z",
    );
  });

  test("reader walks what the writer wrote and refuses truncation", () => {
    const der = tlv(0x30, new Uint8Array([...integer(5), ...oid("2.5.29.17")]));
    const children = readChildren(readElement(der).contents);
    expect(children.map((child) => child.tag)).toEqual([0x02, 0x06]);
    expect(() => readElement(der.subarray(0, der.length - 1))).toThrow("truncated");
  });
});

const opensslSkip = announceSkip("x509 with openssl", requireTool("openssl", "apt-get install openssl"));

describe.skipIf(opensslSkip !== undefined)("certificates checked with openssl", () => {
  const dir = mkdtempSync(join(tmpdir(), "msb-x509-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const caPem = createCaPem(NOW);
  const ca = loadCertificateAuthority(caPem, "test");
  const caPath = join(dir, "ca.pem");
  writeFileSync(caPath, caPem.certPem);
  const leafKey = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey;

  function openssl(...args: string[]): { exitCode: number; out: string } {
    const child = Bun.spawnSync(["openssl", ...args], { stdout: "pipe", stderr: "pipe" });
    return { exitCode: child.exitCode, out: child.stdout.toString() + child.stderr.toString() };
  }

  function writeLeaf(name: string, der: Uint8Array): string {
    const path = join(dir, `${name.replace(/[^a-z0-9]/g, "_")}.pem`);
    writeFileSync(path, toPem(der));
    return path;
  }

  test("the CA is self-signed, CA:TRUE pathlen 0, keyCertSign, P-256, ten years from yesterday", () => {
    const text = openssl("x509", "-in", caPath, "-noout", "-text").out;
    expect(text).toContain("CA:TRUE, pathlen:0");
    expect(text).toMatch(/Basic Constraints: critical/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    expect(text).toContain("NIST CURVE: P-256");
    expect(text).toContain("Signature Algorithm: ecdsa-with-SHA256");
    expect(openssl("verify", "-CAfile", caPath, caPath).exitCode).toBe(0);
    const certificate = new X509Certificate(caPem.certPem);
    expect(new Date(certificate.validFrom).getTime()).toBe(NOW.getTime() - DAY_MS);
    expect(new Date(certificate.validTo).toISOString()).toBe("2036-06-15T12:00:00.000Z");
  });

  test.each([
    {
      name: "api.example.com",
      san: "DNS:api.example.com",
      subject: "subject=CN = api.example.com",
      check: "-verify_hostname",
    },
    { name: "10.1.2.3", san: "IP Address:10.1.2.3", subject: "subject=CN = 10.1.2.3", check: "-verify_ip" },
    {
      name: "2001:db8::1",
      san: "IP Address:2001:DB8:0:0:0:0:0:1",
      subject: "subject=CN = 2001:db8::1",
      check: "-verify_ip",
    },
    {
      name: `${"a".repeat(60)}.example.com`,
      san: `DNS:${"a".repeat(60)}.example.com`,
      subject: "subject=",
      check: "-verify_hostname",
    },
  ])("a leaf for $name: SAN $san, verifies against the CA for that name", ({ name, san, subject, check }) => {
    const path = writeLeaf(name, mintLeaf(ca, leafKey, name, NOW));
    const text = openssl(
      "x509",
      "-in",
      path,
      "-noout",
      "-subject",
      "-ext",
      "subjectAltName,basicConstraints,keyUsage,extendedKeyUsage",
    ).out;
    expect(text).toContain(san);
    expect(text.split("\n")[0]).toBe(subject);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature/);
    expect(text).toContain("TLS Web Server Authentication");
    // A name too long for a CommonName leaves the subject empty: the SAN must then be critical.
    if (subject === "subject=") expect(text).toContain("Subject Alternative Name: critical");
    const verify = openssl(
      "verify",
      "-attime",
      String(NOW.getTime() / 1000),
      "-CAfile",
      caPath,
      "-purpose",
      "sslserver",
      check,
      name,
      path,
    );
    expect(verify.out).toContain(": OK");
    const wrongName =
      name.includes(":") || /^\d/.test(name)
        ? ["-verify_ip", "10.9.9.9"]
        : ["-verify_hostname", "other.example.com"];
    expect(
      openssl("verify", "-attime", String(NOW.getTime() / 1000), "-CAfile", caPath, ...wrongName, path)
        .exitCode,
    ).not.toBe(0);
  });

  test("a leaf is valid from a day before now to three days after, with a random serial", () => {
    const first = new X509Certificate(toPem(mintLeaf(ca, leafKey, "a.test", NOW)));
    const second = new X509Certificate(toPem(mintLeaf(ca, leafKey, "a.test", NOW)));
    expect(new Date(first.validFrom).getTime()).toBe(NOW.getTime() - DAY_MS);
    expect(new Date(first.validTo).getTime()).toBe(NOW.getTime() + 3 * DAY_MS);
    expect(first.serialNumber).not.toBe(second.serialNumber);
    expect(first.serialNumber).toHaveLength(32);
    const expired = openssl(
      "verify",
      "-attime",
      String((NOW.getTime() + 4 * DAY_MS) / 1000),
      "-CAfile",
      caPath,
      writeLeaf("a.test", first.raw),
    );
    expect(expired.out).toContain("certificate has expired");
  });

  test("a user's RSA CA made by openssl signs leaves that chain to it, its key id in the AKI", () => {
    const keyPath = join(dir, "user.key");
    const certPath = join(dir, "user.crt");
    const made = openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "30",
      "-subj",
      "/O=Example Corp/CN=Example Root",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign",
    );
    expect(made.exitCode).toBe(0);
    const userCa = loadCertificateAuthority(
      { certPem: readFileSync(certPath, "utf8"), keyPem: readFileSync(keyPath, "utf8") },
      certPath,
    );
    const leafPath = writeLeaf("user-leaf", mintLeaf(userCa, leafKey, "svc.test", new Date()));
    expect(openssl("verify", "-CAfile", certPath, "-verify_hostname", "svc.test", leafPath).out).toContain(
      ": OK",
    );
    const ski = openssl("x509", "-in", certPath, "-noout", "-ext", "subjectKeyIdentifier")
      .out.split("\n")[1]!
      .trim();
    const leafText = openssl(
      "x509",
      "-in",
      leafPath,
      "-noout",
      "-issuer",
      "-ext",
      "authorityKeyIdentifier",
    ).out;
    expect(leafText).toContain("issuer=O = Example Corp, CN = Example Root");
    expect(leafText).toContain(ski);
    expect(openssl("x509", "-in", leafPath, "-noout", "-text").out).toContain("sha256WithRSAEncryption");
  });
});

describe("CA checks", () => {
  const caPem = createCaPem(NOW);
  const ca = loadCertificateAuthority(caPem, "test");

  test("a leaf certificate is not accepted as a CA", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const leaf = toPem(mintLeaf(ca, publicKey, "x.test", NOW));
    const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    expect(() => loadCertificateAuthority({ certPem: leaf, keyPem }, "leaf.pem")).toThrow(
      "the TLS interception CA (leaf.pem) is not a CA certificate",
    );
  });

  test("a key that does not match is refused, as an MsbError naming the file", () => {
    const other = createCaPem(NOW);
    let error: unknown;
    try {
      loadCertificateAuthority({ certPem: caPem.certPem, keyPem: other.keyPem }, "/etc/my-ca.crt");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(MsbError);
    expect((error as MsbError).message).toContain("/etc/my-ca.crt");
    expect((error as MsbError).code).toBe("usage");
  });

  test("garbage PEM is an MsbError with a hint", () => {
    expect(() => loadCertificateAuthority({ certPem: "nope", keyPem: "nope" }, "x.pem")).toThrow(MsbError);
  });
});

describe("leaf contexts", () => {
  const ca = loadCertificateAuthority(createCaPem(NOW), "test");

  test("cached per name with an LRU bound", () => {
    const leaves = new LeafContexts(ca, { maxEntries: 2, now: () => NOW });
    const a = leaves.contextFor("a.test");
    const b = leaves.contextFor("b.test");
    expect(leaves.contextFor("a.test")).toBe(a);
    leaves.contextFor("c.test");
    expect(leaves.size).toBe(2);
    expect(leaves.contextFor("a.test")).toBe(a);
    expect(leaves.contextFor("b.test")).not.toBe(b);
  });

  test("re-minted once a day old, well before it expires", () => {
    let now = NOW;
    const leaves = new LeafContexts(ca, { now: () => now });
    const first = leaves.contextFor("a.test");
    now = new Date(NOW.getTime() + DAY_MS - 1);
    expect(leaves.contextFor("a.test")).toBe(first);
    now = new Date(NOW.getTime() + DAY_MS);
    expect(leaves.contextFor("a.test")).not.toBe(first);
  });
});
