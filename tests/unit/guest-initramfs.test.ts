// The guest's initramfs pieces: the newc cpio writer (unpacked by busybox cpio, the same format
// the kernel reads), module dependencies from .modinfo and their load order, the static-ELF
// check for busybox, and /init's hand-over to the agent.
import { describe, expect, test } from "bun:test";
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeCpio } from "../../src/guest/cpio.ts";
import { BOOT_DISK_SERIAL, initScript } from "../../src/guest/init-script.ts";
import { isStaticElf } from "../../src/guest/initramfs.ts";
import { loadOrder, moduleDependsOf } from "../../src/guest/module-deps.ts";

const BUSYBOX = "/bin/busybox";
const haveBusybox = Bun.file(BUSYBOX).size > 0;

describe("writeCpio", () => {
  test("header fields and 4-byte alignment of a one-file archive", () => {
    const archive = writeCpio([
      { kind: "file", path: "/init", mode: 0o755, data: new TextEncoder().encode("hi") },
    ]);
    const text = new TextDecoder().decode(archive);
    expect(text.startsWith("070701")).toBe(true);
    // mode (2nd field) is S_IFREG|0755, filesize (7th) is 2, namesize (12th) counts the NUL.
    const field = (index: number) => Number.parseInt(text.slice(6 + index * 8, 14 + index * 8), 16);
    expect(field(1)).toBe(0o100755);
    expect(field(6)).toBe(2);
    expect(field(11)).toBe("init".length + 1);
    expect(archive.length % 4).toBe(0);
    expect(text).toContain("TRAILER!!!");
  });

  test.skipIf(!haveBusybox)("busybox cpio unpacks directories, files and symlinks as written", () => {
    const dir = mkdtempSync(join(tmpdir(), "msb-cpio-"));
    try {
      const archive = writeCpio([
        { kind: "dir", path: "bin", mode: 0o755 },
        { kind: "file", path: "bin/tool", mode: 0o750, data: new Uint8Array([1, 2, 3]) },
        { kind: "file", path: "odd", mode: 0o644, data: new TextEncoder().encode("12345") },
        { kind: "symlink", path: "bin/sh", target: "tool" },
        { kind: "dir", path: "empty/deeper", mode: 0o700 },
      ]);
      const result = Bun.spawnSync([BUSYBOX, "cpio", "-i", "-d"], {
        cwd: dir,
        stdin: archive,
        stderr: "pipe",
      });
      expect(result.exitCode).toBe(0);
      expect([...readFileSync(join(dir, "bin/tool"))]).toEqual([1, 2, 3]);
      expect(lstatSync(join(dir, "bin/tool")).mode & 0o7777).toBe(0o750);
      expect(readFileSync(join(dir, "odd"), "utf8")).toBe("12345");
      expect(readlinkSync(join(dir, "bin/sh"))).toBe("tool");
      expect(lstatSync(join(dir, "empty/deeper")).isDirectory()).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("moduleDependsOf", () => {
  const modinfo = (text: string) =>
    new TextEncoder().encode(`\u007fELF junk\0license=GPL\0${text}\0vermagic=6.1\0`);
  test.each([
    ["several", "depends=jbd2,mbcache,crc16", ["jbd2", "mbcache", "crc16"]],
    ["none", "depends=", []],
    ["dashes normalized", "depends=crc32c-generic", ["crc32c_generic"]],
    ["no depends entry", "name=overlay", []],
  ])("%s", (_, text, expected) => {
    expect(moduleDependsOf(modinfo(text))).toEqual(expected);
  });
});

describe("loadOrder", () => {
  const deps: Record<string, string[]> = {
    virtio_net: ["virtio_ring", "virtio", "net_failover"],
    virtio: ["virtio_ring"],
    virtio_ring: [],
    net_failover: ["failover"],
    failover: [],
    erofs: ["libcrc32c"],
    libcrc32c: [],
    crc32c_generic: [],
  };
  const lookup = (name: string) => deps[name] ?? null;
  test.each<[string, string[], string[]]>([
    [
      "dependencies first",
      ["virtio_net"],
      ["virtio_ring", "virtio", "failover", "net_failover", "virtio_net"],
    ],
    ["each module once", ["virtio", "virtio_ring", "virtio"], ["virtio_ring", "virtio"]],
    [
      "the wanted order beyond dependencies",
      ["crc32c_generic", "erofs"],
      ["crc32c_generic", "libcrc32c", "erofs"],
    ],
    ["built-in or absent modules are skipped", ["overlay", "erofs"], ["libcrc32c", "erofs"]],
    ["dash and underscore are one name", ["crc32c-generic"], ["crc32c_generic"]],
  ])("%s", (_, wanted, expected) => {
    expect(loadOrder(wanted, lookup)).toEqual(expected);
  });

  test("a cycle is an error naming it", () => {
    const cyclic = (name: string) => ({ a: ["b"], b: ["a"] })[name] ?? null;
    expect(() => loadOrder(["a"], cyclic)).toThrow("module dependency cycle: a -> b -> a");
  });
});

describe("isStaticElf", () => {
  test.skipIf(!haveBusybox)("the host's static busybox", () => {
    expect(isStaticElf(readFileSync(BUSYBOX))).toBe(true);
  });
  test("a dynamically linked program (has PT_INTERP)", () => {
    expect(isStaticElf(readFileSync("/bin/ls"))).toBe(false);
  });
  test("not an ELF file", () => {
    expect(isStaticElf(new TextEncoder().encode("#!/bin/sh\necho hi\n".padEnd(80)))).toBe(false);
  });
});

describe("initScript", () => {
  const script = initScript(["virtio_ring", "virtio", "virtio_blk"]);
  test("loads the modules in the given order", () => {
    expect(script).toContain("for m in virtio_ring virtio virtio_blk; do");
  });
  test("finds the boot disk by serial and hands over to the agent on it", () => {
    expect(script).toContain(`= ${BOOT_DISK_SERIAL} ]`);
    expect(script).toContain("exec switch_root /newroot /msb agent --vm");
  });
  test.skipIf(!haveBusybox)("is valid busybox shell", () => {
    const check = Bun.spawnSync([BUSYBOX, "sh", "-n", "-c", script], { stderr: "pipe" });
    expect(check.stderr.toString()).toBe("");
    expect(check.exitCode).toBe(0);
  });
});
