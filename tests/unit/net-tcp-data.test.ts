// Data both ways through a guest TCP connection: in-order delivery, gaps and overlaps, MSS
// segmentation within the guest's window, sequence wraparound, and backpressure both ways.
import { describe, expect, test } from "bun:test";
import { segmentLength, TcpFlag, type TcpSegment } from "../../src/network/tcp/segment.ts";
import { seqAdd, seqDiff, seqLe } from "../../src/network/tcp/seq.ts";
import { concat, flagsOf, patternBytes, TcpHarness } from "../helpers/net-tcp-harness.ts";

/**
 * Plays a guest that advertises `windowBytes` and ACKs everything it receives, until `total`
 * payload bytes have arrived; returns the segments in arrival order.
 */
function receiveAll(harness: TcpHarness, total: number, windowBytes: number): TcpSegment[] {
  const received: TcpSegment[] = [];
  let receivedBytes = 0;
  let acked = harness.ourNext;
  for (let round = 0; receivedBytes < total; round++) {
    if (round > 1000) throw new Error("transfer did not finish");
    const segments = harness.take();
    expect(segments.length).toBeGreaterThan(0);
    for (const segment of segments) {
      expect(seqLe(seqAdd(segment.seq, segment.payload.length), seqAdd(acked, windowBytes))).toBe(true);
      received.push(segment);
      receivedBytes += segment.payload.length;
    }
    acked = harness.ourNext;
    harness.send({ ack: acked });
  }
  return received;
}

