// The "qemu stream" framing of net.sock (the protocol libkrun and passt speak): each Ethernet
// frame is preceded by its length as a 4-byte big-endian integer. A bad length means the stream
// is out of step, and the only safe recovery is to drop the connection (passt does the same).
import { MsbError } from "../../errors.ts";
import { ETHERNET_HEADER_BYTES } from "./ethernet.ts";

const LENGTH_BYTES = 4;
/** The largest frame either side may send: a 65535-byte IP packet plus the Ethernet header. */
export const MAX_FRAME_BYTES = 65535 + ETHERNET_HEADER_BYTES;

/** The peer broke the framing; the connection cannot be resynchronised. */
export class FramingError extends MsbError {
  constructor(message: string) {
    super(message, { code: "runtime" });
    this.name = "FramingError";
  }
}

/**
 * Splits a byte stream into frames, whatever the chunking. A frame that lies wholly inside one
 * pushed chunk is returned as a view of that chunk (no copy); the caller must not reuse a chunk's
 * memory while frames from it are still in use. Frames spanning chunks are assembled once.
 */
export class FrameReader {
  private readonly lengthBytes = new Uint8Array(LENGTH_BYTES);
  private lengthFill = 0;
  private partial: Uint8Array | null = null;
  private partialFill = 0;

  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.partial !== null) {
        const take = Math.min(this.partial.length - this.partialFill, chunk.length - offset);
        this.partial.set(chunk.subarray(offset, offset + take), this.partialFill);
        this.partialFill += take;
        offset += take;
        if (this.partialFill === this.partial.length) {
          frames.push(this.partial);
          this.partial = null;
        }
        continue;
      }
      let length: number;
      if (this.lengthFill === 0 && chunk.length - offset >= LENGTH_BYTES) {
        length = checkedLength(readUint32(chunk, offset));
        offset += LENGTH_BYTES;
        if (chunk.length - offset >= length) {
          frames.push(chunk.subarray(offset, offset + length));
          offset += length;
          continue;
        }
      } else {
        const take = Math.min(LENGTH_BYTES - this.lengthFill, chunk.length - offset);
        this.lengthBytes.set(chunk.subarray(offset, offset + take), this.lengthFill);
        this.lengthFill += take;
        offset += take;
        if (this.lengthFill < LENGTH_BYTES) break;
        this.lengthFill = 0;
        length = checkedLength(readUint32(this.lengthBytes, 0));
      }
      this.partial = new Uint8Array(length);
      this.partialFill = 0;
    }
    return frames;
  }

  /** Bytes of an incomplete frame (length prefix included) held back for the next push. */
  get pendingBytes(): number {
    return this.lengthFill + (this.partial === null ? 0 : LENGTH_BYTES + this.partialFill);
  }
}

/** One frame with its length prefix, ready to write to the stream. */
export function frameForStream(frame: Uint8Array): Uint8Array {
  return framesForStream([frame]);
}

/** Several frames in one buffer, so a batch goes out in a single write. */
export function framesForStream(frames: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const frame of frames) {
    checkedLength(frame.length);
    total += LENGTH_BYTES + frame.length;
  }
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  let offset = 0;
  for (const frame of frames) {
    view.setUint32(offset, frame.length);
    bytes.set(frame, offset + LENGTH_BYTES);
    offset += LENGTH_BYTES + frame.length;
  }
  return bytes;
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>>
    0
  );
}

function checkedLength(length: number): number {
  if (length < ETHERNET_HEADER_BYTES || length > MAX_FRAME_BYTES) {
    throw new FramingError(
      `net.sock frame length ${length} is outside ${ETHERNET_HEADER_BYTES}..${MAX_FRAME_BYTES}`,
    );
  }
  return length;
}
