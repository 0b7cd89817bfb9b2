// Encoding of compact (32-byte) and extended (64-byte) inodes (reference/erofs.md §2).
import { BLOCK_SIZE, encodeRdev, LAYOUT_FLAT_INLINE, NULL_BLKADDR, S_IFMT } from "./format.ts";
import type { InodePlan } from "./layout.ts";
import { xattrIcount } from "./xattr.ts";

/** Writes the inode of `plan` at `offset` of `out` (zeroed); returns its size. */
export function encodeInode(plan: InodePlan, ino: number, out: Uint8Array, offset: number): number {
  const { inode } = plan;
  const view = new DataView(out.buffer, out.byteOffset + offset, plan.extended ? 64 : 32);
  const format = (plan.extended ? 1 : 0) | (plan.layout << 1);
  view.setUint16(0x00, format, true);
  view.setUint16(0x02, xattrIcount(plan.xattrSize), true);
  view.setUint16(0x04, S_IFMT[inode.kind] | inode.mode, true);
  const size = inodeSize(plan);
  const iu = rawBlkaddrOrRdev(plan);
  if (!plan.extended) {
    view.setUint16(0x06, plan.nlink, true);
    view.setUint32(0x08, size, true);
    view.setUint32(0x10, iu, true);
    view.setUint32(0x14, ino >>> 0, true);
    view.setUint16(0x18, inode.uid, true);
    view.setUint16(0x1a, inode.gid, true);
    return 32;
  }
  view.setBigUint64(0x08, BigInt(size), true);
  view.setUint32(0x10, iu, true);
  view.setUint32(0x14, ino >>> 0, true);
  view.setUint32(0x18, inode.uid, true);
  view.setUint32(0x1c, inode.gid, true);
  view.setBigInt64(0x20, BigInt(inode.mtime), true);
  view.setUint32(0x28, inode.mtimeNsec, true);
  view.setUint32(0x2c, plan.nlink, true);
  return 64;
}

function inodeSize(plan: InodePlan): number {
  const { inode } = plan;
  if (inode.kind === "file") return inode.size;
  if (inode.kind === "symlink") return inode.target.length;
  return plan.dir?.dirents.size ?? 0;
}

/** i_u: the first block for files, directories and symlinks, the device number for devices. */
function rawBlkaddrOrRdev(plan: InodePlan): number {
  const { inode } = plan;
  switch (inode.kind) {
    case "file":
      if (inode.size === 0) return 0;
      if (plan.layout === LAYOUT_FLAT_INLINE && inode.size < BLOCK_SIZE) return NULL_BLKADDR;
      return inode.blkaddr;
    case "symlink":
      return inode.blkaddr ?? NULL_BLKADDR;
    case "dir":
      return plan.dir === null || plan.dir.blocks === 0 ? NULL_BLKADDR : plan.dir.blkaddr;
    case "char":
    case "block":
      return encodeRdev(inode.major, inode.minor);
    case "fifo":
      return 0;
  }
}
