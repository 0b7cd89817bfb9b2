// Building blocks of the guest TCP endpoint: wraparound-safe sequence arithmetic, the chunked
// byte queue, and the RFC 6298 RTO estimator.
import { describe, expect, test } from "bun:test";
import { ByteQueue } from "../../src/network/tcp/byte-queue.ts";
import { RtoEstimator } from "../../src/network/tcp/rtt.ts";
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax } from "../../src/network/tcp/seq.ts";

describe("sequence arithmetic", () => {
  test("addition wraps modulo 2^32 and stays a uint32", () => {
    expect(seqAdd(0xffffffff, 1)).toBe(0);
    expect(seqAdd(0xfffffff0, 0x20)).toBe(0x10);
    expect(seqAdd(5, -10)).toBe(0xfffffffb);
    expect(seqAdd(0x7fffffff, 0x7fffffff)).toBe(0xfffffffe);
  });

  test("comparisons hold across the wrap", () => {
    const beforeWrap = 0xfffffff0;
    const afterWrap = 0x10;
    expect(seqLt(beforeWrap, afterWrap)).toBe(true);
    expect(seqGt(afterWrap, beforeWrap)).toBe(true);
    expect(seqLe(beforeWrap, beforeWrap)).toBe(true);
    expect(seqGe(afterWrap, afterWrap)).toBe(true);
    expect(seqLt(afterWrap, beforeWrap)).toBe(false);
    expect(seqDiff(afterWrap, beforeWrap)).toBe(0x20);
    expect(seqDiff(beforeWrap, afterWrap)).toBe(-0x20);
    expect(seqMax(beforeWrap, afterWrap)).toBe(afterWrap);
  });
});

describe("ByteQueue", () => {
  test("peeks across chunks, consumes from the front, shifts chunks", () => {
    const queue = new ByteQueue();
    queue.push(new Uint8Array([1, 2, 3]));
    queue.push(new Uint8Array(0));
    queue.push(new Uint8Array([4, 5]));
    queue.push(new Uint8Array([6, 7, 8, 9]));
    expect(queue.length).toBe(9);
    expect([...queue.peek(0, 2)]).toEqual([1, 2]);
    expect([...queue.peek(2, 5)]).toEqual([3, 4, 5, 6, 7]);
    expect([...queue.peek(7, 10)]).toEqual([8, 9]);
    expect(queue.peek(9, 1).length).toBe(0);
    queue.consume(4);
    expect(queue.length).toBe(5);
    expect([...queue.peek(0, 5)]).toEqual([5, 6, 7, 8, 9]);
    expect([...queue.shiftChunk()!]).toEqual([5]);
    expect([...queue.shiftChunk()!]).toEqual([6, 7, 8, 9]);
    expect(queue.shiftChunk()).toBeUndefined();
    expect(queue.length).toBe(0);
  });

  test("a range inside one chunk is a view, not a copy", () => {
    const chunk = new Uint8Array([1, 2, 3, 4]);
    const queue = new ByteQueue();
    queue.push(chunk);
    expect(queue.peek(1, 2).buffer).toBe(chunk.buffer);
  });
});

describe("RtoEstimator", () => {
  test("starts at the initial RTO, follows samples with a floor, doubles on backoff up to the cap", () => {
    const rto = new RtoEstimator({ initialMs: 1000, minMs: 200, maxMs: 5000 });
    expect(rto.timeoutMs).toBe(1000);
    rto.addSample(1);
    expect(rto.timeoutMs).toBe(200);
    rto.addSample(400);
    expect(rto.timeoutMs).toBeGreaterThan(400);
    rto.addSample(1);
    rto.addSample(1);
    const base = rto.timeoutMs;
    rto.backOff();
    expect(rto.timeoutMs).toBe(base * 2);
    for (let i = 0; i < 10; i++) rto.backOff();
    expect(rto.timeoutMs).toBe(5000);
    expect(rto.backoffCount).toBe(11);
    rto.resetBackoff();
    expect(rto.timeoutMs).toBe(base);
  });
});
