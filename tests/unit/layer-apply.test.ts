// Layer application: each case builds an image from hand-made layers and compares the tree
// read back from the image (with the independent reader) against a spelled-out expectation.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { MsbError } from "../../src/errors.ts";
import { buildRootfs, LayerError, type RootfsBuildResult } from "../../src/image/rootfs-build.ts";
import { type ErofsEntry, readErofsFile } from "../helpers/erofs-reader.ts";
import {
  buildFixtureImage,
  type FixtureLayer,
  FSCK_MISSING,
  haveFsck,
  patternBytes,
  runFsck,
  tarStream,
  tempDir,
} from "../helpers/tar-fixtures.ts";

const dir = tempDir("layers");
if (!haveFsck()) console.warn(FSCK_MISSING);
afterAll(dir.cleanup);
let counter = 0;

async function build(
  layers: FixtureLayer[],
): Promise<{ result: RootfsBuildResult; tree: Map<string, ErofsEntry> }> {
  const out = join(dir.path, `image-${++counter}.erofs`);
  const result = await buildFixtureImage(layers, out);
  if (haveFsck()) runFsck(out);
  return { result, tree: readErofsFile(out).entries };
}

/** One line per path: type, permission bits, owner if not root, content or target. */
function describeTree(tree: Map<string, ErofsEntry>): Record<string, string> {
  const lines: Record<string, string> = {};
  for (const [path, entry] of tree) {
    let line = `${entry.type} ${entry.mode.toString(8)}`;
    if (entry.uid !== 0 || entry.gid !== 0) line += ` ${entry.uid}:${entry.gid}`;
    if (entry.type === "file") line += ` "${new TextDecoder().decode(entry.data)}"`;
    if (entry.type === "file" && entry.nlink > 1) line += ` nlink=${entry.nlink}`;
    if (entry.type === "symlink") line += ` -> ${new TextDecoder().decode(entry.data)}`;
    if (entry.type === "char" || entry.type === "block") line += ` ${entry.rdev.major}:${entry.rdev.minor}`;
    lines[path] = line;
  }
  return lines;
}

async function expectLayerError(layers: FixtureLayer[], message: string | RegExp): Promise<void> {
  const out = join(dir.path, `failing-${++counter}.erofs`);
  const attempt = buildFixtureImage(layers, out);
  await expect(attempt).rejects.toBeInstanceOf(LayerError);
  await expect(attempt).rejects.toThrow(message);
  expect(existsSync(out)).toBe(false);
  expect(readdirSync(dir.path).filter((name) => name.startsWith(`failing-${counter}`))).toEqual([]);
}

