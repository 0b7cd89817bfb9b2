// Binary framing of the agent protocol: `u32 BE length of the rest`, `u8 version`, `u8 kind`,
// `u32 BE session`, then the payload. The decoder accepts arbitrary chunking of the byte stream
// and refuses anything it does not understand rather than guessing.
import { MsbError } from "../errors.ts";
import { type Frame, FrameKind, MAX_PAYLOAD, PROTOCOL_VERSION } from "./messages.ts";

/** Bytes of the length prefix. */
const LENGTH_BYTES = 4;
/** Bytes after the length prefix and before the payload: version, kind, session. */
const HEADER_BYTES = 6;

const KNOWN_KINDS = new Set<number>(Object.values(FrameKind));
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** The peer sent bytes that are not a valid frame of this protocol version. */
export class ProtocolError extends MsbError {
  constructor(message: string) {
    super(message, { code: "runtime" });
    this.name = "ProtocolError";
  }
}

export function encodeFrame(frame: Frame): Uint8Array {
  if (frame.payload.length > MAX_PAYLOAD) {
    throw new ProtocolError(`frame payload of ${frame.payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  }
  const bytes = new Uint8Array(LENGTH_BYTES + HEADER_BYTES + frame.payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, HEADER_BYTES + frame.payload.length);
  view.setUint8(4, PROTOCOL_VERSION);
  view.setUint8(5, frame.kind);
  view.setUint32(6, frame.session);
  bytes.set(frame.payload, LENGTH_BYTES + HEADER_BYTES);
  return bytes;
}

export function jsonFrame(kind: FrameKind, session: number, body: unknown): Frame {
  return { kind, session, payload: textEncoder.encode(JSON.stringify(body)) };
}

export function decodeJson<T>(frame: Frame): T {
  try {
    return JSON.parse(textDecoder.decode(frame.payload)) as T;
  } catch (error) {
    throw new ProtocolError(`frame of kind ${frame.kind} does not carry valid JSON: ${String(error)}`);
  }
}

/**
 * Turns a byte stream into frames. Chunks are kept until a whole frame is there, so a large frame
 * arriving in many small chunks is copied a bounded number of times, not once per chunk.
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  push(chunk: Uint8Array): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Frame[] = [];
    while (this.buffered >= LENGTH_BYTES + HEADER_BYTES) {
      const header = this.peek(LENGTH_BYTES + HEADER_BYTES);
      const view = new DataView(header.buffer, header.byteOffset, header.length);
      const length = view.getUint32(0);
      if (length < HEADER_BYTES) throw new ProtocolError(`frame length ${length} is shorter than its header`);
      if (length - HEADER_BYTES > MAX_PAYLOAD) {
        throw new ProtocolError(`frame payload of ${length - HEADER_BYTES} bytes exceeds ${MAX_PAYLOAD}`);
      }
      const version = view.getUint8(4);
      if (version !== PROTOCOL_VERSION) {
        throw new ProtocolError(
          `peer speaks protocol version ${version}, this msb speaks ${PROTOCOL_VERSION}`,
        );
      }
      const kind = view.getUint8(5);
      if (!KNOWN_KINDS.has(kind)) throw new ProtocolError(`unknown frame kind ${kind}`);
      if (this.buffered < LENGTH_BYTES + length) break;
      const session = view.getUint32(6);
      const whole = this.take(LENGTH_BYTES + length);
      frames.push({ kind: kind as FrameKind, session, payload: whole.subarray(LENGTH_BYTES + HEADER_BYTES) });
    }
    // What stays buffered of this chunk is copied: transports may reuse their read buffer.
    const last = this.chunks.length - 1;
    if (last >= 0 && this.chunks[last]!.buffer === chunk.buffer)
      this.chunks[last] = this.chunks[last]!.slice();
    return frames;
  }

  /** Bytes of an incomplete frame waiting for more input. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The first `count` buffered bytes as one array, merging chunks only when needed. */
  private peek(count: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= count) return first.subarray(0, count);
    const merged = concat(this.chunks, this.buffered);
    this.chunks = [merged];
    return merged.subarray(0, count);
  }

  /** Removes and returns the first `count` buffered bytes as a fresh copy. */
  private take(count: number): Uint8Array {
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const head = this.chunks[0]!;
      const used = Math.min(head.length, count - filled);
      out.set(head.subarray(0, used), filled);
      filled += used;
      if (used === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(used);
    }
    this.buffered -= count;
    return out;
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