describe("guest → host", () => {
  test("in-order segments reach the host in order and are each acknowledged", () => {
    const harness = new TcpHarness({ guestIsn: 500 });
    harness.establish();
    for (const part of ["GET / HTTP/1.1\r\n", "Host: example.com\r\n", "\r\n"])
      harness.send({ payload: part });
    expect(harness.hostBytes()).toBe("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
    const acks = harness.take();
    expect(acks.map(flagsOf)).toEqual(["ACK", "ACK", "ACK"]);
    expect(acks.map((segment) => segment.ack)).toEqual([517, 536, 538]);
    expect(harness.connection.stats.bytesFromGuest).toBe(37);
  });

  test("a segment after a gap is dropped and answered with a duplicate ACK", () => {
    const harness = new TcpHarness({ guestIsn: 0 });
    harness.establish();
    harness.send({ payload: "aaaa" });
    harness.take();
    harness.send({ payload: "cccc", seq: 9 });
    const [dupAck] = harness.take();
    expect(dupAck!.ack).toBe(5);
    expect(harness.hostBytes()).toBe("aaaa");
    harness.send({ payload: "bbbb" });
    harness.send({ payload: "cccc" });
    expect(harness.hostBytes()).toBe("aaaabbbbcccc");
  });

  test("a retransmission overlapping accepted data delivers only the new part", () => {
    const harness = new TcpHarness({ guestIsn: 0 });
    harness.establish();
    harness.send({ payload: "hello " });
    harness.send({ payload: "hello world", seq: 1 });
    expect(harness.hostBytes()).toBe("hello world");
    const acks = harness.take();
    expect(acks.at(-1)!.ack).toBe(12);
    // A pure duplicate is unacceptable: it is only ACKed.
    harness.send({ payload: "hello", seq: 1 });
    expect(harness.hostBytes()).toBe("hello world");
    expect(harness.take().map((segment) => segment.ack)).toEqual([12]);
  });

  test("TSO super-segments larger than the MSS are accepted whole", () => {
    const harness = new TcpHarness();
    harness.establish();
    const big = patternBytes(60_000);
    harness.send({ payload: big });
    expect(concat(harness.hostWrites)).toEqual(big);
  });

  test("data beyond the advertised window is trimmed to the window", () => {
    const harness = new TcpHarness({ guestIsn: 0, synOptions: { mss: 1460 }, receiveBufferBytes: 1000 });
    harness.establish();
    harness.hostAccepts = false;
    harness.send({ payload: patternBytes(400) });
    expect(harness.take().at(-1)!.window).toBe(600);
    // The host is blocked: the next 400 bytes are held, 200 fit, the rest and the FIN are cut off.
    harness.send({ payload: patternBytes(800), flags: TcpFlag.ack | TcpFlag.fin });
    const [ack] = harness.take();
    expect(ack!.ack).toBe(1001);
    expect(ack!.window).toBe(0);
    expect(harness.events).toEqual([]);
  });
});

describe("host → guest", () => {
  test("100 KB is cut into MSS segments and never exceeds the guest's window", () => {
    const harness = new TcpHarness({ synOptions: { mss: 1460, wscale: 7 } });
    harness.guestWindow = 256; // 32 KiB with WS 7
    harness.establish();
    const data = patternBytes(100_000, 3);
    expect(harness.connection.sendFromHost(data)).toBe(true);
    const segments = receiveAll(harness, data.length, 32768);
    expect(concat(segments.map((segment) => segment.payload))).toEqual(data);
    expect(Math.max(...segments.map((segment) => segment.payload.length))).toBe(1460);
    expect(harness.connection.stats.bytesToGuest).toBe(100_000);
    expect(harness.connection.stats.retransmittedSegments).toBe(0);
  });

  test("PSH marks the segment that empties the queue", () => {
    const harness = new TcpHarness();
    harness.establish();
    harness.connection.sendFromHost(new Uint8Array(3000));
    expect(harness.take().map(flagsOf)).toEqual(["ACK", "ACK", "PSH|ACK"]);
  });
});

function sumPayload(segments: TcpSegment[]): number {
  return segments.reduce((sum, segment) => sum + segment.payload.length, 0);
}

describe("sequence wraparound", () => {
  test("both directions cross 2^32 with ISNs just below it", () => {
    const harness = new TcpHarness({ guestIsn: 0xffffff00, ourIsn: 0xfffffff0 });
    const synAck = harness.establish();
    expect(synAck.seq).toBe(0xfffffff0);
    expect(synAck.ack).toBe(0xffffff01);

    const upload = patternBytes(10_000, 1);
    for (let offset = 0; offset < upload.length; offset += 1000) {
      harness.send({ payload: upload.subarray(offset, offset + 1000) });
    }
    expect(concat(harness.hostWrites)).toEqual(upload);
    const acks = harness.take();
    expect(acks.at(-1)!.ack).toBe(seqAdd(0xffffff01, 10_000));
    expect(acks.every((segment) => segment.ack >= 0 && segment.ack <= 0xffffffff)).toBe(true);

    const download = patternBytes(10_000, 2);
    harness.connection.sendFromHost(download);
    const segments = harness.take();
    expect(concat(segments.map((segment) => segment.payload))).toEqual(download);
    expect(segments.some((segment) => segment.seq < 0x1000)).toBe(true);
    harness.send({ ack: harness.ourNext });
    expect(harness.take()).toEqual([]);
    expect(harness.connection.nextTimerAt()).toBe(harness.nowMs + 2 * 60 * 60 * 1000);
    expect(seqDiff(harness.ourNext, 0xfffffff1)).toBe(10_000);
  });
});

describe("backpressure", () => {
  test("a full host socket shrinks the window to zero; hostWritable() flushes and reopens it", () => {
    const harness = new TcpHarness({ guestIsn: 0, synOptions: { mss: 1460 }, receiveBufferBytes: 4096 });
    harness.establish();
    harness.hostAccepts = false;
    // The first write is taken by the engine (it keeps the remainder); later data is held here.
    harness.send({ payload: patternBytes(1000, 1) });
    expect(harness.hostWrites.length).toBe(1);
    // The SYN-ACK offered 4096 bytes; without WS the right edge stays at 1 + 4096 while the
    // held bytes fill the buffer, so the window falls 3096 → 2072 → 1048 → 0.
    for (const length of [1024, 1024, 1048]) harness.send({ payload: patternBytes(length, length) });
    expect(harness.hostWrites.length).toBe(1);
    const acks = harness.take();
    expect(acks.map((segment) => segment.window)).toEqual([3096, 2072, 1048, 0]);
    expect(acks.at(-1)!.ack).toBe(4097);

    // A zero-window probe from the guest is not accepted, only answered.
    harness.send({ payload: "z", seq: 4097 });
    const [probeAnswer] = harness.take();
    expect(probeAnswer!.ack).toBe(4097);
    expect(probeAnswer!.window).toBe(0);

    harness.hostAccepts = true;
    harness.connection.hostWritable();
    expect(harness.hostWrites.length).toBe(4);
    const [update] = harness.take();
    expect(flagsOf(update!)).toBe("ACK");
    expect(update!.window).toBe(4096);
    harness.send({ payload: "z", seq: 4097 });
    expect(harness.hostWrites.at(-1)).toEqual(new TextEncoder().encode("z"));
  });

  test("the guest's FIN reaches the host only after the held data", () => {
    const harness = new TcpHarness({ receiveBufferBytes: 4096 });
    harness.establish();
    harness.hostAccepts = false;
    harness.send({ payload: "one" });
    harness.send({ payload: "two", flags: TcpFlag.ack | TcpFlag.fin });
    expect(harness.connection.state).toBe("close-wait");
    expect(harness.events).toEqual([]);
    harness.hostAccepts = true;
    harness.connection.hostWritable();
    expect(harness.hostBytes()).toBe("onetwo");
    expect(harness.events).toEqual(["host-end"]);
  });

  test("sendFromHost returns false at the buffer limit and onHostResume fires once ACKs drain it", () => {
    const harness = new TcpHarness({ sendBufferBytes: 8192 });
    harness.guestWindow = 0;
    harness.establish();
    expect(harness.connection.sendFromHost(new Uint8Array(4096))).toBe(true);
    expect(harness.connection.sendFromHost(new Uint8Array(4096))).toBe(false);
    expect(harness.connection.wantsMoreFromHost).toBe(false);
    harness.guestWindow = 65535;
    harness.send({ ack: harness.ourNext });
    const segments = harness.take();
    expect(sumPayload(segments)).toBe(8192);
    expect(harness.events).toEqual([]);
    harness.send({ ack: seqAdd(segments[0]!.seq, 4380) });
    expect(harness.events).toEqual(["host-resume"]);
    expect(harness.connection.wantsMoreFromHost).toBe(true);
    expect(segmentLength(segments[0]!)).toBe(1460);
  });
});
