// The EROFS writer against fsck.erofs (-d3 and --extract, any "<E>" line is a failure) and the
// independent reader: every entry type, thousands of files, multi-block directories, extended
// inodes, large xattr areas, tail packing, determinism, and (MSB_SLOW_TESTS) a >4 GiB file.
import { afterAll, describe, expect, test } from "bun:test";
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { readErofsFile } from "../helpers/erofs-reader.ts";
import {
  buildFixtureImage,
  type FixtureEntry,
  FSCK_MISSING,
  haveFsck,
  patternBytes,
  runFsck,
  tempDir,
  zeroFileWithTail,
} from "../helpers/tar-fixtures.ts";

const dir = tempDir("erofs");
afterAll(dir.cleanup);
const fsckMissing = !haveFsck();
if (fsckMissing) console.warn(FSCK_MISSING);
const slow = process.env.MSB_SLOW_TESTS === "1";
if (!slow) console.warn("skip: >4 GiB EROFS file test (set MSB_SLOW_TESTS=1 to run it)");

let counter = 0;
async function image(entries: FixtureEntry[]): Promise<string> {
  const out = join(dir.path, `w${++counter}.erofs`);
  await buildFixtureImage([{ entries }], out);
  return out;
}

/** Extracts with fsck.erofs and lists the result: path → type/perm/content or target. */
function extract(imagePath: string): Map<string, string> {
  const target = join(dir.path, `x${++counter}`);
  runFsck(imagePath, [`--extract=${target}`, "--preserve"]);
  const listing = new Map<string, string>();
  const walk = (path: string, rel: string) => {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      const relPath = `${rel}/${name}`;
      const stat = lstatSync(full);
      const perm = (stat.mode & 0o777).toString(8);
      if (stat.isDirectory()) {
        listing.set(relPath, `dir ${perm}`);
        walk(full, relPath);
      } else if (stat.isSymbolicLink()) listing.set(relPath, `symlink -> ${readlinkSync(full)}`);
      else if (stat.isFile()) listing.set(relPath, `file ${perm} ${Bun.hash(readFileSync(full))}`);
      else listing.set(relPath, `special ${perm} ${stat.isFIFO() ? "fifo" : "device"}`);
    }
  };
  walk(target, "");
  return listing;
}

const hash = (data: string | Uint8Array) => Bun.hash(data);

