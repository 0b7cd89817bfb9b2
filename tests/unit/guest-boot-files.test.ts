// The guest's boot files and kernel: the libraries named by ldd, the collected set for a real
// dynamically linked program, the boot disk written by msb's EROFS writer (checked and unpacked
// by fsck.erofs), and how a kernel with its modules is found under a root.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeBootDisk } from "../../src/guest/boot-disk.ts";
import { collectBootFiles, parseLddOutput } from "../../src/guest/boot-files.ts";
import { guestModules } from "../../src/guest/initramfs.ts";
import { compareVersions, findGuestKernel, kernelsUnder } from "../../src/guest/kernel.ts";
import { GUEST_MODULES } from "../../src/guest/module-deps.ts";
import { FSCK_MISSING, haveFsck, runFsck, tempDir } from "../helpers/tar-fixtures.ts";

const LDD = `	linux-vdso.so.1 (0x00007ffd4b5f2000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007fa98b24f000)
	/lib64/ld-linux-x86-64.so.2 (0x00007fa98b445000)
	libpthread.so.0 => /lib/x86_64-linux-gnu/libpthread.so.0 (0x00007fa98b24a000)
	libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007fa98b165000)
`;

describe("parseLddOutput", () => {
  test.each<[string, string, string[]]>([
    [
      "libraries and the interpreter, no vDSO",
      LDD,
      [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
        "/lib/x86_64-linux-gnu/libpthread.so.0",
        "/lib/x86_64-linux-gnu/libm.so.6",
      ],
    ],
    ["a static program", "\tnot a dynamic executable\n", []],
    ["a missing library has no path", "\tlibfoo.so.1 => not found\n", []],
    ["duplicates once", `${LDD}${LDD}`, parseLddOutput(LDD)],
  ])("%s", (_, text, expected) => {
    expect(parseLddOutput(text)).toEqual(expected);
  });
});

describe("collectBootFiles", () => {
  test("the program at /msb and each library at the path the loader resolves", () => {
    const files = collectBootFiles("/bin/ls");
    expect(files[0]).toEqual({ guestPath: "/msb", hostPath: "/usr/bin/ls", mode: 0o755 });
    const guestPaths = files.map((file) => file.guestPath);
    expect(guestPaths.some((path) => /\/libc\.so\.6$/.test(path))).toBe(true);
    expect(guestPaths.some((path) => /ld-linux/.test(path))).toBe(true);
    for (const file of files) expect(statSync(file.hostPath).isFile()).toBe(true);
  });
});

describe.skipIf(!haveFsck())("writeBootDisk", () => {
  if (!haveFsck()) console.warn(FSCK_MISSING);
  const dir = tempDir("bootdisk");
  afterAll(() => dir.cleanup());

  test("holds the files at their guest paths and the empty mount points", () => {
    const agent = join(dir.path, "agent");
    const lib = join(dir.path, "libfake.so.1");
    writeFileSync(agent, "agent bytes".repeat(1000));
    writeFileSync(lib, new Uint8Array(513).fill(7));
    const long = `/lib/${"d".repeat(90)}/${"e".repeat(40)}/libfake.so.1`;
    const image = join(dir.path, "boot.erofs");
    return writeBootDisk(
      [
        { guestPath: "/msb", hostPath: agent, mode: 0o755 },
        { guestPath: long, hostPath: lib, mode: 0o644 },
      ],
      image,
    ).then(() => {
      runFsck(image);
      const out = join(dir.path, "out");
      mkdirSync(out);
      runFsck(image, [`--extract=${out}`]);
      expect(readFileSync(join(out, "msb"), "utf8")).toBe("agent bytes".repeat(1000));
      expect(statSync(join(out, "msb")).mode & 0o777).toBe(0o755);
      expect([...readFileSync(join(out, long))]).toEqual([...new Uint8Array(513).fill(7)]);
      for (const mountPoint of ["proc", "sys", "dev", "run", "tmp"]) {
        expect(statSync(join(out, mountPoint)).isDirectory()).toBe(true);
      }
    });
  });
});

