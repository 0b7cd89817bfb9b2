// EROFS on-disk constants for uncompressed images with 4 KiB blocks (reference/erofs.md).
export const BLOCK_SIZE = 4096;
export const BLOCK_BITS = 12;
export const SUPERBLOCK_OFFSET = 1024;
export const EROFS_MAGIC = 0xe0f5e1e2;
export const FEATURE_COMPAT_SB_CHKSUM = 0x1;

export const COMPACT_INODE_SIZE = 32;
export const EXTENDED_INODE_SIZE = 64;
/** Inodes start on 32-byte slots; nid = slot index relative to meta_blkaddr. */
export const INODE_SLOT = 32;

export const LAYOUT_FLAT_PLAIN = 0;
export const LAYOUT_FLAT_INLINE = 2;
/** raw_blkaddr of an inline inode without full blocks (what mkfs writes). */
export const NULL_BLKADDR = 0xffffffff;

export const MAX_NAME_BYTES = 255;
export const DIRENT_SIZE = 12;

/** Dirent file_type codes (Linux FT_*). */
export const FileType = {
  regular: 1,
  dir: 2,
  char: 3,
  block: 4,
  fifo: 5,
  symlink: 7,
} as const;

export const S_IFMT = {
  file: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  char: 0o020000,
  block: 0o060000,
  fifo: 0o010000,
} as const;

/** Linux new_encode_dev: what the kernel expects in i_u for device inodes. */
export function encodeRdev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}