describe("entry types and metadata", () => {
  test("every entry type with modes, owners and verbatim symlinks", async () => {
    const { tree, result } = await build([
      {
        entries: [
          { path: "./etc/", type: "dir", mode: 0o755 },
          { path: "/etc/hosts", data: "hosts\n", mode: 0o644, uid: 1000, gid: 100 },
          { path: "usr/bin/sudo", data: "sudo", mode: 0o4755 },
          { path: "usr/bin/wall", data: "wall", mode: 0o2755, gid: 5 },
          { path: "tmp", type: "dir", mode: 0o1777 },
          { path: "etc/abs", type: "symlink", linkname: "/usr/bin/sudo" },
          { path: "etc/rel", type: "symlink", linkname: "../usr//bin/./wall" },
          { path: "etc/dangling", type: "symlink", linkname: "../../../../nowhere" },
          { path: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
          { path: "dev/nvme", type: "block", devmajor: 259, devminor: 300000, mode: 0o660 },
          { path: "run/initctl", type: "fifo", mode: 0o600 },
          { path: "big-ids", data: "", uid: 100000, gid: 4294967294 },
          { path: "empty", data: "" },
        ],
      },
    ]);
    expect(describeTree(tree)).toEqual({
      "/": "dir 755",
      "/etc": "dir 755",
      "/etc/hosts": 'file 644 1000:100 "hosts\n"',
      "/etc/abs": "symlink 777 -> /usr/bin/sudo",
      "/etc/rel": "symlink 777 -> ../usr//bin/./wall",
      "/etc/dangling": "symlink 777 -> ../../../../nowhere",
      "/usr": "dir 755",
      "/usr/bin": "dir 755",
      "/usr/bin/sudo": 'file 4755 "sudo"',
      "/usr/bin/wall": 'file 2755 0:5 "wall"',
      "/tmp": "dir 1777",
      "/dev": "dir 755",
      "/dev/null": "char 666 1:3",
      "/dev/nvme": "block 660 259:300000",
      "/run": "dir 755",
      "/run/initctl": "fifo 600",
      "/big-ids": 'file 644 100000:4294967294 ""',
      "/empty": 'file 644 ""',
    });
    expect(result).toMatchObject({ inodes: 18, files: 5, warnings: [] });
  });

  test("mtimes keep seconds and nanoseconds; implicit parents are 0755 root with mtime 0", async () => {
    const { tree } = await build([
      {
        entries: [
          { path: "a", data: "", mtime: 1_700_000_000 },
          { path: "b", data: "", mtime: 1_700_000_000 },
          { path: "c", data: "", pax: { mtime: "1600000000.000000001" } },
          { path: "d", data: "", pax: { mtime: "-5.5" } },
          { path: "x/y/z", data: "" },
        ],
      },
    ]);
    const time = (path: string) => [tree.get(path)!.mtime, tree.get(path)!.mtimeNsec];
    expect(time("/a")).toEqual([1_700_000_000, 0]);
    expect(time("/c")).toEqual([1_600_000_000, 1]);
    expect(time("/d")).toEqual([-6, 500_000_000]);
    expect(time("/x/y")).toEqual([0, 0]);
    expect(tree.get("/x/y")).toMatchObject({ type: "dir", mode: 0o755, uid: 0, gid: 0 });
  });

  test("xattrs map onto EROFS namespaces; others are dropped with a warning", async () => {
    const capability = new Uint8Array([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const acl = new Uint8Array([
      2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, 4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
    ]);
    const { tree, result } = await build([
      {
        label: "sha256:feed",
        entries: [
          {
            path: "bin/ping",
            data: "ping",
            xattrs: {
              "security.capability": capability,
              "user.mime": "text/plain",
              "trusted.overlay.opaque": "y",
              "system.posix_acl_access": acl,
              "system.nfs4_acl": "x",
            },
          },
          { path: "bin/other", data: "", xattrs: { "system.nfs4_acl": "x", "bogus.ns": "1" } },
          { path: "bin", type: "dir", xattrs: { "user.dir": new Uint8Array([0, 255]) } },
        ],
      },
    ]);
    const ping = tree.get("/bin/ping")!;
    expect([...ping.xattrs.keys()].sort()).toEqual([
      "security.capability",
      "system.posix_acl_access",
      "trusted.overlay.opaque",
      "user.mime",
    ]);
    expect(ping.xattrs.get("security.capability")).toEqual(capability);
    expect(ping.xattrs.get("system.posix_acl_access")).toEqual(acl);
    expect(tree.get("/bin")!.xattrs.get("user.dir")).toEqual(new Uint8Array([0, 255]));
    expect(result.warnings.sort()).toEqual([
      'layer sha256:feed: dropped xattr "bogus.ns" (namespace not representable in EROFS) on 1 entry',
      'layer sha256:feed: dropped xattr "system.nfs4_acl" (namespace not representable in EROFS) on 2 entries',
    ]);
  });

  test("PAX and GNU long names, 255-byte names and long symlink targets", async () => {
    const name255 = "n".repeat(255);
    const deep = `${"deep/".repeat(60)}leaf`;
    const target = `/${"t".repeat(300)}`;
    const { tree } = await build([
      {
        entries: [
          { path: `${deep}/${name255}`, data: "pax" },
          { path: `gnu/${"g".repeat(200)}`, data: "gnu", longPath: "gnu" },
          { path: "gnulink", type: "symlink", linkname: target, longPath: "gnu" },
          { path: "paxlink", type: "symlink", linkname: target },
        ],
      },
    ]);
    expect(new TextDecoder().decode(tree.get(`/${deep}/${name255}`)!.data)).toBe("pax");
    expect(new TextDecoder().decode(tree.get(`/gnu/${"g".repeat(200)}`)!.data)).toBe("gnu");
    expect(new TextDecoder().decode(tree.get("/gnulink")!.data)).toBe(target);
    expect(new TextDecoder().decode(tree.get("/paxlink")!.data)).toBe(target);
  });

  test("file contents of every size around block boundaries, and a 20 MB streamed file", async () => {
    const sizes = [1, 100, 4031, 4032, 4033, 4095, 4096, 4097, 8191, 8192, 12_289, 65_536 + 17];
    const big = 20 << 20;
    const { tree } = await build([
      {
        entries: [
          ...sizes.map((size) => ({ path: `f${size}`, data: patternBytes(size, size) })),
          {
            path: "big",
            stream: {
              size: big,
              async *chunks() {
                for (let i = 0; i < 20; i++) yield patternBytes(1 << 20, i + 1);
              },
            },
          },
        ],
      },
    ]);
    for (const size of sizes) expect(tree.get(`/f${size}`)!.data).toEqual(patternBytes(size, size));
    const data = tree.get("/big")!.data;
    expect(data.length).toBe(big);
    for (let i = 0; i < 20; i++) {
      expect(Bun.hash(data.subarray(i << 20, (i + 1) << 20))).toBe(Bun.hash(patternBytes(1 << 20, i + 1)));
    }
  });
});

describe("whiteouts and opaque directories", () => {
  test(".wh.<name> deletes files and whole directories of lower layers", async () => {
    const { tree } = await build([
      {
        entries: [
          { path: "a/x", data: "x" },
          { path: "a/y", data: "y" },
          { path: "b/deep/z", data: "z" },
        ],
      },
      {
        entries: [
          { path: "a/.wh.x" },
          { path: ".wh.b" },
          { path: "a/.wh.never-existed" },
          { path: "gone/.wh.q" },
        ],
      },
    ]);
    expect(describeTree(tree)).toEqual({ "/": "dir 755", "/a": "dir 755", "/a/y": 'file 644 "y"' });
  });

  test("a whiteout does not delete what its own layer adds, in either order", async () => {
    const { tree } = await build([
      {
        entries: [
          { path: "p", data: "lower" },
          { path: "q", data: "lower" },
        ],
      },
      {
        entries: [
          { path: ".wh.p" },
          { path: "p", data: "upper" },
          { path: "q", data: "upper" },
          { path: ".wh.q" },
        ],
      },
    ]);
    expect(describeTree(tree)).toEqual({
      "/": "dir 755",
      "/p": 'file 644 "upper"',
      "/q": 'file 644 "upper"',
    });
  });

  const lower: FixtureLayer = {
    entries: [
      { path: "d", type: "dir", mode: 0o700 },
      { path: "d/old", data: "old" },
      { path: "d/sub/deep", data: "deep" },
      { path: "keep", data: "keep" },
    ],
  };
  const expected = {
    "/": "dir 755",
    "/keep": 'file 644 "keep"',
    "/d": "dir 755",
    "/d/new": 'file 644 "new"',
    "/d/sub": "dir 755",
    "/d/sub/n": 'file 644 "n"',
  };

  test("opaque marker before the layer's own entries", async () => {
    const { tree } = await build([
      lower,
      {
        entries: [
          { path: "d", type: "dir" },
          { path: "d/.wh..wh..opq" },
          { path: "d/new", data: "new" },
          { path: "d/sub/n", data: "n" },
        ],
      },
    ]);
    expect(describeTree(tree)).toEqual(expected);
  });

  test("opaque marker after the layer's own entries", async () => {
    const { tree } = await build([
      lower,
      {
        entries: [
          { path: "d", type: "dir" },
          { path: "d/new", data: "new" },
          { path: "d/sub/n", data: "n" },
          { path: "d/.wh..wh..opq" },
        ],
      },
    ]);
    expect(describeTree(tree)).toEqual(expected);
  });

  test("an opaque directory in a later layer can be filled again", async () => {
    const { tree } = await build([
      lower,
      { entries: [{ path: "d/.wh..wh..opq" }] },
      { entries: [{ path: "d/again", data: "again" }] },
    ]);
    expect(describeTree(tree)).toEqual({
      "/": "dir 755",
      "/keep": 'file 644 "keep"',
      "/d": "dir 700",
      "/d/again": 'file 644 "again"',
    });
  });
});

describe("replacing entries", () => {
  test("directory → file → directory", async () => {
    const { tree } = await build([
      { entries: [{ path: "p/child", data: "c" }] },
      { entries: [{ path: "p", data: "now a file" }] },
      {
        entries: [
          { path: "p", type: "dir", mode: 0o711 },
          { path: "p/c2", data: "2" },
        ],
      },
    ]);
    expect(describeTree(tree)).toEqual({ "/": "dir 755", "/p": "dir 711", "/p/c2": 'file 644 "2"' });
  });

  test("a path through a symlink or a file replaces it with a directory (symlinks are never followed)", async () => {
    const { tree } = await build([
      {
        entries: [
          { path: "etc/passwd", data: "root" },
          { path: "link", type: "symlink", linkname: "/etc" },
          { path: "file", data: "f" },
        ],
      },
      {
        entries: [
          { path: "link/passwd", data: "evil" },
          { path: "file/inner", data: "i" },
        ],
      },
    ]);
    expect(describeTree(tree)).toEqual({
      "/": "dir 755",
      "/etc": "dir 755",
      "/etc/passwd": 'file 644 "root"',
      "/link": "dir 755",
      "/link/passwd": 'file 644 "evil"',
      "/file": "dir 755",
      "/file/inner": 'file 644 "i"',
    });
  });

  test("a re-declared directory keeps its children and takes the new metadata", async () => {
    const { tree } = await build([
      {
        entries: [
          { path: "d", type: "dir", mode: 0o755, mtime: 1 },
          { path: "d/f", data: "f" },
        ],
      },
      { entries: [{ path: "d", type: "dir", mode: 0o750, uid: 7, gid: 8, mtime: 2 }] },
      { entries: [{ path: ".", type: "dir", mode: 0o700, mtime: 3 }] },
    ]);
    expect(describeTree(tree)).toEqual({ "/": "dir 700", "/d": "dir 750 7:8", "/d/f": 'file 644 "f"' });
    expect(tree.get("/d")!.mtime).toBe(2);
    expect(tree.get("/")!.mtime).toBe(3);
  });

  test("a later entry for the same path wins", async () => {
    const { tree } = await build([
      {
        entries: [
          { path: "f", data: "one" },
          { path: "f", data: "two", mode: 0o600 },
        ],
      },
      { entries: [{ path: "f", type: "symlink", linkname: "elsewhere" }] },
    ]);
    expect(describeTree(tree)).toEqual({ "/": "dir 755", "/f": "symlink 777 -> elsewhere" });
  });
});

describe("hard links", () => {
  test("links in the same layer and to an earlier layer share one inode", async () => {
    const { tree } = await build([
      {
        entries: [
          { path: "bin/busybox", data: "bb", mode: 0o755 },
          { path: "bin/sh", type: "hardlink", linkname: "bin/busybox" },
          { path: "s", type: "symlink", linkname: "target" },
          { path: "s2", type: "hardlink", linkname: "./s" },
        ],
      },
      { entries: [{ path: "usr/bin/ash", type: "hardlink", linkname: "/bin/busybox" }] },
    ]);
    const nid = (path: string) => tree.get(path)!.nid;
    expect(nid("/bin/sh")).toBe(nid("/bin/busybox"));
    expect(nid("/usr/bin/ash")).toBe(nid("/bin/busybox"));
    expect(nid("/s2")).toBe(nid("/s"));
    expect(describeTree(tree)).toMatchObject({
      "/bin/busybox": 'file 755 "bb" nlink=3',
      "/bin/sh": 'file 755 "bb" nlink=3',
      "/usr/bin/ash": 'file 755 "bb" nlink=3',
    });
    expect(tree.get("/s")!.nlink).toBe(2);
  });

  test("link counts follow later deletions", async () => {
    const { tree } = await build([
      {
        entries: [
          { path: "a", data: "x" },
          { path: "b", type: "hardlink", linkname: "a" },
        ],
      },
      { entries: [{ path: ".wh.a" }] },
    ]);
    expect(describeTree(tree)).toEqual({ "/": "dir 755", "/b": 'file 644 "x"' });
  });

  test("a link to a missing path, a directory or outside the root fails", async () => {
    await expectLayerError(
      [{ entries: [{ path: "l", type: "hardlink", linkname: "nope" }] }],
      'layer L1: entry "l" is a hard link to "nope", which does not exist',
    );
    await expectLayerError(
      [
        { entries: [{ path: "d/f", data: "" }] },
        { entries: [{ path: "l", type: "hardlink", linkname: "d" }] },
      ],
      'layer L2: entry "l" is a hard link to "d", which is a directory',
    );
    await expectLayerError(
      [{ entries: [{ path: "l", type: "hardlink", linkname: "../../etc/shadow" }] }],
      'layer L1: entry "l" hard link target "../../etc/shadow" escapes the image root',
    );
    await expectLayerError(
      [
        {
          entries: [
            { path: "s", type: "symlink", linkname: "/etc" },
            { path: "l", type: "hardlink", linkname: "s/x" },
          ],
        },
      ],
      /which does not exist/,
    );
  });
});

describe("rejected layers leave nothing behind", () => {
  test("an error of the layer source keeps its hint and gains the layer label", async () => {
    const out = join(dir.path, "source-error.erofs");
    async function* failing() {
      yield* tarStream([{ path: "a", data: "x" }]);
      throw new MsbError("layer digest mismatch", { hint: "pull it again" });
    }
    const attempt = buildRootfs([{ label: "sha256:cc", open: failing }], out);
    await expect(attempt).rejects.toMatchObject({
      message: "layer sha256:cc: layer digest mismatch",
      hint: "pull it again",
      code: "runtime",
    });
    expect(existsSync(out)).toBe(false);
  });

  test("paths escaping the root", async () => {
    await expectLayerError(
      [{ label: "sha256:abcd", entries: [{ path: "../../etc/passwd", data: "x" }] }],
      'layer sha256:abcd: entry "../../etc/passwd" escapes the image root',
    );
    await expectLayerError([{ entries: [{ path: "a/../../b", data: "" }] }], /escapes the image root/);
  });

  test("names over 255 bytes, and a non-directory in place of the root", async () => {
    await expectLayerError([{ entries: [{ path: `${"é".repeat(128)}`, data: "" }] }], /name of 256 bytes/);
    await expectLayerError([{ entries: [{ path: "./", data: "x" }] }], /replace the image root/);
  });

  test("a corrupt tar names the layer, once", async () => {
    const out = join(dir.path, "corrupt.erofs");
    async function* corrupt() {
      for await (const part of tarStream([{ path: "ok", data: "x" }], { end: false })) yield part;
      const bad = new Uint8Array(512).fill(0x41);
      yield bad;
    }
    const attempt = buildRootfs(
      [
        { label: "layer 1/2 (sha256:aa)", open: () => tarStream([{ path: "a", data: "" }]) },
        { label: "layer 2/2 (sha256:bb)", open: corrupt },
      ],
      out,
    );
    await expect(attempt).rejects.toThrow(/^layer 2\/2 \(sha256:bb\): [^:]*tar header at byte 1024/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.tails`)).toBe(false);
  });
});
