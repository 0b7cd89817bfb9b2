// Sequential writer into a file at an explicit position, batching small writes into one large
// buffer so that streaming many small files costs few system calls.
import type { FileHandle } from "node:fs/promises";
import { BLOCK_SIZE } from "./format.ts";

const DEFAULT_CAPACITY = 4 << 20;

export class BufferedWriter {
  private readonly buffer: Uint8Array;
  private used = 0;
  /** File offset of the next byte written. */
  position: number;

  constructor(
    private readonly handle: FileHandle,
    position: number,
    capacity = DEFAULT_CAPACITY,
  ) {
    this.position = position;
    this.buffer = new Uint8Array(capacity);
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      if (this.used === 0 && bytes.length - offset >= this.buffer.length) {
        // Large chunks go straight to the file: copying them would only cost time.
        await this.writeFully(bytes.subarray(offset), this.position);
        this.position += bytes.length - offset;
        return;
      }
      const take = Math.min(bytes.length - offset, this.buffer.length - this.used);
      this.buffer.set(bytes.subarray(offset, offset + take), this.used);
      this.used += take;
      this.position += take;
      offset += take;
      if (this.used === this.buffer.length) await this.flush();
    }
  }

  async writeZeros(count: number): Promise<void> {
    let left = count;
    while (left > 0) {
      const take = Math.min(left, this.buffer.length - this.used);
      this.buffer.fill(0, this.used, this.used + take);
      this.used += take;
      this.position += take;
      left -= take;
      if (this.used === this.buffer.length) await this.flush();
    }
  }

  /** Zero-fills up to the next block boundary. */
  async padToBlock(): Promise<void> {
    await this.writeZeros((BLOCK_SIZE - (this.position % BLOCK_SIZE)) % BLOCK_SIZE);
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.writeFully(this.buffer.subarray(0, this.used), this.position - this.used);
    this.used = 0;
  }

  private async writeFully(bytes: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, position + done);
      done += bytesWritten;
    }
  }
}
