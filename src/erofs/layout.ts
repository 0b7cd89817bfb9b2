// Layout of the metadata once every layer is applied: which inodes exist (hard links counted
// once), their link counts, compact or extended form, inline or plain data, their nids, and
// where directory blocks go. Image order: block 0 superblock, data area, metadata area,
// directory blocks. Nothing is written here; writer.ts replays these decisions.
import { type DirentPlan, direntBlockCount, planDirents } from "./dirent.ts";
import {
  BLOCK_SIZE,
  COMPACT_INODE_SIZE,
  EXTENDED_INODE_SIZE,
  INODE_SLOT,
  LAYOUT_FLAT_INLINE,
  LAYOUT_FLAT_PLAIN,
} from "./format.ts";
import { MetaPacker } from "./meta-packer.ts";
import type { DirInode, Inode } from "./tree.ts";
import { xattrAreaSize } from "./xattr.ts";

export interface InodePlan {
  inode: Inode;
  nid: number;
  nlink: number;
  extended: boolean;
  xattrSize: number;
  layout: typeof LAYOUT_FLAT_PLAIN | typeof LAYOUT_FLAT_INLINE;
  /** Bytes of data stored right after the inode and its xattrs. */
  inlineSize: number;
  dir: { dirents: DirentPlan; blocks: number; blkaddr: number } | null;
}

export interface ImageLayout {
  /** In placement order; the root comes first. */
  plans: InodePlan[];
  nidOf: Map<Inode, number>;
  buildTime: { sec: number; nsec: number };
  metaBlkaddr: number;
  dirAreaBlkaddr: number;
  totalBlocks: number;
}

const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;

export function planImage(root: DirInode, dataEndBlock: number): ImageLayout {
  const { plans, dirents } = collectInodes(root);
  const buildTime = mostCommonMtime(plans);
  for (const plan of plans) decideForm(plan, buildTime, dirents.get(plan.inode));
  const ordered = placementOrder(plans);
  const packer = new MetaPacker();
  const nidOf = new Map<Inode, number>();
  for (const plan of ordered) {
    plan.nid = packer.place(recordSize(plan)) / INODE_SLOT;
    nidOf.set(plan.inode, plan.nid);
  }
  const metaBlkaddr = dataEndBlock;
  const dirAreaBlkaddr = metaBlkaddr + packer.finish();
  let nextDirBlock = dirAreaBlkaddr;
  for (const plan of ordered) {
    if (plan.dir === null || plan.dir.blocks === 0) continue;
    plan.dir.blkaddr = nextDirBlock;
    nextDirBlock += plan.dir.blocks;
  }
  if (nextDirBlock > MAX_U32) throw new Error(`image of ${nextDirBlock} blocks exceeds the EROFS limit`);
  return { plans: ordered, nidOf, buildTime, metaBlkaddr, dirAreaBlkaddr, totalBlocks: nextDirBlock };
}

/** Bytes of an inode record: inode, xattr area and inline data. */
export function recordSize(plan: InodePlan): number {
  return (plan.extended ? EXTENDED_INODE_SIZE : COMPACT_INODE_SIZE) + plan.xattrSize + plan.inlineSize;
}

