// The net.sock stream framing: every split of the stream, many frames per chunk, zero-copy views
// for whole frames, and refusal of lengths that mean the stream is out of step.
import { describe, expect, test } from "bun:test";
import {
  FrameReader,
  FramingError,
  frameForStream,
  framesForStream,
  MAX_FRAME_BYTES,
} from "../../src/network/wire/frame-stream.ts";

function frameOf(length: number, seed: number): Uint8Array {
  return new Uint8Array(length).map((_, index) => (index * 31 + seed) & 0xff);
}

describe("frameForStream", () => {
  test("prefixes the frame with its length, 4 bytes big-endian", () => {
    const frame = frameOf(14, 1);
    expect([...frameForStream(frame)]).toEqual([0, 0, 0, 14, ...frame]);
  });

  test("batches frames back to back", () => {
    const bytes = framesForStream([frameOf(14, 1), frameOf(300, 2)]);
    expect(bytes.length).toBe(4 + 14 + 4 + 300);
    expect([...bytes.subarray(18, 22)]).toEqual([0, 0, 1, 44]);
  });

  test("refuses frames the peer would reject", () => {
    expect(() => frameForStream(new Uint8Array(13))).toThrow(FramingError);
    expect(() => frameForStream(new Uint8Array(MAX_FRAME_BYTES + 1))).toThrow(FramingError);
  });
});

describe("FrameReader", () => {
  const frames = [
    frameOf(14, 1),
    frameOf(60, 2),
    frameOf(1514, 3),
    frameOf(MAX_FRAME_BYTES, 4),
    frameOf(42, 5),
  ];
  const stream = framesForStream(frames);

  test("reads a whole stream pushed at once, as views of the chunk", () => {
    const read = new FrameReader().push(stream);
    expect(read).toEqual(frames);
    expect(read[0]!.buffer).toBe(stream.buffer);
  });

  test("reassembles frames at every split point of a short stream", () => {
    const small = framesForStream([frameOf(14, 1), frameOf(20, 2), frameOf(15, 3)]);
    for (let split = 0; split <= small.length; split++) {
      const reader = new FrameReader();
      const read = [...reader.push(small.subarray(0, split)), ...reader.push(small.subarray(split))];
      expect(read).toEqual([frameOf(14, 1), frameOf(20, 2), frameOf(15, 3)]);
      expect(reader.pendingBytes).toBe(0);
    }
  });

  test("reassembles byte-by-byte and in odd-sized chunks", () => {
    for (const size of [1, 3, 7, 1000, 4096]) {
      const reader = new FrameReader();
      const read: Uint8Array[] = [];
      for (let offset = 0; offset < stream.length; offset += size) {
        read.push(...reader.push(stream.subarray(offset, offset + size)));
      }
      expect(read).toEqual(frames);
    }
  });

  test("keeps an incomplete frame pending", () => {
    const reader = new FrameReader();
    expect(reader.push(stream.subarray(0, 4 + 14 + 2))).toHaveLength(1);
    expect(reader.pendingBytes).toBe(2);
  });

  test("a zero, too short or too long length breaks the stream", () => {
    for (const length of [0, 13, MAX_FRAME_BYTES + 1, 0xffffffff]) {
      const prefix = new Uint8Array([
        length >>> 24,
        (length >>> 16) & 0xff,
        (length >>> 8) & 0xff,
        length & 0xff,
      ]);
      expect(() => new FrameReader().push(prefix)).toThrow(FramingError);
      const reader = new FrameReader();
      reader.push(prefix.subarray(0, 2));
      expect(() => reader.push(prefix.subarray(2))).toThrow(FramingError);
    }
  });
});
