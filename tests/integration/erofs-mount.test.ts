// Loop-mounts an image built from hand-made layers and compares everything the kernel reports
// (type, mode, owner, size, link count, device numbers, mtime with ns, contents, symlink
// targets, xattrs) against what the layers say. Needs root and erofs in /proc/filesystems.
import { describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import type { RootfsBuildResult } from "../../src/image/rootfs-build.ts";
import { announceSkip, firstSkipReason, requireLinux, requireRoot } from "../helpers/skip.ts";
import {
  buildFixtureImage,
  type FixtureEntry,
  type FixtureLayer,
  patternBytes,
  tempDir,
  zeroFileWithTail,
} from "../helpers/tar-fixtures.ts";

function requireErofs(): string | undefined {
  const filesystems = readFileSync("/proc/filesystems", "utf8");
  return /\berofs\b/.test(filesystems) ? undefined : "erofs is not in /proc/filesystems (modprobe erofs)";
}

const skipReason = announceSkip(
  "erofs loop mount",
  firstSkipReason(requireLinux(), requireRoot(), requireErofs()),
);
const slow = process.env.MSB_SLOW_TESTS === "1";
if (!skipReason && !slow) console.warn("skip: mounted >4 GiB file (set MSB_SLOW_TESTS=1 to run it)");
const xattrDumper = Bun.which("python3");
if (!skipReason && !xattrDumper) console.warn("skip: erofs loop mount xattr checks: python3 not found");

const T = 1_700_000_000;
const bytes = (text: string) => new TextEncoder().encode(text);
const capability = new Uint8Array([1, 0, 0, 2, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const acl = new Uint8Array([
  2, 0, 0, 0, 1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff, 4, 0, 5, 0, 0xff, 0xff, 0xff, 0xff, 0x20, 0, 5, 0, 0xff,
  0xff, 0xff, 0xff,
]);
const busybox = patternBytes(3_000_000, 42);
const longName = "L".repeat(255);
const deepDir = `deep/${"segment-of-a-long-path/".repeat(12)}end`;
const many: FixtureEntry[] = Array.from({ length: 3000 }, (_, i) => ({
  path: `many/file-${String(i).padStart(4, "0")}-${"m".repeat(i % 30)}`,
  data: `content ${i}\n`,
}));

const layers: FixtureLayer[] = [
  {
    entries: [
      { path: "etc", type: "dir" },
      { path: "etc/passwd", data: "root:x:0:0::/root:/bin/sh\n" },
      { path: "etc/shadow", data: "root:*:1::::::\n", mode: 0o640, gid: 42 },
      { path: "bin/busybox", data: busybox, mode: 0o755 },
      { path: "bin/sh", type: "hardlink", linkname: "bin/busybox", mode: 0o755 },
      { path: "usr/bin/sudo", data: "sudo", mode: 0o4755 },
      { path: "usr/bin/wall", data: "wall", mode: 0o2755, gid: 5 },
      { path: "tmp", type: "dir", mode: 0o1777 },
      { path: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
      { path: "dev/nvme0n1p1", type: "block", devmajor: 259, devminor: 300000, mode: 0o660 },
      { path: "run/initctl", type: "fifo", mode: 0o600 },
      { path: "home/user", type: "dir", mode: 0o700, uid: 1000, gid: 1000, pax: { mtime: `${T + 5}.25` } },
      { path: "home/user/.profile", data: "export A=1\n", uid: 1000, gid: 1000, mtime: T - 100 },
      { path: "opt/big-ids", data: "x", uid: 100000, gid: 200000 },
      { path: "data/old1", data: "old" },
      { path: "data/old2", type: "dir" },
      { path: "var/cache/junk", data: "junk" },
      { path: "var/cache/keep", data: "keep" },
      {
        path: "bin/ping",
        data: "ping",
        mode: 0o755,
        xattrs: { "security.capability": capability, "user.comment": "pings", "trusted.t": "1" },
      },
      { path: "shared", type: "dir", xattrs: { "system.posix_acl_access": acl } },
      { path: "empty", data: "" },
      ...many,
    ],
  },
  {
    entries: [
      { path: "var/cache/.wh.junk" },
      { path: "data/.wh..wh..opq" },
      { path: "data/new", data: "new" },
      { path: "usr/bin/ash", type: "hardlink", linkname: "bin/busybox", mode: 0o755 },
      { path: "etc/passwd", data: "root:x:0:0::/root:/bin/ash\n", mtime: T + 1 },
      { path: ".wh.opt" },
      { path: "link", type: "symlink", linkname: "/etc/passwd" },
      { path: "rel", type: "symlink", linkname: "../../x/./y" },
      { path: `${deepDir}/${longName}`, data: "deep" },
    ],
  },
];

interface Expected {
  type: "file" | "dir" | "symlink" | "char" | "block" | "fifo";
  mode: number;
  uid?: number;
  gid?: number;
  nlink?: number;
  rdev?: [number, number];
  mtime?: [number, number];
  content?: Uint8Array;
  target?: string;
  xattrs?: Record<string, Uint8Array>;
}

const dir = (mode = 0o755, extra: Partial<Expected> = {}): Expected => ({ type: "dir", mode, ...extra });
const file = (content: string | Uint8Array, mode = 0o644, extra: Partial<Expected> = {}): Expected => ({
  type: "file",
  mode,
  content: typeof content === "string" ? bytes(content) : content,
  ...extra,
});
const implicit = { mtime: [0, 0] as [number, number] };

const expected = new Map<string, Expected>([
  ["", dir(0o755, { ...implicit, nlink: 14 })],
  ["etc", dir()],
  ["etc/passwd", file("root:x:0:0::/root:/bin/ash\n", 0o644, { mtime: [T + 1, 0] })],
  ["etc/shadow", file("root:*:1::::::\n", 0o640, { gid: 42 })],
  ["bin", dir(0o755, implicit)],
  ["bin/busybox", file(busybox, 0o755, { nlink: 3 })],
  ["bin/sh", file(busybox, 0o755, { nlink: 3 })],
  [
    "bin/ping",
    file("ping", 0o755, {
      xattrs: { "security.capability": capability, "user.comment": bytes("pings"), "trusted.t": bytes("1") },
    }),
  ],
  ["usr", dir(0o755, implicit)],
  ["usr/bin", dir(0o755, implicit)],
  ["usr/bin/sudo", file("sudo", 0o4755)],
  ["usr/bin/wall", file("wall", 0o2755, { gid: 5 })],
  ["usr/bin/ash", file(busybox, 0o755, { nlink: 3 })],
  ["tmp", dir(0o1777)],
  ["dev", dir(0o755, implicit)],
  ["dev/null", { type: "char", mode: 0o666, rdev: [1, 3] }],
  ["dev/nvme0n1p1", { type: "block", mode: 0o660, rdev: [259, 300000] }],
  ["run", dir(0o755, implicit)],
  ["run/initctl", { type: "fifo", mode: 0o600 }],
  ["home", dir(0o755, implicit)],
  ["home/user", dir(0o700, { uid: 1000, gid: 1000, mtime: [T + 5, 250_000_000] })],
  ["home/user/.profile", file("export A=1\n", 0o644, { uid: 1000, gid: 1000, mtime: [T - 100, 0] })],
  ["data", dir(0o755, implicit)],
  ["data/new", file("new")],
  ["var", dir(0o755, implicit)],
  ["var/cache", dir(0o755, implicit)],
  ["var/cache/keep", file("keep")],
  ["shared", dir(0o755, { xattrs: { "system.posix_acl_access": acl } })],
  ["empty", file("")],
  ["link", { type: "symlink", mode: 0o777, target: "/etc/passwd" }],
  ["rel", { type: "symlink", mode: 0o777, target: "../../x/./y" }],
  ["many", dir(0o755, implicit)],
  ...many.map((entry): [string, Expected] => [entry.path, file(entry.data as string)]),
]);
{
  let path = "";
  for (const part of deepDir.split("/")) {
    path = path ? `${path}/${part}` : part;
    expected.set(path, dir(0o755, implicit));
  }
  expected.set(`${deepDir}/${longName}`, file("deep"));
}

const TYPE_BITS: [number, Expected["type"]][] = [
  [0o100000, "file"],
  [0o040000, "dir"],
  [0o120000, "symlink"],
  [0o020000, "char"],
  [0o060000, "block"],
  [0o010000, "fifo"],
];

function observe(root: string, rel: string) {
  const full = rel ? join(root, rel) : root;
  const stat = lstatSync(full, { bigint: true });
  const mode = Number(stat.mode);
  const rdev = Number(stat.rdev);
  const type = TYPE_BITS.find(([bits]) => (mode & 0o170000) === bits)?.[1];
  return {
    type,
    mode: mode & 0o7777,
    uid: Number(stat.uid),
    gid: Number(stat.gid),
    nlink: Number(stat.nlink),
    size: Number(stat.size),
    rdev: [(rdev >> 8) & 0xfff, (rdev & 0xff) | ((rdev >> 12) & 0xfff00)] as [number, number],
    mtime: [Number(stat.mtimeNs / 1_000_000_000n), Number(stat.mtimeNs % 1_000_000_000n)] as [number, number],
    content: type === "file" ? new Uint8Array(readFileSync(full)) : undefined,
    target: type === "symlink" ? readlinkSync(full) : undefined,
  };
}

function walk(root: string, rel = "", out: string[] = []): string[] {
  out.push(rel);
  if (lstatSync(rel ? join(root, rel) : root).isDirectory()) {
    for (const name of readdirSync(rel ? join(root, rel) : root))
      walk(root, rel ? `${rel}/${name}` : name, out);
  }
  return out;
}

const XATTR_SCRIPT = `
import json, os, sys
root = sys.argv[1]
out = {}
for base, dirs, files in os.walk(root):
    for path in [base] + [os.path.join(base, n) for n in dirs + files]:
        rel = os.path.relpath(path, root)
        names = os.listxattr(path, follow_symlinks=False)
        out["" if rel == "." else rel] = {n: os.getxattr(path, n, follow_symlinks=False).hex() for n in names}
print(json.dumps(out))
`;

function dumpXattrs(root: string): Record<string, Record<string, string>> {
  const result = Bun.spawnSync([xattrDumper!, "-c", XATTR_SCRIPT, root]);
  if (result.exitCode !== 0) throw new Error(`xattr dump failed: ${result.stderr.toString()}`);
  return JSON.parse(result.stdout.toString());
}

/** Builds an image from `layers`, loop-mounts it read-only, runs `check`, then unmounts and cleans up. */
async function withMountedImage(
  layers: FixtureLayer[],
  check: (mountpoint: string, result: RootfsBuildResult) => Promise<void> | void,
): Promise<void> {
  const work = tempDir("mount");
  const mountpoint = join(work.path, "mnt");
  let mounted = false;
  try {
    const image = join(work.path, "rootfs.erofs");
    const result = await buildFixtureImage(layers, image);
    mkdirSync(mountpoint);
    const mount = Bun.spawnSync(["mount", "-t", "erofs", "-o", "loop,ro", image, mountpoint]);
    expect(mount.stderr.toString()).toBe("");
    expect(mount.exitCode).toBe(0);
    mounted = true;
    await check(mountpoint, result);
  } finally {
    if (mounted) Bun.spawnSync(["umount", mountpoint]);
    work.cleanup();
  }
}

describe.skipIf(skipReason !== undefined)("erofs image mounted by the kernel", () => {
  test("the mounted tree is exactly what the layers say", async () => {
    await withMountedImage(layers, (mountpoint, result) => {
      expect(result.warnings).toEqual([]);
      const paths = walk(mountpoint);
      expect(paths.sort()).toEqual([...expected.keys()].sort());
      for (const [path, want] of expected) {
        const got = observe(mountpoint, path);
        const context = `at "/${path}"`;
        expect({ path: context, type: got.type, mode: got.mode.toString(8) }).toEqual({
          path: context,
          type: want.type,
          mode: want.mode.toString(8),
        });
        expect([context, got.uid, got.gid]).toEqual([context, want.uid ?? 0, want.gid ?? 0]);
        expect([context, ...got.mtime]).toEqual([context, ...(want.mtime ?? [T, 0])]);
        if (want.type === "file" || want.nlink !== undefined) {
          expect([context, got.nlink]).toEqual([context, want.nlink ?? 1]);
        }
        if (want.rdev) expect([context, ...got.rdev]).toEqual([context, ...want.rdev]);
        if (want.content) {
          expect([context, got.size]).toEqual([context, want.content.length]);
          expect([context, Bun.hash(got.content!)]).toEqual([context, Bun.hash(want.content)]);
        }
        if (want.target !== undefined) expect([context, got.target]).toEqual([context, want.target]);
      }
      expect(observe(mountpoint, "many").size).toBeGreaterThan(4096 * 4);
      if (xattrDumper) {
        const xattrs = dumpXattrs(mountpoint);
        for (const [path, want] of expected) {
          const wantHex = Object.fromEntries(
            Object.entries(want.xattrs ?? {}).map(([name, value]) => [
              name,
              Buffer.from(value).toString("hex"),
            ]),
          );
          expect([path, xattrs[path]]).toEqual([path, wantHex]);
        }
      }
    });
  }, 60_000);
});

describe.skipIf(skipReason !== undefined || !slow)("erofs image with a >4 GiB file (MSB_SLOW_TESTS)", () => {
  test("the kernel reads the whole file, including the inline tail", async () => {
    const size = 2 ** 32 + 5000;
    const tail = patternBytes(5000, 3);
    await withMountedImage([{ entries: [zeroFileWithTail("huge", size, tail)] }], async (mountpoint) => {
      const file = Bun.file(join(mountpoint, "huge"));
      expect(file.size).toBe(size);
      const end: Uint8Array = new Uint8Array(await file.slice(size - 1_000_000).arrayBuffer());
      expect(end.subarray(end.length - tail.length)).toEqual(tail);
      expect(end.subarray(0, end.length - tail.length).every((byte) => byte === 0)).toBe(true);
      const hasher = new Bun.CryptoHasher("sha256");
      for await (const chunk of file.stream()) hasher.update(chunk);
      const expected = new Bun.CryptoHasher("sha256");
      for await (const chunk of zeroFileWithTail("huge", size, tail).stream!.chunks()) expected.update(chunk);
      expect(hasher.digest("hex")).toBe(expected.digest("hex"));
    });
  }, 600_000);
});
