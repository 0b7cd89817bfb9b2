// A FIFO of bytes kept as a list of chunks, so appending never copies the whole buffer and
// consuming from the front is cheap. Used for the unacknowledged/unsent host→guest bytes and for
// guest→host bytes waiting for the host socket to drain (network.md §2.2, §2.3).

export class ByteQueue {
  private readonly chunks: Uint8Array[] = [];
  /** Bytes of chunks[0] already consumed. */
  private headOffset = 0;
  private byteLength = 0;

  get length(): number {
    return this.byteLength;
  }

  /** Keeps a reference to `bytes`: the caller hands over ownership. */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes);
    this.byteLength += bytes.length;
  }

  /**
   * `length` bytes starting `offset` bytes from the front, without consuming them. A view into the
   * stored chunk when the range lies in one chunk, otherwise a copy.
   */
  peek(offset: number, length: number): Uint8Array {
    const end = Math.min(offset + length, this.byteLength);
    if (offset >= end) return new Uint8Array(0);
    let position = offset + this.headOffset;
    let index = 0;
    for (; ; index++) {
      const chunk = this.chunks[index]!;
      if (position < chunk.length) break;
      position -= chunk.length;
    }
    const wanted = end - offset;
    const first = this.chunks[index]!;
    if (position + wanted <= first.length) return first.subarray(position, position + wanted);
    const out = new Uint8Array(wanted);
    let written = 0;
    while (written < wanted) {
      const chunk = this.chunks[index++]!;
      const part = chunk.subarray(position, position + (wanted - written));
      out.set(part, written);
      written += part.length;
      position = 0;
    }
    return out;
  }

  /** Drops `count` bytes from the front. */
  consume(count: number): void {
    let remaining = Math.min(count, this.byteLength);
    this.byteLength -= remaining;
    while (remaining > 0) {
      const chunk = this.chunks[0]!;
      const available = chunk.length - this.headOffset;
      if (remaining < available) {
        this.headOffset += remaining;
        return;
      }
      remaining -= available;
      this.chunks.shift();
      this.headOffset = 0;
    }
  }

  /** Removes and returns the unconsumed part of the first chunk. */
  shiftChunk(): Uint8Array | undefined {
    const chunk = this.chunks.shift();
    if (chunk === undefined) return undefined;
    const rest = chunk.subarray(this.headOffset);
    this.headOffset = 0;
    this.byteLength -= rest.length;
    return rest;
  }
}
