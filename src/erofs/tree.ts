// In-memory metadata tree of the image being built. File contents are not here: they are in
// the output file already (full blocks) or in the tail spool. Hard links are one inode object
// referenced from several directory entries. Each directory entry remembers the layer that
// last put or touched it, which is what opaque markers and whiteouts act on.
import type { XattrEntry } from "./xattr.ts";

export interface InodeMeta {
  /** Permission bits including setuid, setgid and sticky. */
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  mtimeNsec: number;
  xattrs: XattrEntry[];
}

export interface FileInode extends InodeMeta {
  kind: "file";
  size: number;
  /** First data block (full blocks; for FLAT_PLAIN also the padded last block). */
  blkaddr: number;
  /** Where the tail (size % 4096 bytes) sits in the spool, or -1 when stored as a padded block. */
  tailSpoolOffset: number;
}

export interface DirInode extends InodeMeta {
  kind: "dir";
  children: Map<string, DirChild>;
}

export interface SymlinkInode extends InodeMeta {
  kind: "symlink";
  target: Uint8Array;
  /** Block holding the target when it is too long to go inline; null when inline. */
  blkaddr: number | null;
}

export interface DeviceInode extends InodeMeta {
  kind: "char" | "block";
  major: number;
  minor: number;
}

export interface FifoInode extends InodeMeta {
  kind: "fifo";
}

export type Inode = FileInode | DirInode | SymlinkInode | DeviceInode | FifoInode;

export interface DirChild {
  inode: Inode;
  /** Index of the layer that last created, re-declared or walked through this entry. */
  layer: number;
}

/** Metadata of directories nobody declared (implicit parents, the initial root). */
export function implicitDirMeta(): InodeMeta {
  return { mode: 0o755, uid: 0, gid: 0, mtime: 0, mtimeNsec: 0, xattrs: [] };
}

export function newDir(meta: InodeMeta): DirInode {
  return { kind: "dir", ...meta, children: new Map() };
}

/** The entry at `parts` without following symlinks, or undefined when a component is missing. */
export function lookupPath(root: DirInode, parts: readonly string[]): Inode | undefined {
  let node: Inode = root;
  for (const part of parts) {
    if (node.kind !== "dir") return undefined;
    const child: DirChild | undefined = node.children.get(part);
    if (child === undefined) return undefined;
    node = child.inode;
  }
  return node;
}