describe.skipIf(fsckMissing)("fsck.erofs", () => {
  test("every entry type passes -d3 and --extract reproduces the tree", async () => {
    const out = await image([
      { path: "etc/hosts", data: "127.0.0.1\n", mode: 0o640 },
      { path: "etc/empty", data: "" },
      { path: "bin/tool", data: patternBytes(10_000), mode: 0o755 },
      { path: "bin/alias", type: "hardlink", linkname: "bin/tool" },
      { path: "link", type: "symlink", linkname: "etc/hosts" },
      { path: "longlink", type: "symlink", linkname: `/${"x".repeat(4089)}` },
      { path: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
      { path: "dev/loop0", type: "block", devmajor: 7, devminor: 0, mode: 0o660 },
      { path: "fifo", type: "fifo", mode: 0o600 },
      { path: "data", type: "dir", mode: 0o700, uid: 100000, mtime: 5 },
    ]);
    expect(runFsck(out)).toContain("No errors found");
    expect(Object.fromEntries(extract(out))).toEqual({
      "/etc": "dir 755",
      "/etc/hosts": `file 640 ${hash("127.0.0.1\n")}`,
      "/etc/empty": `file 644 ${hash("")}`,
      "/bin": "dir 755",
      "/bin/tool": `file 755 ${hash(patternBytes(10_000))}`,
      "/bin/alias": `file 755 ${hash(patternBytes(10_000))}`,
      "/link": "symlink -> etc/hosts",
      "/longlink": `symlink -> /${"x".repeat(4089)}`,
      "/dev": "dir 755",
      "/dev/null": "special 666 device",
      "/dev/loop0": "special 660 device",
      "/fifo": "special 600 fifo",
      "/data": "dir 700",
    });
    const { entries } = readErofsFile(out);
    expect(entries.get("/data")).toMatchObject({ extended: true, uid: 100000, mtime: 5 });
    expect(entries.get("/etc/hosts")).toMatchObject({ extended: false, layout: 2 });
    expect(entries.get("/longlink")!.layout).toBe(0);
  });

  test("thousands of files and a 3000-entry directory spanning many blocks", async () => {
    const entries: FixtureEntry[] = [];
    const expected = new Map<string, string>();
    for (let i = 0; i < 3000; i++) {
      const name = `entry-${i}-${"z".repeat(i % 40)}`;
      const data = patternBytes(i % 7 === 0 ? 0 : (i * 37) % 9000, i + 1);
      entries.push({ path: `many/${name}`, data });
      expected.set(`/many/${name}`, `file 644 ${hash(data)}`);
    }
    for (let d = 0; d < 40; d++) {
      expected.set(`/tree/d${d}`, "dir 755");
      for (let f = 0; f < 60; f++) {
        const data = patternBytes(100 + d * f, d * 1000 + f + 1);
        entries.push({ path: `tree/d${d}/f${f}`, data });
        expected.set(`/tree/d${d}/f${f}`, `file 644 ${hash(data)}`);
      }
    }
    expected.set("/many", "dir 755");
    expected.set("/tree", "dir 755");
    const out = await image(entries);
    runFsck(out);
    expect(extract(out)).toEqual(expected);
    const { entries: tree } = readErofsFile(out);
    expect(tree.size).toBe(expected.size + 1);
    expect(tree.get("/many")!.size).toBeGreaterThan(20 * 4096);
  });

  test("extended inodes, a 9 KiB xattr area and xattrs that push data out of line", async () => {
    const big = (seed: number) => patternBytes(3000, seed);
    const out = await image([
      { path: "huge-xattrs", data: "tail", xattrs: { "user.a": big(1), "user.b": big(2), "user.c": big(3) } },
      { path: "crowded", data: patternBytes(300), xattrs: { "user.big": patternBytes(3800, 9) } },
      { path: "xdir", type: "dir", xattrs: { "trusted.a": big(4), "trusted.b": big(5) } },
      { path: "xdir/f", data: "f" },
      { path: "ids", data: "ids", uid: 70000, gid: 80000 },
      { path: "old", data: "old", mtime: 0 },
    ]);
    runFsck(out);
    extract(out);
    const { entries } = readErofsFile(out);
    expect(entries.get("/huge-xattrs")!.xattrs.get("user.c")).toEqual(big(3));
    expect(new TextDecoder().decode(entries.get("/huge-xattrs")!.data)).toBe("tail");
    expect(entries.get("/crowded")!.layout).toBe(0);
    expect(entries.get("/crowded")!.data).toEqual(patternBytes(300));
    expect(entries.get("/xdir")!.xattrs.get("trusted.b")).toEqual(big(5));
    expect(entries.get("/ids")).toMatchObject({ extended: true, uid: 70000, gid: 80000 });
    expect(entries.get("/old")).toMatchObject({ extended: true, mtime: 0 });
  });
});

describe("image layout", () => {
  test("small files are tail-packed next to compact inodes", async () => {
    const entries = Array.from({ length: 1000 }, (_, i) => ({
      path: `f${i}`,
      data: patternBytes(100, i + 1),
    }));
    const out = await image(entries);
    if (!fsckMissing) runFsck(out);
    expect(statSync(out).size).toBeLessThan(100 * 4096);
    const { entries: tree, superblock } = readErofsFile(out);
    expect(tree.get("/f999")).toMatchObject({ layout: 2, extended: false });
    expect(superblock).toMatchObject({ rootNid: 1, inodeCount: 1001, buildTime: 1_700_000_000 });
  });

  test("the same layers give the same bytes", async () => {
    const entries: FixtureEntry[] = [
      { path: "a/b", data: patternBytes(5000) },
      { path: "a/c", type: "symlink", linkname: "b" },
      { path: "d", type: "dir", mtime: 7 },
    ];
    const first = readFileSync(await image(entries));
    const second = readFileSync(await image(entries));
    expect(Bun.hash(first)).toBe(Bun.hash(second));
    expect(first.length % 4096).toBe(0);
  });

  test("an empty layer list gives a valid image with an empty root", async () => {
    const out = await image([]);
    if (!fsckMissing) runFsck(out);
    expect([...readErofsFile(out).entries.keys()]).toEqual(["/"]);
  });
});

describe.skipIf(!slow || fsckMissing)("files over 4 GiB (MSB_SLOW_TESTS)", () => {
  test("a 4 GiB + 5000 byte file gets an extended inode and passes fsck", async () => {
    const size = 2 ** 32 + 5000;
    const out = join(dir.path, "huge.erofs");
    await buildFixtureImage([{ entries: [zeroFileWithTail("huge", size, patternBytes(5000, 3))] }], out);
    // fsck.erofs 1.5 --extract cannot read a 4 GiB extent (one oversized pread), so the content
    // of this file is checked through the kernel in tests/integration/erofs-mount.test.ts.
    runFsck(out);
    const dump = Bun.spawnSync(["dump.erofs", "--path=/huge", out]).stdout.toString();
    expect(dump).toContain(`Size: ${size}`);
    expect(dump).toContain("Inode size: 64");
  }, 600_000);
});
