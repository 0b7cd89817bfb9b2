// Block 0: 1024 zero bytes, the 128-byte superblock, zeros; checksummed last because the
// checksum covers the rest of the block (reference/erofs.md §1).
import { erofsCrc32c } from "./crc32c.ts";
import {
  BLOCK_BITS,
  BLOCK_SIZE,
  EROFS_MAGIC,
  FEATURE_COMPAT_SB_CHKSUM,
  SUPERBLOCK_OFFSET,
} from "./format.ts";

export interface SuperblockFields {
  rootNid: number;
  inodeCount: number;
  buildTime: { sec: number; nsec: number };
  totalBlocks: number;
  metaBlkaddr: number;
  uuid: Uint8Array;
}

export function encodeBlockZero(fields: SuperblockFields): Uint8Array {
  if (fields.rootNid > 0xffff) throw new Error(`root nid ${fields.rootNid} does not fit in 16 bits`);
  const block = new Uint8Array(BLOCK_SIZE);
  const view = new DataView(block.buffer, SUPERBLOCK_OFFSET, 128);
  view.setUint32(0x00, EROFS_MAGIC, true);
  view.setUint32(0x08, FEATURE_COMPAT_SB_CHKSUM, true);
  view.setUint8(0x0c, BLOCK_BITS);
  view.setUint16(0x0e, fields.rootNid, true);
  view.setBigUint64(0x10, BigInt(fields.inodeCount), true);
  view.setBigUint64(0x18, BigInt(fields.buildTime.sec), true);
  view.setUint32(0x20, fields.buildTime.nsec, true);
  view.setUint32(0x24, fields.totalBlocks, true);
  view.setUint32(0x28, fields.metaBlkaddr, true);
  block.set(fields.uuid.subarray(0, 16), SUPERBLOCK_OFFSET + 0x30);
  view.setUint32(0x04, erofsCrc32c(block.subarray(SUPERBLOCK_OFFSET)), true);
  return block;
}
