// A seeded randomized transfer host → guest through a lossy, window-limited guest model: whatever
// is dropped, the guest must end up with exactly the host's bytes followed by our FIN, and only
// timers (RTO, persist) may be needed to get there.
import { describe, expect, test } from "bun:test";
import { segmentLength, TcpFlag } from "../../src/network/tcp/segment.ts";
import { seqAdd } from "../../src/network/tcp/seq.ts";
import { concat, patternBytes, TcpHarness } from "../helpers/net-tcp-harness.ts";

/** Mulberry32: a tiny deterministic PRNG so failures reproduce. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

function transfer(seed: number): void {
  const next = random(seed);
  const guestCapacity = 6000;
  const harness = new TcpHarness({
    ourIsn: 0xffff0000 + seed,
    synOptions: { mss: 1000 },
    synWindow: guestCapacity,
  });
  harness.guestWindow = guestCapacity;
  harness.establish();
  const data = patternBytes(200_000, seed);
  let offered = 0;
  let guestRcvNxt = seqAdd(0xffff0000 + seed, 1);
  const delivered: Uint8Array[] = [];
  let buffered = 0;
  let finReceived = false;

  for (let step = 0; step < 100_000 && !finReceived; step++) {
    if (offered < data.length && harness.connection.wantsMoreFromHost) {
      const length = 1 + Math.floor(next() * 8000);
      harness.connection.sendFromHost(data.subarray(offered, offered + length));
      offered = Math.min(offered + length, data.length);
      if (offered === data.length) harness.connection.hostEnded();
    }
    const segments = harness.take();
    for (const segment of segments) {
      if (next() < 0.15) continue; // lost on the way to the guest
      const window = guestCapacity - buffered;
      if (segment.seq === guestRcvNxt && segment.payload.length <= window) {
        delivered.push(segment.payload);
        buffered += segment.payload.length;
        guestRcvNxt = seqAdd(guestRcvNxt, segmentLength(segment));
        if ((segment.flags & TcpFlag.fin) !== 0) finReceived = true;
      }
      harness.send({ ack: guestRcvNxt, window: guestCapacity - buffered });
    }
    // The guest application reads at its own pace and announces a reopened window like Linux.
    const before = guestCapacity - buffered;
    buffered -= Math.min(buffered, Math.floor(next() * 3000));
    if (before < 1000 && guestCapacity - buffered >= 1000) {
      harness.send({ ack: guestRcvNxt, window: guestCapacity - buffered });
    }
    if (segments.length === 0) {
      const due = harness.connection.nextTimerAt();
      if (due === undefined) break;
      harness.advance(due - harness.nowMs);
    }
  }
  expect(finReceived).toBe(true);
  expect(concat(delivered)).toEqual(data);
  expect(harness.connection.state).toBe("fin-wait-2");
  expect(harness.events).toEqual([]);
  expect(harness.connection.stats.retransmittedSegments).toBeGreaterThan(0);
  expect(harness.connection.stats.bytesToGuest).toBe(data.length);
}

describe("lossy transfer host → guest", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    test(`seed ${seed}: every byte arrives once, in order, then the FIN`, () => transfer(seed));
  }
});
