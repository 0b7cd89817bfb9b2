// Loss recovery and flow control towards the guest: zero window and persist probes, RTO with
// backoff, the retransmission limit, fast retransmit, and what must not count as a duplicate ACK.
import { describe, expect, test } from "bun:test";
import { TcpFlag } from "../../src/network/tcp/segment.ts";
import { seqAdd } from "../../src/network/tcp/seq.ts";
import { concat, flagsOf, patternBytes, TcpHarness } from "../helpers/net-tcp-harness.ts";

const OUR_ISN = 0x10000;
const FIRST_BYTE = OUR_ISN + 1;

describe("zero window from the guest", () => {
  test("persist probes with backoff, then a window update releases the data from SND.UNA", () => {
    const harness = new TcpHarness({ synOptions: { mss: 1460 } });
    harness.guestWindow = 0;
    harness.establish();
    const data = patternBytes(3000);
    harness.connection.sendFromHost(data);
    expect(harness.take()).toEqual([]);
    expect(harness.connection.nextTimerAt()).toBe(harness.nowMs + 1000);

    harness.advance(1000);
    const [probe] = harness.take();
    expect(probe!.seq).toBe(FIRST_BYTE);
    expect(probe!.payload.length).toBe(1);
    harness.send({ ack: FIRST_BYTE }); // still zero: the probe byte was not taken
    harness.advance(1999);
    expect(harness.take()).toEqual([]);
    harness.advance(1);
    const [second] = harness.take();
    expect(second!.seq).toBe(FIRST_BYTE);
    expect(second!.payload.length).toBe(1);

    harness.guestWindow = 65535;
    harness.send({ ack: FIRST_BYTE });
    const segments = harness.take();
    expect(segments[0]!.seq).toBe(FIRST_BYTE);
    expect(concat(segments.map((segment) => segment.payload))).toEqual(data);
  });

  test("probes continue while the guest answers; unanswered probes end in a reset", () => {
    const harness = new TcpHarness({ timeouts: { maxRetransmits: 2, rtoMaxMs: 4000 } });
    harness.guestWindow = 0;
    harness.establish();
    harness.connection.sendFromHost(patternBytes(100));
    for (let probe = 0; probe < 6; probe++) {
      harness.advance(4000);
      expect(harness.take().map((segment) => segment.payload.length)).toEqual([1]);
      harness.send({ ack: FIRST_BYTE });
    }
    expect(harness.connection.state).toBe("established");
    harness.advance(4000);
    harness.advance(4000);
    expect(harness.take().length).toBe(2);
    harness.advance(4000);
    const [reset] = harness.take();
    expect(flagsOf(reset!)).toBe("RST|ACK");
    expect(harness.events).toEqual(["host-abort", "closed:retransmit-limit"]);
  });

  test("a probe byte the guest takes is acknowledged and probing goes on for the rest", () => {
    const harness = new TcpHarness();
    harness.guestWindow = 0;
    harness.establish();
    harness.connection.sendFromHost(new TextEncoder().encode("ab"));
    harness.advance(1000);
    harness.take();
    harness.send({ ack: FIRST_BYTE + 1 });
    // The probe byte was sent once and answered at once: an RTT sample, so the RTO is the floor.
    expect(harness.connection.nextTimerAt()).toBe(harness.nowMs + 200);
    harness.advance(200);
    const [probe] = harness.take();
    expect(probe!.seq).toBe(FIRST_BYTE + 1);
    expect(new TextDecoder().decode(probe!.payload)).toBe("b");
  });
});

