// Placement of inode records (inode + xattrs + inline data) in the metadata area. An inline
// record must not cross a block boundary, so records are packed first-fit into a window of
// recently opened blocks instead of strictly one after another, which would waste up to a
// record's size at every block end. Blocks leave the window lowest-numbered first, so a writer
// replaying the same placements can stream finished blocks out sequentially.
import { BLOCK_SIZE, INODE_SLOT } from "./format.ts";

const WINDOW_BLOCKS = 64;

interface OpenBlock {
  block: number;
  used: number;
}

export class MetaPacker {
  private readonly open: OpenBlock[] = [];
  private nextBlock = 0;

  /** @param onEvict called with each block that can no longer receive records, in order. */
  constructor(private readonly onEvict: (block: number) => void = () => {}) {
    // Slot 0 stays empty: nid 0 shows up as inode number 0, which tools treat as "no inode".
    this.openBlocks(1, INODE_SLOT);
  }

  /** Reserves `size` bytes; returns their byte offset in the metadata area (32-aligned). */
  place(size: number): number {
    // Evicting here, not when opening, lets the caller fill the blocks of the previous record
    // (which may be more than a window's worth) before any of them is flushed.
    while (this.open.length > WINDOW_BLOCKS) this.evictOldest();
    if (size <= BLOCK_SIZE) {
      for (const candidate of this.open) {
        if (candidate.used + size <= BLOCK_SIZE) {
          const offset = candidate.block * BLOCK_SIZE + candidate.used;
          candidate.used = alignSlot(candidate.used + size);
          return offset;
        }
      }
    }
    // Records larger than a block (huge xattr areas) start on a fresh block and span on.
    const blocks = Math.ceil(size / BLOCK_SIZE);
    const first = this.openBlocks(blocks, alignSlot(size - (blocks - 1) * BLOCK_SIZE));
    return first * BLOCK_SIZE;
  }

  /** Closes every block; returns the number of blocks the metadata area uses. */
  finish(): number {
    while (this.open.length > 0) this.evictOldest();
    return this.nextBlock;
  }

  private openBlocks(count: number, usedInLast: number): number {
    const first = this.nextBlock;
    for (let i = 0; i < count; i++) {
      this.open.push({ block: this.nextBlock++, used: i === count - 1 ? usedInLast : BLOCK_SIZE });
    }
    return first;
  }

  private evictOldest(): void {
    const oldest = this.open.shift();
    if (oldest !== undefined) this.onEvict(oldest.block);
  }
}

function alignSlot(bytes: number): number {
  return Math.ceil(bytes / INODE_SLOT) * INODE_SLOT;
}