/** Every inode once, in depth-first order, with link counts and directory contents. */
function collectInodes(root: DirInode): { plans: InodePlan[]; dirents: Map<Inode, DirentPlan> } {
  const plans: InodePlan[] = [];
  const planOf = new Map<Inode, InodePlan>();
  const dirents = new Map<Inode, DirentPlan>();
  const stack: [DirInode, DirInode][] = [[root, root]];
  const visit = (inode: Inode): void => {
    const known = planOf.get(inode);
    if (known !== undefined) {
      known.nlink++;
      return;
    }
    const plan: InodePlan = {
      inode,
      nid: 0,
      nlink: 1,
      extended: false,
      xattrSize: xattrAreaSize(inode.xattrs),
      layout: LAYOUT_FLAT_PLAIN,
      inlineSize: 0,
      dir: null,
    };
    planOf.set(inode, plan);
    plans.push(plan);
  };
  visit(root);
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [dir, parent] = next;
    const plan = dirents.set(dir, planDirents(dir, parent)).get(dir)!;
    const subdirs: DirInode[] = [];
    for (const entry of plan.entries) {
      if (entry.inode === dir || entry.inode === parent) continue;
      visit(entry.inode);
      if (entry.inode.kind === "dir") subdirs.push(entry.inode);
    }
    planOf.get(dir)!.nlink = 2 + subdirs.length;
    for (const subdir of subdirs.reverse()) stack.push([subdir, dir]);
  }
  return { plans, dirents };
}

/** The most common non-negative mtime becomes build_time, so most inodes can be compact. */
function mostCommonMtime(plans: InodePlan[]): { sec: number; nsec: number } {
  const counts = new Map<string, number>();
  let best = { sec: 0, nsec: 0 };
  let bestCount = 0;
  for (const { inode } of plans) {
    if (inode.mtime < 0) continue;
    const key = `${inode.mtime}.${inode.mtimeNsec}`;
    const count = (counts.get(key) ?? 0) + 1;
    counts.set(key, count);
    if (count > bestCount) {
      best = { sec: inode.mtime, nsec: inode.mtimeNsec };
      bestCount = count;
    }
  }
  return best;
}

function decideForm(plan: InodePlan, buildTime: { sec: number; nsec: number }, dirents?: DirentPlan): void {
  const { inode } = plan;
  const size = inode.kind === "file" ? inode.size : (dirents?.size ?? 0);
  plan.extended =
    size > MAX_U32 ||
    inode.uid > MAX_U16 ||
    inode.gid > MAX_U16 ||
    plan.nlink > MAX_U16 ||
    inode.mtime !== buildTime.sec ||
    inode.mtimeNsec !== buildTime.nsec;
  const inodeSize = plan.extended ? EXTENDED_INODE_SIZE : COMPACT_INODE_SIZE;
  if (inode.kind === "file" && inode.tailSpoolOffset >= 0) {
    plan.layout = LAYOUT_FLAT_INLINE;
    plan.inlineSize = inode.size % BLOCK_SIZE;
  } else if (inode.kind === "symlink" && inode.blkaddr === null) {
    plan.layout = LAYOUT_FLAT_INLINE;
    plan.inlineSize = inode.target.length;
  } else if (dirents !== undefined) {
    const blocks = direntBlockCount(dirents);
    const lastUsed = dirents.size - (blocks - 1) * BLOCK_SIZE;
    const inline = lastUsed < BLOCK_SIZE && inodeSize + plan.xattrSize + lastUsed <= BLOCK_SIZE;
    plan.layout = inline ? LAYOUT_FLAT_INLINE : LAYOUT_FLAT_PLAIN;
    plan.inlineSize = inline ? lastUsed : 0;
    plan.dir = { dirents, blocks: inline ? blocks - 1 : blocks, blkaddr: 0 };
  }
}

/**
 * Root first (its nid must fit the superblock's 16 bits), then directories, symlinks and
 * special files, then files with spooled tails in spool order, so the writer reads the spool
 * front to back.
 */
function placementOrder(plans: InodePlan[]): InodePlan[] {
  const spooled: InodePlan[] = [];
  const rest: InodePlan[] = [];
  for (const plan of plans) {
    const { inode } = plan;
    if (inode.kind === "file" && inode.tailSpoolOffset >= 0) spooled.push(plan);
    else rest.push(plan);
  }
  const spoolOffset = (plan: InodePlan) => (plan.inode.kind === "file" ? plan.inode.tailSpoolOffset : 0);
  spooled.sort((a, b) => spoolOffset(a) - spoolOffset(b));
  return [...rest, ...spooled];
}
