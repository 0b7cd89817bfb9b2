// libkrun's boot folder: the files at their guest paths with their modes, the mount points, and
// a key that changes with the msb binary (a new build never reuses an old folder).
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootRootKey, writeBootRoot } from "../../src/vmm/boot-root.ts";

const root = mkdtempSync(join(tmpdir(), "msb-boot-root-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("boot root", () => {
  test("files land at their guest paths with their modes, beside proc, sys, dev, run and tmp", () => {
    const binary = join(root, "msb-host");
    const libc = join(root, "libc-host.so");
    writeFileSync(binary, "agent");
    writeFileSync(libc, "libc");
    const dir = join(root, "boot");
    writeBootRoot(
      [
        { guestPath: "/msb", hostPath: binary, mode: 0o755 },
        { guestPath: "/lib/x86_64-linux-gnu/libc.so.6", hostPath: libc, mode: 0o644 },
      ],
      dir,
    );
    expect(readFileSync(join(dir, "msb"), "utf8")).toBe("agent");
    expect(statSync(join(dir, "msb")).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(dir, "lib/x86_64-linux-gnu/libc.so.6"), "utf8")).toBe("libc");
    expect(statSync(join(dir, "lib/x86_64-linux-gnu/libc.so.6")).mode & 0o777).toBe(0o644);
    for (const name of ["proc", "sys", "dev", "run", "tmp"])
      expect(statSync(join(dir, name)).isDirectory()).toBe(true);
  });

  test("the key is stable for one binary and changes when it is rebuilt", () => {
    const binary = join(root, "msb-key");
    writeFileSync(binary, "build 1");
    chmodSync(binary, 0o755);
    const first = bootRootKey(binary);
    expect(first).toMatch(/^[0-9a-f]{16}$/);
    expect(bootRootKey(binary)).toBe(first);
    writeFileSync(binary, "build 2, longer");
    utimesSync(binary, new Date(), new Date(Date.now() + 5000));
    expect(bootRootKey(binary)).not.toBe(first);
  });
});
