// Writes the metadata area, the directory blocks and block 0 of an image whose data area is
// already on disk, following the decisions in layout.ts. Metadata blocks are assembled in a
// small window and streamed out in order; nothing proportional to the image is buffered.
import type { FileHandle } from "node:fs/promises";
import { BufferedWriter } from "./buffered-writer.ts";
import { encodeDirentBlock } from "./dirent.ts";
import { BLOCK_SIZE, INODE_SLOT } from "./format.ts";
import { encodeInode } from "./inode.ts";
import { type ImageLayout, type InodePlan, recordSize } from "./layout.ts";
import { MetaPacker } from "./meta-packer.ts";
import { SpoolReader } from "./spool-reader.ts";
import { encodeBlockZero } from "./superblock.ts";
import { encodeXattrArea } from "./xattr.ts";

export async function writeMetadata(
  image: FileHandle,
  spool: FileHandle,
  layout: ImageLayout,
  uuid: Uint8Array,
): Promise<void> {
  await writeInodes(image, spool, layout);
  await writeDirBlocks(image, layout);
  const root = layout.plans[0]!;
  const blockZero = encodeBlockZero({
    rootNid: root.nid,
    inodeCount: layout.plans.length,
    buildTime: layout.buildTime,
    totalBlocks: layout.totalBlocks,
    metaBlkaddr: layout.metaBlkaddr,
    uuid,
  });
  await image.write(blockZero, 0, BLOCK_SIZE, 0);
  await image.truncate(layout.totalBlocks * BLOCK_SIZE);
}

async function writeInodes(image: FileHandle, spool: FileHandle, layout: ImageLayout): Promise<void> {
  const out = new BufferedWriter(image, layout.metaBlkaddr * BLOCK_SIZE);
  const window = new Map<number, Uint8Array>();
  const evicted: number[] = [];
  const packer = new MetaPacker((block) => evicted.push(block));
  const tails = new SpoolReader(spool);
  let scratch = new Uint8Array(BLOCK_SIZE);
  let nextBlock = 0;
  const flushEvicted = async () => {
    for (const block of evicted.splice(0)) {
      if (block !== nextBlock++) throw new Error(`metadata block ${block} evicted out of order`);
      await out.write(window.get(block) ?? new Uint8Array(BLOCK_SIZE));
      window.delete(block);
    }
  };
  for (const [index, plan] of layout.plans.entries()) {
    const size = recordSize(plan);
    const offset = packer.place(size);
    if (offset !== plan.nid * INODE_SLOT) throw new Error(`inode placement diverged at nid ${plan.nid}`);
    if (scratch.length < size) scratch = new Uint8Array(size);
    scratch.fill(0, 0, size);
    await encodeRecord(plan, index, layout, tails, scratch);
    copyIntoWindow(window, offset, scratch.subarray(0, size));
    await flushEvicted();
  }
  packer.finish();
  await flushEvicted();
  await out.flush();
}

async function encodeRecord(
  plan: InodePlan,
  ino: number,
  layout: ImageLayout,
  tails: SpoolReader,
  out: Uint8Array,
): Promise<void> {
  let pos = encodeInode(plan, ino, out, 0);
  pos += encodeXattrArea(plan.inode.xattrs, out, pos);
  if (plan.inlineSize === 0) return;
  const { inode } = plan;
  if (inode.kind === "file") out.set(await tails.read(inode.tailSpoolOffset, plan.inlineSize), pos);
  else if (inode.kind === "symlink") out.set(inode.target, pos);
  else if (plan.dir !== null) {
    const lastBlock = plan.dir.dirents.blockStarts.length - 2;
    encodeDirentBlock(plan.dir.dirents, lastBlock, nidLookup(layout), out, pos);
  }
}

function copyIntoWindow(window: Map<number, Uint8Array>, offset: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    const block = Math.floor((offset + done) / BLOCK_SIZE);
    const within = (offset + done) % BLOCK_SIZE;
    let buffer = window.get(block);
    if (buffer === undefined) {
      buffer = new Uint8Array(BLOCK_SIZE);
      window.set(block, buffer);
    }
    const take = Math.min(bytes.length - done, BLOCK_SIZE - within);
    buffer.set(bytes.subarray(done, done + take), within);
    done += take;
  }
}

async function writeDirBlocks(image: FileHandle, layout: ImageLayout): Promise<void> {
  const out = new BufferedWriter(image, layout.dirAreaBlkaddr * BLOCK_SIZE);
  const block = new Uint8Array(BLOCK_SIZE);
  const nidOf = nidLookup(layout);
  for (const plan of layout.plans) {
    if (plan.dir === null) continue;
    for (let index = 0; index < plan.dir.blocks; index++) {
      block.fill(0);
      encodeDirentBlock(plan.dir.dirents, index, nidOf, block, 0);
      await out.write(block);
    }
  }
  await out.flush();
}

function nidLookup(layout: ImageLayout): (inode: InodePlan["inode"]) => number {
  return (inode) => {
    const nid = layout.nidOf.get(inode);
    if (nid === undefined) throw new Error("directory entry points to an inode without a nid");
    return nid;
  };
}