describe("kernelsUnder", () => {
  const dir = tempDir("kernels");
  afterAll(() => dir.cleanup());
  const add = (version: string, withModules: boolean) => {
    mkdirSync(join(dir.path, "boot"), { recursive: true });
    writeFileSync(join(dir.path, "boot", `vmlinuz-${version}`), "kernel");
    if (withModules) mkdirSync(join(dir.path, "lib/modules", version, "kernel"), { recursive: true });
  };

  test("only kernels with a modules tree, newest first", () => {
    add("6.1.0-9-amd64", true);
    add("6.1.0-41-amd64", true);
    add("6.12.3-amd64", false);
    writeFileSync(join(dir.path, "boot", "config-6.1.0-41-amd64"), "");
    expect(kernelsUnder(dir.path).map((kernel) => kernel.version)).toEqual([
      "6.1.0-41-amd64",
      "6.1.0-9-amd64",
    ]);
    expect(kernelsUnder(dir.path)[0]).toEqual({
      version: "6.1.0-41-amd64",
      vmlinuz: join(dir.path, "boot/vmlinuz-6.1.0-41-amd64"),
      modulesDir: join(dir.path, "lib/modules/6.1.0-41-amd64"),
    });
  });

  test("a root without /boot has none", () => {
    expect(kernelsUnder(join(dir.path, "nowhere"))).toEqual([]);
  });
});

describe("compareVersions", () => {
  test.each([
    ["6.1.0-41-amd64", "6.1.0-9-amd64", 1],
    ["6.12.1", "6.2.9", 1],
    ["6.1.0", "6.1.0", 0],
    ["5.10.0-30-amd64", "6.1.0-1-amd64", -1],
  ])("%s vs %s", (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign);
  });
});

describe("findGuestKernel", () => {
  const dir = tempDir("find-kernel");
  afterAll(() => dir.cleanup());
  const keep = (kernel: Parameters<typeof guestModules>[0]) => new Set(guestModules(kernel).order);
  /** A root with one kernel; `modules` are written as `<name><suffix>` with an empty depends list. */
  const kernelRoot = (name: string, version: string, modules: string[], builtin: string[] = []) => {
    const root = join(dir.path, name);
    const modulesDir = join(root, "lib/modules", version);
    mkdirSync(join(modulesDir, "kernel/drivers"), { recursive: true });
    mkdirSync(join(root, "boot"), { recursive: true });
    writeFileSync(join(root, "boot", `vmlinuz-${version}`), "kernel");
    for (const module of modules) writeFileSync(join(modulesDir, "kernel/drivers", module), "\0depends=\0");
    writeFileSync(
      join(modulesDir, "modules.builtin"),
      builtin.map((m) => `kernel/drivers/${m}.ko\n`).join(""),
    );
    return root;
  };
  // msb's unpacked copy, as a previous run left it.
  const lib = join(dir.path, "lib");
  kernelRoot("lib/kernel", "6.1.0-9-amd64", ["virtio_mmio.ko", "virtio_blk.ko"]);
  writeFileSync(join(lib, "kernel/msb-modules"), GUEST_MODULES.join(","));

  test.each<[string, string[], string[], string]>([
    ["the host's kernel with loadable modules", ["virtio_mmio.ko", "virtio_blk.ko"], [], "host"],
    ["the host's kernel with the drivers built in", [], ["virtio_mmio", "virtio_blk"], "host"],
    ["not a host kernel whose modules are compressed", ["virtio_mmio.ko.xz", "virtio_blk.ko.xz"], [], "copy"],
  ])("%s", (name, modules, builtin, expected) => {
    const host = kernelRoot(`host-${name.length}`, "6.12.0-1-amd64", modules, builtin);
    const found = findGuestKernel(lib, keep, host);
    expect(found.vmlinuz).toBe(
      expected === "host"
        ? join(host, "boot/vmlinuz-6.12.0-1-amd64")
        : join(lib, "kernel/boot/vmlinuz-6.1.0-9-amd64"),
    );
  });
});
