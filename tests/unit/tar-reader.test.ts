import { describe, expect, test } from "bun:test";
import { readTar, type TarEntry } from "../../src/tar/reader.ts";
import {
  chunked,
  concatBytes,
  type FixtureEntry,
  metaEntry,
  once,
  patternBytes,
  paxData,
  tarBytes,
  tarHeader,
} from "../helpers/tar-fixtures.ts";

interface ReadEntry extends Omit<TarEntry, "body"> {
  data: Uint8Array;
}

async function readAll(source: AsyncIterable<Uint8Array>): Promise<ReadEntry[]> {
  const out: ReadEntry[] = [];
  for await (const entry of readTar(source)) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of entry.body()) chunks.push(chunk.slice());
    const { body: _body, ...fields } = entry;
    out.push({ ...fields, data: concatBytes(chunks) });
  }
  return out;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("readTar: ustar", () => {
  test("regular files, directories, links, devices and fifos", async () => {
    const archive = await tarBytes([
      { path: "etc", type: "dir", mode: 0o755, mtime: 1_600_000_000 },
      { path: "etc/hosts", data: "127.0.0.1 localhost\n", mode: 0o644, uid: 1000, gid: 100 },
      { path: "bin/sh", type: "symlink", linkname: "/bin/busybox" },
      { path: "bin/ash", type: "hardlink", linkname: "bin/busybox" },
      { path: "dev/sda", type: "block", devmajor: 8, devminor: 0, mode: 0o660 },
      { path: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
      { path: "run/fifo", type: "fifo", mode: 0o600 },
      { path: "usr/bin/sudo", data: "x", mode: 0o4755 },
      { path: "tmp", type: "dir", mode: 0o1777 },
    ]);
    const entries = await readAll(once(archive));
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ["etc/", "dir"],
      ["etc/hosts", "file"],
      ["bin/sh", "symlink"],
      ["bin/ash", "hardlink"],
      ["dev/sda", "block"],
      ["dev/null", "char"],
      ["run/fifo", "fifo"],
      ["usr/bin/sudo", "file"],
      ["tmp/", "dir"],
    ]);
    const [etc, hosts, sh, ash, sda, devnull, , sudo, tmp] = entries;
    expect(etc).toMatchObject({ mode: 0o755, mtime: 1_600_000_000, mtimeNsec: 0, size: 0 });
    expect(hosts).toMatchObject({ mode: 0o644, uid: 1000, gid: 100, size: 20 });
    expect(text(hosts!.data)).toBe("127.0.0.1 localhost\n");
    expect(sh!.linkname).toBe("/bin/busybox");
    expect(ash!.linkname).toBe("bin/busybox");
    expect(sda).toMatchObject({ devmajor: 8, devminor: 0, mode: 0o660 });
    expect(devnull).toMatchObject({ devmajor: 1, devminor: 3 });
    expect(sudo!.mode).toBe(0o4755);
    expect(tmp!.mode).toBe(0o1777);
  });

  test("long paths split into prefix and name", async () => {
    const path = `${"d".repeat(120)}/${"f".repeat(90)}`;
    const [entry] = await readAll(once(await tarBytes([{ path, data: "x", longPath: "prefix" }])));
    expect(entry!.path).toBe(path);
  });

  test("typeflags '7' and NUL are regular files; a v7 header with a trailing slash is a directory", async () => {
    const archive = await tarBytes([
      { path: "contiguous", typeflag: "7", data: "c" },
      { path: "old-style", typeflag: "\0", data: "o" },
      { path: "v7file", format: "v7", data: "v" },
      { path: "v7dir/", format: "v7", typeflag: "0" },
    ]);
    const entries = await readAll(once(archive));
    expect(entries.map((e) => [e.path, e.type, text(e.data)])).toEqual([
      ["contiguous", "file", "c"],
      ["old-style", "file", "o"],
      ["v7file", "file", "v"],
      ["v7dir/", "dir", ""],
    ]);
  });

  test("mode bits above 07777 (file type bits from old tars) are dropped", async () => {
    const [entry] = await readAll(once(await tarBytes([{ path: "f", mode: 0o100755, data: "" }])));
    expect(entry!.mode).toBe(0o755);
  });

  test("archives without the end-of-archive marker end at the last entry", async () => {
    const entries = await readAll(once(await tarBytes([{ path: "a", data: "1" }], { end: false })));
    expect(entries.map((e) => e.path)).toEqual(["a"]);
  });
});

