// Pure pieces of the EROFS writer: checksums, device numbers, directory block splitting,
// metadata packing, xattr encoding.
import { describe, expect, test } from "bun:test";
import { crc32c, erofsCrc32c } from "../../src/erofs/crc32c.ts";
import { encodeDirentBlock, planDirents } from "../../src/erofs/dirent.ts";
import { BLOCK_SIZE, encodeRdev } from "../../src/erofs/format.ts";
import { MetaPacker } from "../../src/erofs/meta-packer.ts";
import { implicitDirMeta, newDir } from "../../src/erofs/tree.ts";
import {
  encodeXattrArea,
  toXattrEntry,
  type XattrEntry,
  xattrAreaSize,
  xattrIcount,
} from "../../src/erofs/xattr.ts";

describe("crc32c", () => {
  test("standard check value and the EROFS (no final XOR) form", () => {
    const check = new TextEncoder().encode("123456789");
    expect(crc32c(check)).toBe(0xe3069283);
    expect(erofsCrc32c(check)).toBe(~0xe3069283 >>> 0);
  });
});

describe("encodeRdev", () => {
  test("matches the kernel's new_encode_dev", () => {
    expect(encodeRdev(4, 5)).toBe(0x405);
    expect(encodeRdev(259, 300000)).toBe(0x493103e0);
    expect(encodeRdev(0, 0)).toBe(0);
  });
});

describe("planDirents", () => {
  function dirWith(names: string[]) {
    const dir = newDir(implicitDirMeta());
    for (const name of names) dir.children.set(name, { inode: newDir(implicitDirMeta()), layer: 1 });
    return dir;
  }

  test("sorts by unsigned bytes with . and .. in place", () => {
    const names = ["ab", "été", "!bang", "~tilde", "Zed", "-dash", "abc", "+plus"];
    const plan = planDirents(dirWith(names), newDir(implicitDirMeta()));
    const sorted = plan.entries.map((entry) => new TextDecoder().decode(entry.name));
    expect(sorted).toEqual(["!bang", "+plus", "-dash", ".", "..", "Zed", "ab", "abc", "~tilde", "été"]);
  });

  test("300 names of 34 bytes fill blocks of 90, 89, 89 and 34 entries", () => {
    const names = Array.from({ length: 300 }, (_, i) => `n${String(i).padStart(33, "0")}`);
    const plan = planDirents(dirWith(names), newDir(implicitDirMeta()));
    const counts = plan.blockStarts.slice(1).map((end, i) => end - plan.blockStarts[i]!);
    expect(counts).toEqual([90, 89, 89, 34]);
    expect(plan.size).toBe(3 * BLOCK_SIZE + 34 * 46);
  });

  test("an encoded block has dirents, then contiguous names, and de[0].nameoff = 12 × count", () => {
    const dir = dirWith(["b", "a"]);
    const plan = planDirents(dir, dir);
    const out = new Uint8Array(BLOCK_SIZE);
    const used = encodeDirentBlock(plan, 0, (inode) => (inode === dir ? 1 : 7), out, 0);
    expect(used).toBe(4 * 12 + 1 + 2 + 1 + 1);
    const view = new DataView(out.buffer);
    expect(view.getUint16(8, true)).toBe(48);
    expect(new TextDecoder().decode(out.subarray(48, used))).toBe("...ab");
    expect(Number(view.getBigUint64(0, true))).toBe(1);
    expect(out[10]).toBe(2);
  });
});

describe("MetaPacker", () => {
  test("never hands out nid 0 and never lets a record cross a block", () => {
    const packer = new MetaPacker();
    const sizes = [32, 64, 4000, 100, 2000, 3000, 96, 4096, 1500, 4064];
    const offsets = sizes.map((size) => packer.place(size));
    expect(offsets[0]).toBe(32);
    offsets.forEach((offset, i) => {
      expect(offset % 32).toBe(0);
      expect(Math.floor(offset / BLOCK_SIZE)).toBe(Math.floor((offset + sizes[i]! - 1) / BLOCK_SIZE));
    });
  });

  test("fills gaps left in earlier blocks (first fit)", () => {
    const packer = new MetaPacker();
    expect(packer.place(3000)).toBe(32);
    expect(packer.place(3000)).toBe(BLOCK_SIZE);
    expect(packer.place(500)).toBe(3040);
    expect(packer.finish()).toBe(2);
  });

  test("records larger than a block span whole blocks; blocks are evicted in order", () => {
    const evicted: number[] = [];
    const packer = new MetaPacker((block) => evicted.push(block));
    packer.place(64);
    expect(packer.place(9000)).toBe(BLOCK_SIZE);
    for (let i = 0; i < 300; i++) packer.place(4000);
    const total = packer.finish();
    expect(evicted).toEqual(Array.from({ length: total }, (_, i) => i));
  });
});

describe("xattrs", () => {
  test("name indexes, sizes and encoding match mkfs.erofs 1.5", () => {
    const opaque = toXattrEntry("trusted.overlay.opaque", new TextEncoder().encode("y")) as XattrEntry;
    expect(opaque.index).toBe(4);
    const size = xattrAreaSize([opaque]);
    expect(xattrIcount(size)).toBe(6);
    const out = new Uint8Array(size);
    encodeXattrArea([opaque], out, 0);
    expect([...out.subarray(12, 16)]).toEqual([0x0e, 0x04, 0x01, 0x00]);
    expect(new TextDecoder().decode(out.subarray(16, 31))).toBe("overlay.opaquey");
    const foo = toXattrEntry("user.foo", new TextEncoder().encode("bar")) as XattrEntry;
    const fooOut = new Uint8Array(xattrAreaSize([foo]));
    encodeXattrArea([foo], fooOut, 0);
    expect([...fooOut.subarray(12)]).toEqual([3, 1, 3, 0, ...new TextEncoder().encode("foobar"), 0, 0]);
    const acl = toXattrEntry("system.posix_acl_default", new Uint8Array(4)) as XattrEntry;
    expect([acl.index, acl.suffix.length]).toEqual([3, 0]);
    expect(toXattrEntry("system.other", new Uint8Array(1))).toMatch(/not representable/);
    expect(toXattrEntry("user.", new Uint8Array(1))).toMatch(/not representable/);
    expect(xattrAreaSize([])).toBe(0);
  });
});
