// Reads an uncompressed EROFS image back into a flat list of paths with full metadata. It is
// an independent decoder of the format in reference/erofs.md, used to verify what the writer
// produced (tests) and to inspect images; it checks the invariants fsck.erofs 1.5 does not
// (superblock checksum, dirent order across blocks, file types against modes).
import { readFileSync } from "node:fs";
import { erofsCrc32c } from "../../src/erofs/crc32c.ts";
import {
  BLOCK_SIZE,
  EROFS_MAGIC,
  LAYOUT_FLAT_INLINE,
  LAYOUT_FLAT_PLAIN,
  S_IFMT,
  SUPERBLOCK_OFFSET,
} from "../../src/erofs/format.ts";

const S_IFMT_MASK = 0o170000;
const S_IFSOCK = 0o140000;

export interface ErofsEntry {
  path: string;
  nid: number;
  /** Extended (64-byte) rather than compact inode. */
  extended: boolean;
  /** Data layout: 0 FLAT_PLAIN, 2 FLAT_INLINE. */
  layout: number;
  type: "file" | "dir" | "symlink" | "char" | "block" | "fifo" | "socket";
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  mtimeNsec: number;
  nlink: number;
  size: number;
  /** File contents, symlink target bytes, or raw directory bytes. */
  data: Uint8Array;
  rdev: { major: number; minor: number };
  xattrs: Map<string, Uint8Array>;
}

export interface ErofsSuperblock {
  rootNid: number;
  inodeCount: number;
  buildTime: number;
  buildTimeNsec: number;
  blocks: number;
  metaBlkaddr: number;
}

/** A Map, because biome's useSimpleNumberKeys fix rewrites octal object keys wrongly. */
const TYPE_BY_FORMAT = new Map<number, ErofsEntry["type"]>([
  [S_IFMT.file, "file"],
  [S_IFMT.dir, "dir"],
  [S_IFMT.symlink, "symlink"],
  [S_IFMT.char, "char"],
  [S_IFMT.block, "block"],
  [S_IFMT.fifo, "fifo"],
  [S_IFSOCK, "socket"],
]);
const FILE_TYPE_CODE: Record<ErofsEntry["type"], number> = {
  file: 1,
  dir: 2,
  char: 3,
  block: 4,
  fifo: 5,
  socket: 6,
  symlink: 7,
};
const XATTR_PREFIX: Record<number, string> = {
  1: "user.",
  2: "system.posix_acl_access",
  3: "system.posix_acl_default",
  4: "trusted.",
  6: "security.",
};

export function readErofsFile(path: string): {
  superblock: ErofsSuperblock;
  entries: Map<string, ErofsEntry>;
} {
  return readErofsImage(new Uint8Array(readFileSync(path)));
}

export function readErofsImage(image: Uint8Array): {
  superblock: ErofsSuperblock;
  entries: Map<string, ErofsEntry>;
} {
  const superblock = readSuperblock(image);
  const entries = new Map<string, ErofsEntry>();
  const walk = (nid: number, path: string, parentNid: number): void => {
    const entry = readInode(image, superblock, nid, path);
    entries.set(path, entry);
    if (entry.type !== "dir") return;
    const dirents = readDirents(entry.data, path);
    const dot = dirents.find((d) => d.name === ".");
    const dotdot = dirents.find((d) => d.name === "..");
    if (dot?.nid !== nid || dotdot?.nid !== parentNid) throw new Error(`bad . or .. in "${path}"`);
    for (const dirent of dirents) {
      if (dirent.name === "." || dirent.name === "..") continue;
      const childPath = path === "/" ? `/${dirent.name}` : `${path}/${dirent.name}`;
      walk(dirent.nid, childPath, nid);
      const child = entries.get(childPath)!;
      if (FILE_TYPE_CODE[child.type] !== dirent.fileType)
        throw new Error(`file type mismatch at "${childPath}"`);
    }
  };
  walk(superblock.rootNid, "/", superblock.rootNid);
  return { superblock, entries };
}

function readSuperblock(image: Uint8Array): ErofsSuperblock {
  const view = new DataView(image.buffer, image.byteOffset + SUPERBLOCK_OFFSET, 128);
  if (view.getUint32(0, true) !== EROFS_MAGIC) throw new Error("not an EROFS image");
  if (view.getUint8(0x0c) !== 12) throw new Error("block size is not 4096");
  const blockZero = image.slice(SUPERBLOCK_OFFSET, BLOCK_SIZE);
  blockZero.fill(0, 4, 8);
  if ((view.getUint32(8, true) & 1) !== 0 && erofsCrc32c(blockZero) !== view.getUint32(4, true)) {
    throw new Error("superblock checksum mismatch");
  }
  const blocks = view.getUint32(0x24, true);
  if (image.length !== blocks * BLOCK_SIZE)
    throw new Error(`image is ${image.length} bytes, not ${blocks} blocks`);
  return {
    rootNid: view.getUint16(0x0e, true),
    inodeCount: Number(view.getBigUint64(0x10, true)),
    buildTime: Number(view.getBigUint64(0x18, true)),
    buildTimeNsec: view.getUint32(0x20, true),
    blocks,
    metaBlkaddr: view.getUint32(0x28, true),
  };
}

