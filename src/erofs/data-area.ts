// The data area of the image: file contents streamed straight from the tar into contiguous
// blocks from block 1 on, as the entries arrive. A file whose tail can go inline (next to its
// inode) has only its full blocks here and its tail appended to the tail spool, a temporary
// file read back in order when the metadata is written. Spooling keeps memory flat however
// many small files a layer has, while tail packing saves up to a block per file (tens of MB
// for images with many small files) compared with FLAT_PLAIN for everything.
// Contents of files that a later entry replaces or deletes stay behind as unreferenced blocks.
import type { BufferedWriter } from "./buffered-writer.ts";
import { BLOCK_SIZE } from "./format.ts";

export interface StoredData {
  blkaddr: number;
  /** Offset of the tail in the spool, or -1 when the file ends in a padded block. */
  tailSpoolOffset: number;
}

export class DataArea {
  constructor(
    private readonly image: BufferedWriter,
    private readonly spool: BufferedWriter,
  ) {}

  /** The first block after the data written so far. */
  get nextBlock(): number {
    return Math.ceil(this.image.position / BLOCK_SIZE);
  }

  async writeFile(body: AsyncIterable<Uint8Array>, size: number, inlineTail: boolean): Promise<StoredData> {
    const blkaddr = this.nextBlock;
    const tailLength = inlineTail ? size % BLOCK_SIZE : 0;
    const tailSpoolOffset = inlineTail ? this.spool.position : -1;
    const blockBytes = size - tailLength;
    let written = 0;
    for await (const chunk of body) {
      const toBlocks = Math.max(0, Math.min(chunk.length, blockBytes - written));
      if (toBlocks === chunk.length) await this.image.write(chunk);
      else if (toBlocks > 0) await this.image.write(chunk.subarray(0, toBlocks));
      if (toBlocks < chunk.length) await this.spool.write(chunk.subarray(toBlocks));
      written += chunk.length;
    }
    if (written !== size) throw new Error(`file data has ${written} bytes, header says ${size}`);
    await this.image.padToBlock();
    return { blkaddr, tailSpoolOffset };
  }

  /** Stores `bytes` in their own zero-padded blocks; returns the first block. */
  async writeBlocks(bytes: Uint8Array): Promise<number> {
    const blkaddr = this.nextBlock;
    await this.image.write(bytes);
    await this.image.padToBlock();
    return blkaddr;
  }
}