describe("readTar: PAX", () => {
  test("path, linkpath, size, uid, gid and fractional mtime", async () => {
    const longPath = `${"p/".repeat(80)}file`;
    const longLink = `${"l/".repeat(70)}target`;
    const archive = await tarBytes([
      { path: longPath, data: "pax data" },
      {
        path: "link",
        type: "symlink",
        linkname: longLink,
        pax: { uid: "4294967294", gid: "3000000", mtime: "1700000000.123456789" },
      },
      { path: "neg", data: "", pax: { mtime: "-1.25" } },
    ]);
    const [file, link, neg] = await readAll(once(archive));
    expect(file!.path).toBe(longPath);
    expect(text(file!.data)).toBe("pax data");
    expect(link).toMatchObject({ linkname: longLink, uid: 4294967294, gid: 3000000 });
    expect(link).toMatchObject({ mtime: 1_700_000_000, mtimeNsec: 123_456_789 });
    expect(neg).toMatchObject({ mtime: -2, mtimeNsec: 750_000_000 });
  });

  test("a PAX size overrides the header size", async () => {
    const data = patternBytes(1000);
    const archive = concatBytes([
      metaEntry("x", paxData({ size: "1000" })),
      tarHeader({ name: "big", typeflag: "0", size: 0 }),
      data,
      new Uint8Array(24 + 1024),
    ]);
    const [entry] = await readAll(once(archive));
    expect(entry!.size).toBe(1000);
    expect(entry!.data).toEqual(data);
  });

  test("SCHILY.xattr values are kept as raw bytes", async () => {
    const capability = new Uint8Array([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const binary = new Uint8Array([0xff, 0x00, 0x0a, 0x3d, 0x80]);
    const archive = await tarBytes([
      {
        path: "ping",
        data: "",
        xattrs: { "security.capability": capability, "user.bin": binary, "user.empty": "" },
      },
    ]);
    const [entry] = await readAll(once(archive));
    expect(entry!.xattrs.get("security.capability")).toEqual(capability);
    expect(entry!.xattrs.get("user.bin")).toEqual(binary);
    expect(entry!.xattrs.get("user.empty")).toEqual(new Uint8Array(0));
  });

  test("LIBARCHIVE.xattr records are decoded", async () => {
    const archive = await tarBytes([
      {
        path: "f",
        data: "",
        pax: { "LIBARCHIVE.xattr.user.a%20b": Buffer.from([1, 2, 3]).toString("base64") },
      },
    ]);
    const [entry] = await readAll(once(archive));
    expect(entry!.xattrs.get("user.a b")).toEqual(new Uint8Array([1, 2, 3]));
  });

  test("global records apply to every later entry; local ones win and empty ones cancel", async () => {
    const archive = await tarBytes(
      [
        { path: "a", data: "", uid: 5 },
        { path: "b", data: "", pax: { uid: "77" } },
        { path: "c", data: "", uid: 9, pax: { uid: "" } },
      ],
      { globalPax: { uid: "1234", "SCHILY.xattr.user.g": "global" } },
    );
    const entries = await readAll(once(archive));
    expect(entries.map((e) => e.uid)).toEqual([1234, 77, 9]);
    expect(text(entries[2]!.xattrs.get("user.g")!)).toBe("global");
  });

  test("malformed records are rejected", async () => {
    const archive = concatBytes([
      metaEntry("x", new TextEncoder().encode("99 path=x\n")),
      tarHeader({ name: "f", typeflag: "0" }),
      new Uint8Array(1024),
    ]);
    await expect(readAll(once(archive))).rejects.toThrow(/malformed PAX record/);
  });

  test("GNU sparse files are refused with a clear error", async () => {
    const archive = await tarBytes([{ path: "s", data: "", pax: { "GNU.sparse.major": "1" } }]);
    await expect(readAll(once(archive))).rejects.toThrow(/sparse/);
  });
});

describe("readTar: GNU", () => {
  test("long names (L) and long link names (K)", async () => {
    const path = `${"n".repeat(150)}/file`;
    const linkname = `${"k".repeat(200)}/target`;
    const archive = await tarBytes([
      { path, data: "gnu", longPath: "gnu" },
      { path: `${path}2`, type: "symlink", linkname, longPath: "gnu" },
    ]);
    const [file, link] = await readAll(once(archive));
    expect(file!.path).toBe(path);
    expect(text(file!.data)).toBe("gnu");
    expect(link!.path).toBe(`${path}2`);
    expect(link!.linkname).toBe(linkname);
  });

  test("base-256 numeric fields (large sizes, ids and negative times)", async () => {
    const data = patternBytes(3000);
    const archive = await tarBytes([
      {
        path: "b",
        data,
        uid: 3_000_000_000,
        gid: 70000,
        mtime: -86400,
        base256: ["size", "uid", "gid", "mtime"],
      },
    ]);
    const [entry] = await readAll(once(archive));
    expect(entry).toMatchObject({ size: 3000, uid: 3_000_000_000, gid: 70000, mtime: -86400 });
    expect(entry!.data).toEqual(data);
  });

  test("a base-256 size above 8 GiB is read exactly", async () => {
    const header = tarHeader({ name: "huge", typeflag: "0", size: 2 ** 35 + 5, base256: ["size"] });
    const entries: TarEntry[] = [];
    await expect(
      (async () => {
        for await (const entry of readTar(once(header))) entries.push(entry);
      })(),
    ).rejects.toThrow(/truncated/);
    expect(entries[0]!.size).toBe(2 ** 35 + 5);
  });
});

describe("readTar: damaged archives", () => {
  test("a header checksum mismatch is an error", async () => {
    const archive = await tarBytes([{ path: "a", data: "hello" }]);
    archive[10] = 0x41;
    await expect(readAll(once(archive))).rejects.toThrow(/checksum mismatch at byte 0/);
  });

  test("truncation inside data, inside a header and inside a PAX record", async () => {
    const archive = await tarBytes(
      [
        { path: "a", data: patternBytes(2000) },
        { path: "b", data: "x" },
      ],
      {
        end: false,
      },
    );
    await expect(readAll(once(archive.subarray(0, 1500)))).rejects.toThrow(/truncated tar archive/);
    await expect(readAll(once(archive.subarray(0, 2560 + 100)))).rejects.toThrow(/truncated tar archive/);
    const pax = await tarBytes([{ path: "p", data: "", pax: { comment: "c".repeat(600) } }]);
    await expect(readAll(once(pax.subarray(0, 800)))).rejects.toThrow(/truncated/);
  });

  test("an archive that ends between a PAX header and its entry is truncated", async () => {
    const archive = concatBytes([metaEntry("x", paxData({ path: "p" })), new Uint8Array(1024)]);
    await expect(readAll(once(archive))).rejects.toThrow(/ends after a PAX or GNU header/);
  });

  test("unsupported entry types are named", async () => {
    const archive = await tarBytes([{ path: "weird", typeflag: "Q" }]);
    await expect(readAll(once(archive))).rejects.toThrow(/unsupported tar entry type "Q" for "weird"/);
  });

  test("reading an entry's body after moving on is an error", async () => {
    const archive = await tarBytes([
      { path: "a", data: "aaa" },
      { path: "b", data: "bbb" },
    ]);
    const bodies: AsyncIterable<Uint8Array>[] = [];
    for await (const entry of readTar(once(archive))) bodies.push(entry.body());
    await expect(
      (async () => {
        for await (const _chunk of bodies[0]!);
      })(),
    ).rejects.toThrow(/after the reader moved/);
  });
});

describe("readTar: streaming", () => {
  const entries: FixtureEntry[] = [
    { path: "d", type: "dir" },
    { path: "d/a", data: patternBytes(1, 2) },
    { path: "d/b", data: patternBytes(511, 3) },
    { path: "d/c", data: patternBytes(513, 4), xattrs: { "user.x": "1" } },
    { path: `${"long/".repeat(40)}x`, data: patternBytes(5000, 5), longPath: "gnu" },
    { path: `${"pax/".repeat(40)}y`, data: patternBytes(1024, 6) },
    { path: "empty", data: "" },
  ];

  test("same result for every chunking, including 1-byte chunks and random sizes", async () => {
    const archive = await tarBytes(entries, { globalPax: { comment: "g" } });
    const expected = await readAll(once(archive));
    expect(expected.map((e) => e.size)).toEqual([0, 1, 511, 513, 5000, 1024, 0]);
    expect(await readAll(chunked(archive, [1]))).toEqual(expected);
    for (const seed of [1, 2, 3, 4, 5]) {
      expect(await readAll(chunked(archive, { randomSeed: seed, max: 1500 }))).toEqual(expected);
    }
  });

  test("the first chunk boundary at every offset of the first kilobytes", async () => {
    const archive = await tarBytes(entries.slice(0, 4));
    const expected = await readAll(once(archive));
    for (let cut = 1; cut < 2600; cut++) {
      expect(await readAll(chunked(archive, [cut, archive.length]))).toEqual(expected);
    }
  });

  test("bodies the consumer skips are skipped, and data is not copied", async () => {
    const archive = await tarBytes(entries);
    const paths: string[] = [];
    for await (const entry of readTar(once(archive))) paths.push(entry.path);
    expect(paths).toHaveLength(entries.length);
    for await (const entry of readTar(once(archive))) {
      if (entry.path !== "d/c") continue;
      for await (const chunk of entry.body()) expect(chunk.buffer).toBe(archive.buffer);
    }
  });

  test("the source is read to its end after the end-of-archive marker", async () => {
    const archive = concatBytes([await tarBytes([{ path: "a", data: "x" }]), new Uint8Array(8192)]);
    let delivered = 0;
    async function* counting() {
      for await (const chunk of chunked(archive, [700])) {
        delivered += chunk.length;
        yield chunk;
      }
    }
    await readAll(counting());
    expect(delivered).toBe(archive.length);
  });
});

describe("readTar: archives written by GNU tar", () => {
  const haveTar = Bun.which("tar") !== null;
  if (!haveTar) console.warn("skip: readTar against GNU tar: tar not installed");

  test.skipIf(!haveTar).each(["gnu", "posix", "ustar", "v7"])("--format=%s", async (format) => {
    const { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, linkSync, rmSync, chmodSync } = await import(
      "node:fs"
    );
    const { join } = await import("node:path");
    const root = mkdtempSync("/tmp/msb-tar-");
    try {
      const deep = format === "v7" ? "sub" : `sub/${"x".repeat(60)}/${"y".repeat(60)}`;
      mkdirSync(join(root, deep), { recursive: true });
      writeFileSync(join(root, deep, "data.bin"), patternBytes(70_000, 9));
      writeFileSync(join(root, "small"), "small\n");
      chmodSync(join(root, "small"), 0o4751);
      symlinkSync("small", join(root, "link"));
      linkSync(join(root, "small"), join(root, "hard"));
      const tar = Bun.spawnSync(["tar", `--format=${format}`, "--sort=name", "-cf", "-", "-C", root, "."]);
      expect(tar.exitCode).toBe(0);
      const entries = await readAll(chunked(new Uint8Array(tar.stdout), { randomSeed: 7, max: 4096 }));
      const byPath = new Map(entries.map((e) => [e.path.replace(/^\.\//, "").replace(/\/$/, ""), e]));
      expect(byPath.get(`${deep}/data.bin`)!.data).toEqual(patternBytes(70_000, 9));
      expect(byPath.get(deep)!.type).toBe("dir");
      // --sort=name archives "hard" first, so "small" is the link to it.
      expect(byPath.get("hard")).toMatchObject({ type: "file", mode: 0o4751, size: 6 });
      expect(byPath.get("small")).toMatchObject({ type: "hardlink", linkname: "./hard" });
      expect(byPath.get("link")).toMatchObject({ type: "symlink", linkname: "small" });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
