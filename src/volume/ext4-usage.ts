// Bytes in use on an ext4 image that nobody has mounted, from its superblock: total blocks
// minus free blocks, times the block size (what `df` shows as used, metadata included). A
// mounted filesystem keeps its free counts in memory, so callers ask statfs for those instead.
import { closeSync, openSync, readSync } from "node:fs";
import { MsbError } from "../errors.ts";

const SUPERBLOCK_OFFSET = 1024;
const SUPERBLOCK_BYTES = 1024;
const EXT4_MAGIC = 0xef53;
const INCOMPAT_64BIT = 0x80;

export interface Ext4Usage {
  totalBytes: number;
  usedBytes: number;
}

/** Reads the usage figures out of a superblock (the 1024 bytes at offset 1024). */
export function parseExt4Usage(superblock: Uint8Array): Ext4Usage {
  if (superblock.byteLength < SUPERBLOCK_BYTES) throw new MsbError("ext4 superblock is truncated");
  const view = new DataView(superblock.buffer, superblock.byteOffset, superblock.byteLength);
  if (view.getUint16(0x38, true) !== EXT4_MAGIC) throw new MsbError("not an ext4 filesystem (bad magic)");
  const blockSize = 1024 * 2 ** view.getUint32(0x18, true);
  const wide = (view.getUint32(0x60, true) & INCOMPAT_64BIT) !== 0;
  const count = (lo: number, hi: number) =>
    view.getUint32(lo, true) + (wide ? view.getUint32(hi, true) * 2 ** 32 : 0);
  const blocks = count(0x4, 0x150);
  const free = count(0xc, 0x158);
  return { totalBytes: blocks * blockSize, usedBytes: Math.max(0, blocks - free) * blockSize };
}

export function readExt4Usage(imagePath: string): Ext4Usage {
  const fd = openSync(imagePath, "r");
  try {
    const superblock = new Uint8Array(SUPERBLOCK_BYTES);
    const read = readSync(fd, superblock, 0, SUPERBLOCK_BYTES, SUPERBLOCK_OFFSET);
    return parseExt4Usage(superblock.subarray(0, read));
  } catch (error) {
    if (error instanceof MsbError) throw new MsbError(`${imagePath}: ${error.message}`, { cause: error });
    throw error;
  } finally {
    closeSync(fd);
  }
}
