// Directory contents: entries (including "." and "..") sorted by unsigned byte order across
// the whole directory, split into self-contained 4 KiB blocks of dirents followed by names
// (reference/erofs.md §3).
import { BLOCK_SIZE, DIRENT_SIZE, FileType } from "./format.ts";
import type { DirInode, Inode } from "./tree.ts";

export interface DirentRef {
  name: Uint8Array;
  inode: Inode;
}

export interface DirentPlan {
  entries: DirentRef[];
  /** Index of the first entry of each block, plus entries.length at the end. */
  blockStarts: number[];
  /** i_size: full blocks plus the bytes used in the last one. */
  size: number;
}

const DOT = new Uint8Array([0x2e]);
const DOTDOT = new Uint8Array([0x2e, 0x2e]);

export function planDirents(dir: DirInode, parent: DirInode): DirentPlan {
  const entries: DirentRef[] = [
    { name: DOT, inode: dir },
    { name: DOTDOT, inode: parent },
  ];
  for (const [name, child] of dir.children) {
    entries.push({ name: Buffer.from(name, "utf8"), inode: child.inode });
  }
  entries.sort((a, b) => Buffer.compare(a.name, b.name));
  const blockStarts = [0];
  let used = 0;
  entries.forEach((entry, index) => {
    if (used + DIRENT_SIZE + entry.name.length > BLOCK_SIZE) {
      blockStarts.push(index);
      used = 0;
    }
    used += DIRENT_SIZE + entry.name.length;
  });
  blockStarts.push(entries.length);
  return { entries, blockStarts, size: (blockStarts.length - 2) * BLOCK_SIZE + used };
}

export function direntBlockCount(plan: DirentPlan): number {
  return plan.blockStarts.length - 1;
}

/** Encodes block `block` of the directory at `offset` of `out` (zeroed); returns bytes used. */
export function encodeDirentBlock(
  plan: DirentPlan,
  block: number,
  nidOf: (inode: Inode) => number,
  out: Uint8Array,
  offset: number,
): number {
  const start = plan.blockStarts[block] ?? 0;
  const end = plan.blockStarts[block + 1] ?? start;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let nameOffset = (end - start) * DIRENT_SIZE;
  for (let i = start; i < end; i++) {
    const entry = plan.entries[i]!;
    const at = offset + (i - start) * DIRENT_SIZE;
    view.setBigUint64(at, BigInt(nidOf(entry.inode)), true);
    view.setUint16(at + 8, nameOffset, true);
    out[at + 10] = fileTypeOf(entry.inode);
    out.set(entry.name, offset + nameOffset);
    nameOffset += entry.name.length;
  }
  return nameOffset;
}

function fileTypeOf(inode: Inode): number {
  switch (inode.kind) {
    case "file":
      return FileType.regular;
    case "dir":
      return FileType.dir;
    case "symlink":
      return FileType.symlink;
    case "char":
      return FileType.char;
    case "block":
      return FileType.block;
    case "fifo":
      return FileType.fifo;
  }
}