function readInode(image: Uint8Array, sb: ErofsSuperblock, nid: number, path: string): ErofsEntry {
  const at = sb.metaBlkaddr * BLOCK_SIZE + nid * 32;
  const view = new DataView(image.buffer, image.byteOffset + at);
  const format = view.getUint16(0, true);
  const extended = (format & 1) === 1;
  const layout = (format >> 1) & 7;
  if (format >> 4 !== 0) throw new Error(`reserved i_format bits at "${path}"`);
  const icount = view.getUint16(2, true);
  const xattrSize = icount === 0 ? 0 : 12 + 4 * (icount - 1);
  const mode = view.getUint16(4, true);
  const type = TYPE_BY_FORMAT.get(mode & S_IFMT_MASK);
  if (type === undefined) throw new Error(`bogus i_mode ${mode.toString(8)} at "${path}"`);
  const inodeSize = extended ? 64 : 32;
  const size = extended ? Number(view.getBigUint64(8, true)) : view.getUint32(8, true);
  const iu = view.getUint32(0x10, true);
  const xattrs = readXattrs(image.subarray(at + inodeSize, at + inodeSize + xattrSize));
  const inlineAt = at + inodeSize + xattrSize;
  return {
    path,
    nid,
    extended,
    layout,
    type,
    mode: mode & 0o7777,
    uid: extended ? view.getUint32(0x18, true) : view.getUint16(0x18, true),
    gid: extended ? view.getUint32(0x1c, true) : view.getUint16(0x1a, true),
    mtime: extended ? Number(view.getBigInt64(0x20, true)) : sb.buildTime,
    mtimeNsec: extended ? view.getUint32(0x28, true) : sb.buildTimeNsec,
    nlink: extended ? view.getUint32(0x2c, true) : view.getUint16(6, true),
    size,
    data:
      type === "char" || type === "block"
        ? new Uint8Array(0)
        : readData(image, layout, iu, size, inlineAt, path),
    rdev: { major: (iu >>> 8) & 0xfff, minor: (iu & 0xff) | ((iu >>> 12) & 0xfff00) },
    xattrs,
  };
}

function readData(
  image: Uint8Array,
  layout: number,
  iu: number,
  size: number,
  inlineAt: number,
  path: string,
) {
  if (layout === LAYOUT_FLAT_PLAIN) return image.subarray(iu * BLOCK_SIZE, iu * BLOCK_SIZE + size);
  if (layout !== LAYOUT_FLAT_INLINE || size % BLOCK_SIZE === 0) throw new Error(`bad layout at "${path}"`);
  const tail = size % BLOCK_SIZE;
  if ((inlineAt % BLOCK_SIZE) + tail > BLOCK_SIZE)
    throw new Error(`inline data crosses a block at "${path}"`);
  const out = new Uint8Array(size);
  out.set(image.subarray(iu * BLOCK_SIZE, iu * BLOCK_SIZE + size - tail));
  out.set(image.subarray(inlineAt, inlineAt + tail), size - tail);
  return out;
}

function readDirents(data: Uint8Array, path: string): { name: string; nid: number; fileType: number }[] {
  const dirents: { name: string; nid: number; fileType: number; raw: Uint8Array }[] = [];
  for (let start = 0; start < data.length; start += BLOCK_SIZE) {
    const block = data.subarray(start, Math.min(start + BLOCK_SIZE, data.length));
    const view = new DataView(block.buffer, block.byteOffset, block.length);
    const count = view.getUint16(8, true) / 12;
    for (let i = 0; i < count; i++) {
      const nameOff = view.getUint16(i * 12 + 8, true);
      let nameEnd = i + 1 < count ? view.getUint16((i + 1) * 12 + 8, true) : block.length;
      if (i + 1 === count) {
        const nul = block.indexOf(0, nameOff);
        if (nul !== -1) nameEnd = nul;
      }
      const raw = block.subarray(nameOff, nameEnd);
      const previous = dirents.at(-1);
      if (previous && Buffer.compare(previous.raw, raw) >= 0)
        throw new Error(`dirent order broken in "${path}"`);
      dirents.push({
        name: Buffer.from(raw).toString("utf8"),
        nid: Number(view.getBigUint64(i * 12, true)),
        fileType: block[i * 12 + 10] ?? 0,
        raw,
      });
    }
  }
  return dirents;
}

function readXattrs(area: Uint8Array): Map<string, Uint8Array> {
  const xattrs = new Map<string, Uint8Array>();
  if (area.length === 0) return xattrs;
  if (area[4] !== 0) throw new Error("shared xattrs are not expected");
  let pos = 12;
  while (pos < area.length) {
    const nameLength = area[pos] ?? 0;
    const index = area[pos + 1] ?? 0;
    const valueSize = (area[pos + 2] ?? 0) | ((area[pos + 3] ?? 0) << 8);
    const suffix = Buffer.from(area.subarray(pos + 4, pos + 4 + nameLength)).toString("utf8");
    const value = area.slice(pos + 4 + nameLength, pos + 4 + nameLength + valueSize);
    xattrs.set(`${XATTR_PREFIX[index] ?? `?${index}.`}${suffix}`, value);
    pos += (4 + nameLength + valueSize + 3) & ~3;
  }
  return xattrs;
}
