// The interception CA on disk: created once under MSB_HOME/tls with a 0600 key, reused after,
// one winner when several processes create it at once, a key left without its certificate (a
// process that died mid-way) certified rather than replaced, and the user's own CA pair.
import { afterEach, describe, expect, test } from "bun:test";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MsbError } from "../../src/errors.ts";
import { createCaPem } from "../../src/network/tls/ca.ts";
import { loadOrCreateCa } from "../../src/network/tls/ca-store.ts";

const STORE_MODULE = resolve(import.meta.dir, "../../src/network/tls/ca-store.ts");
const homes: string[] = [];

function freshHome(): string {
  const home = mkdtempSync(join(tmpdir(), "msb-ca-"));
  homes.push(home);
  return home;
}

afterEach(() => {
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
});

describe("loadOrCreateCa", () => {
  test("creates ca.crt and a 0600 ca.key on first use, then returns the same pair", async () => {
    const home = freshHome();
    const first = await loadOrCreateCa(home);
    expect(statSync(join(home, "tls", "ca.key")).mode & 0o777).toBe(0o600);
    expect(new X509Certificate(first.certPem).ca).toBe(true);
    expect(await loadOrCreateCa(home)).toEqual(first);
    expect(readdirSync(join(home, "tls")).sort()).toEqual(["ca.crt", "ca.key"]);
  });

  test("four processes starting at once agree on one CA and leave no temporary files", async () => {
    const home = freshHome();
    const script = `
      import { loadOrCreateCa } from ${JSON.stringify(STORE_MODULE)};
      const pem = await loadOrCreateCa(${JSON.stringify(home)});
      console.log(new Bun.CryptoHasher("sha256").update(pem.certPem + pem.keyPem).digest("hex"));
    `;
    const children = Array.from({ length: 4 }, () =>
      Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit" }),
    );
    const outputs = await Promise.all(children.map((child) => new Response(child.stdout).text()));
    const hashes = new Set(outputs.map((output) => output.trim()));
    expect(hashes.size).toBe(1);
    expect([...hashes][0]).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(join(home, "tls")).sort()).toEqual(["ca.crt", "ca.key"]);
  });

  test("a key left without a certificate is certified, not replaced", async () => {
    const home = freshHome();
    const orphan = createCaPem();
    mkdirSync(join(home, "tls"));
    writeFileSync(join(home, "tls", "ca.key"), orphan.keyPem, { mode: 0o600 });
    const pem = await loadOrCreateCa(home);
    expect(pem.keyPem).toBe(orphan.keyPem);
    expect(new X509Certificate(pem.certPem).checkPrivateKey(createPrivateKey(pem.keyPem))).toBe(true);
  }, 15_000);

  test("the user's CA pair is used as given and not copied", async () => {
    const home = freshHome();
    const user = createCaPem();
    writeFileSync(join(home, "my.crt"), user.certPem);
    writeFileSync(join(home, "my.key"), user.keyPem);
    const pem = await loadOrCreateCa(home, { certPath: join(home, "my.crt"), keyPath: join(home, "my.key") });
    expect(pem).toEqual(user);
    expect(readdirSync(home).sort()).toEqual(["my.crt", "my.key"]);
  });

  test("a missing user CA file is a notFound MsbError naming it", async () => {
    const home = freshHome();
    const error = await loadOrCreateCa(home, {
      certPath: join(home, "none.crt"),
      keyPath: join(home, "none.key"),
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MsbError);
    expect((error as MsbError).code).toBe("notFound");
    expect((error as MsbError).message).toContain("none.crt");
  });

  test("a user key that does not belong to the certificate is refused", async () => {
    const home = freshHome();
    writeFileSync(join(home, "my.crt"), createCaPem().certPem);
    writeFileSync(join(home, "my.key"), createCaPem().keyPem);
    const attempt = loadOrCreateCa(home, { certPath: join(home, "my.crt"), keyPath: join(home, "my.key") });
    await expect(attempt).rejects.toThrow("does not match");
  });
});
