// Pull-based reader over a stream of byte chunks. Hands out subarrays of the incoming chunks
// whenever the requested bytes lie in one chunk, and copies only when a read straddles chunks
// (tar headers split across chunk boundaries). Memory stays bounded by the current chunk.
import { TarError } from "./tar-error.ts";

const EMPTY = new Uint8Array(0);

export class ByteQueue {
  private readonly source: AsyncIterator<Uint8Array>;
  private chunk: Uint8Array = EMPTY;
  private offset = 0;
  private ended = false;
  /** Bytes consumed so far: the stream offset of the next byte, for error messages. */
  position = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** Makes sure the current chunk has unread bytes; false at the end of the stream. */
  private async load(): Promise<boolean> {
    while (this.offset >= this.chunk.length) {
      if (this.ended) return false;
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      this.chunk = next.value;
      this.offset = 0;
    }
    return true;
  }

  /** Exactly `length` bytes, or null when the stream ends before the first one. */
  async read(length: number, what: string): Promise<Uint8Array | null> {
    if (!(await this.load())) return null;
    const available = this.chunk.length - this.offset;
    if (available >= length) {
      const out = this.chunk.subarray(this.offset, this.offset + length);
      this.offset += length;
      this.position += length;
      return out;
    }
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (!(await this.load())) throw truncated(what, this.position);
      const take = Math.min(length - filled, this.chunk.length - this.offset);
      out.set(this.chunk.subarray(this.offset, this.offset + take), filled);
      this.offset += take;
      this.position += take;
      filled += take;
    }
    return out;
  }

  /** Up to `max` bytes from the current chunk, without copying. Throws at the end of the stream. */
  async readSome(max: number, what: string): Promise<Uint8Array> {
    if (!(await this.load())) throw truncated(what, this.position);
    const take = Math.min(max, this.chunk.length - this.offset);
    const out = this.chunk.subarray(this.offset, this.offset + take);
    this.offset += take;
    this.position += take;
    return out;
  }

  async skip(length: number, what: string): Promise<void> {
    let left = length;
    while (left > 0) left -= (await this.readSome(left, what)).length;
  }

  /** Reads and discards the rest of the stream, so a source that checks a digest at its end can. */
  async drain(): Promise<void> {
    while (await this.load()) {
      this.position += this.chunk.length - this.offset;
      this.offset = this.chunk.length;
    }
  }

  /** Stops the underlying source (e.g. destroys a decompressor) when the reader quits early. */
  async close(): Promise<void> {
    if (!this.ended) await this.source.return?.();
    this.ended = true;
  }
}

function truncated(what: string, position: number): TarError {
  return new TarError(`truncated tar archive: the data ends inside ${what} (at byte ${position})`);
}