describe("retransmission timeout", () => {
  test("unacknowledged data is resent from SND.UNA after the RTO, with exponential backoff", () => {
    const harness = new TcpHarness({ synOptions: { mss: 1000 } });
    harness.establish();
    harness.connection.sendFromHost(patternBytes(2000));
    const original = harness.take();
    expect(original.length).toBe(2);
    harness.advance(999);
    expect(harness.take()).toEqual([]);
    harness.advance(1);
    expect(harness.take()).toEqual(original);
    harness.advance(1999);
    expect(harness.take()).toEqual([]);
    harness.advance(1);
    expect(harness.take()).toEqual(original);
    harness.advance(4000);
    expect(harness.take()).toEqual(original);
    expect(harness.connection.stats.retransmittedSegments).toBe(6);
    expect(harness.connection.stats.bytesToGuest).toBe(2000);

    harness.send({ ack: seqAdd(FIRST_BYTE, 1000) });
    // Progress resets the backoff; the remaining segment is timed again from now.
    expect(harness.connection.nextTimerAt()).toBe(harness.nowMs + 1000);
    harness.send({ ack: seqAdd(FIRST_BYTE, 2000) });
    expect(harness.connection.nextTimerAt()).toBe(harness.nowMs + 2 * 60 * 60 * 1000);
  });

  test("an RTT sample brings the RTO down to its floor", () => {
    const harness = new TcpHarness();
    harness.establish();
    harness.connection.sendFromHost(patternBytes(10));
    harness.take();
    harness.advance(5);
    harness.send({ ack: harness.ourNext });
    harness.connection.sendFromHost(patternBytes(10));
    const [sent] = harness.take();
    harness.advance(200);
    expect(harness.take()).toEqual([sent!]);
  });

  test("after the retransmission limit the guest gets a RST at SND.MAX and the host socket is aborted", () => {
    const harness = new TcpHarness({ timeouts: { maxRetransmits: 3 } });
    harness.establish();
    harness.connection.sendFromHost(patternBytes(100));
    harness.take();
    for (const wait of [1000, 2000, 4000]) {
      harness.advance(wait);
      expect(harness.take().length).toBe(1);
    }
    harness.advance(8000);
    const [reset] = harness.take();
    expect(flagsOf(reset!)).toBe("RST|ACK");
    expect(reset!.seq).toBe(FIRST_BYTE + 100);
    expect(harness.events).toEqual(["host-abort", "closed:retransmit-limit"]);
    expect(harness.connection.state).toBe("closed");
  });

  test("a lost FIN is retransmitted", () => {
    const harness = new TcpHarness();
    harness.establish();
    harness.connection.hostEnded();
    const [fin] = harness.take();
    expect(flagsOf(fin!)).toBe("FIN|ACK");
    harness.advance(1000);
    expect(harness.take()).toEqual([fin!]);
    harness.send({ ack: FIRST_BYTE + 1 });
    expect(harness.connection.state).toBe("fin-wait-2");
  });
});

describe("duplicate ACKs", () => {
  test("three duplicate ACKs trigger one fast retransmit of the first unacknowledged segment", () => {
    const harness = new TcpHarness({ synOptions: { mss: 1000 } });
    harness.establish();
    harness.connection.sendFromHost(patternBytes(5000));
    const sent = harness.take();
    harness.send({ ack: seqAdd(FIRST_BYTE, 1000) });
    harness.send({ ack: seqAdd(FIRST_BYTE, 1000) });
    harness.send({ ack: seqAdd(FIRST_BYTE, 1000) });
    expect(harness.take()).toEqual([]);
    harness.send({ ack: seqAdd(FIRST_BYTE, 1000) });
    expect(harness.take()).toEqual([sent[1]!]);
    harness.send({ ack: seqAdd(FIRST_BYTE, 1000) });
    expect(harness.take()).toEqual([]);
  });

  test("keepalives and window updates are not duplicate ACKs", () => {
    const harness = new TcpHarness({ synOptions: { mss: 1000 } });
    harness.establish();
    harness.connection.sendFromHost(patternBytes(3000));
    harness.take();
    const keepaliveSeq = seqAdd(harness.guestNext, -1);
    for (let index = 0; index < 4; index++) {
      harness.send({ seq: keepaliveSeq, ack: FIRST_BYTE });
    }
    // Each keepalive gets a plain ACK, and nothing is retransmitted.
    const answers = harness.take();
    expect(answers.map((segment) => [flagsOf(segment), segment.payload.length])).toEqual(
      Array(4).fill(["ACK", 0]),
    );
    for (const window of [60000, 61000, 62000]) harness.send({ ack: FIRST_BYTE, window });
    expect(harness.take()).toEqual([]);
    expect(harness.connection.stats.retransmittedSegments).toBe(0);
  });

  test("a guest that shrinks its window to zero over data in flight gets that data again when it reopens", () => {
    const harness = new TcpHarness({ synOptions: { mss: 1000 } });
    harness.establish();
    harness.connection.sendFromHost(patternBytes(3000));
    harness.take();
    harness.send({ ack: seqAdd(FIRST_BYTE, 1000), window: 0 });
    expect(harness.take()).toEqual([]);
    harness.send({ ack: seqAdd(FIRST_BYTE, 1000), window: 65535, flags: TcpFlag.ack });
    const resent = harness.take();
    expect(resent.map((segment) => segment.seq)).toEqual([
      seqAdd(FIRST_BYTE, 1000),
      seqAdd(FIRST_BYTE, 2000),
    ]);
  });
});
