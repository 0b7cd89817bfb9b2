// The frame codec: exact byte layout, round trips at every possible split of the stream, many
// frames per chunk, and clear refusals of frames this version does not understand.
import { describe, expect, test } from "bun:test";
import { decodeJson, encodeFrame, FrameDecoder, jsonFrame, ProtocolError } from "../../src/protocol/frame.ts";
import { type Frame, FrameKind, MAX_PAYLOAD, PROTOCOL_VERSION } from "../../src/protocol/messages.ts";

function sampleFrames(): Frame[] {
  return [
    jsonFrame(FrameKind.exec, 1, { argv: ["echo", "hi"], env: [], tty: false }),
    { kind: FrameKind.stdout, session: 1, payload: new Uint8Array([0, 1, 2, 255]) },
    { kind: FrameKind.stdin, session: 7, payload: new Uint8Array(0) },
    { kind: FrameKind.stderr, session: 0xffffffff, payload: new TextEncoder().encode("é\n") },
    jsonFrame(FrameKind.exited, 1, { code: 0, signal: null }),
  ];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

describe("encodeFrame", () => {
  test("writes length, version, kind, session, payload big-endian", () => {
    const bytes = encodeFrame({
      kind: FrameKind.stdout,
      session: 0x01020304,
      payload: new Uint8Array([9, 8]),
    });
    expect([...bytes]).toEqual([0, 0, 0, 8, PROTOCOL_VERSION, FrameKind.stdout, 1, 2, 3, 4, 9, 8]);
  });

  test("refuses a payload over MAX_PAYLOAD", () => {
    const payload = new Uint8Array(MAX_PAYLOAD + 1);
    expect(() => encodeFrame({ kind: FrameKind.stdout, session: 1, payload })).toThrow(ProtocolError);
  });
});

describe("FrameDecoder", () => {
  test("round-trips every frame of a stream split at every byte offset", () => {
    const frames = sampleFrames();
    const stream = concat(frames.map(encodeFrame));
    for (let split = 0; split <= stream.length; split++) {
      const decoder = new FrameDecoder();
      const decoded = [...decoder.push(stream.subarray(0, split)), ...decoder.push(stream.subarray(split))];
      expect(decoded).toEqual(frames);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  test("decodes a stream fed one byte at a time and many frames in one chunk", () => {
    const frames = sampleFrames();
    const stream = concat(frames.map(encodeFrame));
    const byteByByte = new FrameDecoder();
    const decoded: Frame[] = [];
    for (const byte of stream) decoded.push(...byteByByte.push(new Uint8Array([byte])));
    expect(decoded).toEqual(frames);
    const many = concat(Array.from({ length: 200 }, () => stream));
    expect(new FrameDecoder().push(many)).toHaveLength(200 * frames.length);
  });

  test("a frame keeps its bytes when the transport reuses its read buffer", () => {
    const bytes = encodeFrame({ kind: FrameKind.stdout, session: 3, payload: new Uint8Array([1, 2, 3, 4]) });
    const reused = new Uint8Array(bytes.length);
    const decoder = new FrameDecoder();
    reused.set(bytes.subarray(0, 7));
    expect(decoder.push(reused.subarray(0, 7))).toEqual([]);
    reused.fill(0xee);
    reused.set(bytes.subarray(7));
    const [frame] = decoder.push(reused.subarray(0, bytes.length - 7));
    expect([...frame!.payload]).toEqual([1, 2, 3, 4]);
  });

  test("a maximum-size frame arriving in small chunks decodes intact", () => {
    const payload = new Uint8Array(MAX_PAYLOAD).map((_, index) => index % 251);
    const bytes = encodeFrame({ kind: FrameKind.stdout, session: 2, payload });
    const decoder = new FrameDecoder();
    const decoded: Frame[] = [];
    for (let offset = 0; offset < bytes.length; offset += 65536) {
      decoded.push(...decoder.push(bytes.subarray(offset, offset + 65536)));
    }
    expect(decoded).toHaveLength(1);
    expect(Buffer.from(decoded[0]!.payload).equals(Buffer.from(payload))).toBe(true);
  });

  test("refuses an oversize length before the payload arrives", () => {
    const header = new Uint8Array([0, 0x40, 0, 7, PROTOCOL_VERSION, FrameKind.stdout, 0, 0, 0, 1]);
    expect(() => new FrameDecoder().push(header)).toThrow(/exceeds/);
  });

  test("refuses another protocol version, an unknown kind and a too-short length", () => {
    const good = encodeFrame({ kind: FrameKind.stdout, session: 1, payload: new Uint8Array(1) });
    const badVersion = good.slice();
    badVersion[4] = PROTOCOL_VERSION + 1;
    expect(() => new FrameDecoder().push(badVersion)).toThrow(/protocol version/);
    const badKind = good.slice();
    badKind[5] = 200;
    expect(() => new FrameDecoder().push(badKind)).toThrow(/unknown frame kind 200/);
    const short = good.slice();
    short.set([0, 0, 0, 2], 0);
    expect(() => new FrameDecoder().push(short)).toThrow(ProtocolError);
  });
});

describe("JSON frames", () => {
  test("decodeJson returns the body jsonFrame encoded", () => {
    const body = { argv: ["sh", "-c", "echo ü"], env: ["A=1"], tty: true, rows: 40 };
    expect(decodeJson(jsonFrame(FrameKind.exec, 5, body))).toEqual(body);
  });

  test("decodeJson of bytes that are not JSON is a ProtocolError", () => {
    const frame = { kind: FrameKind.exec, session: 1, payload: new Uint8Array([0xff, 0x7b]) } as Frame;
    expect(() => decodeJson(frame)).toThrow(ProtocolError);
  });
});
