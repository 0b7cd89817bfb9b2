// Forward reader of the tail spool: the writer asks for tails in increasing offset order, so
// one large read serves many small tails.
import type { FileHandle } from "node:fs/promises";

const READ_SIZE = 1 << 20;

export class SpoolReader {
  private readonly buffer = new Uint8Array(READ_SIZE);
  private start = 0;
  private length = 0;

  constructor(private readonly handle: FileHandle) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < this.start || offset + length > this.start + this.length) {
      this.start = offset;
      this.length = 0;
      while (this.length < length) {
        const { bytesRead } = await this.handle.read(
          this.buffer,
          this.length,
          READ_SIZE - this.length,
          offset + this.length,
        );
        if (bytesRead === 0) throw new Error(`tail spool ends before byte ${offset + length}`);
        this.length += bytesRead;
      }
    }
    return this.buffer.subarray(offset - this.start, offset - this.start + length);
  }
}
