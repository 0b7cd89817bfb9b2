// Ending guest TCP connections: half-close either way, simultaneous close, duplicate FINs, resets
// both ways, keepalives, TIME-WAIT expiry and reuse of the 4-tuple, the idle timeout, and
// RFC 9293 / RFC 5961 handling of segments that must not be accepted.
import { describe, expect, test } from "bun:test";
import { TcpFlag } from "../../src/network/tcp/segment.ts";
import { seqAdd } from "../../src/network/tcp/seq.ts";
import { flagsOf, TcpHarness } from "../helpers/net-tcp-harness.ts";

const OUR_ISN = 0x10000;
const FIRST_BYTE = OUR_ISN + 1;
const FIN_ACK = TcpFlag.fin | TcpFlag.ack;

describe("half-close", () => {
  test("guest FIN: host end, data keeps flowing to the guest, then host EOF sends our FIN", () => {
    const harness = new TcpHarness({ guestIsn: 0 });
    harness.establish();
    harness.send({ payload: "request", flags: FIN_ACK });
    expect(harness.hostBytes()).toBe("request");
    expect(harness.events).toEqual(["host-end"]);
    expect(harness.connection.state).toBe("close-wait");
    const [ack] = harness.take();
    expect(ack!.ack).toBe(9);

    harness.connection.sendFromHost(new TextEncoder().encode("response"));
    const [data] = harness.take();
    expect(new TextDecoder().decode(data!.payload)).toBe("response");
    harness.send({ ack: harness.ourNext });

    harness.connection.hostEnded();
    const [fin] = harness.take();
    expect(flagsOf(fin!)).toBe("FIN|ACK");
    expect(fin!.seq).toBe(FIRST_BYTE + 8);
    expect(harness.connection.state).toBe("last-ack");
    harness.send({ ack: FIRST_BYTE + 9 });
    expect(harness.connection.state).toBe("closed");
    expect(harness.events).toEqual(["host-end", "closed:completed"]);
  });

  test("host EOF first: FIN after the queued data, guest data still reaches the host, then TIME-WAIT", () => {
    const harness = new TcpHarness({ guestIsn: 0, timeouts: { timeWaitMs: 3000 } });
    harness.establish();
    harness.connection.sendFromHost(new TextEncoder().encode("bye"));
    harness.connection.hostEnded();
    expect(harness.take().map(flagsOf)).toEqual(["PSH|ACK", "FIN|ACK"]);
    expect(harness.connection.state).toBe("fin-wait-1");
    harness.send({ ack: FIRST_BYTE + 4 });
    expect(harness.connection.state).toBe("fin-wait-2");

    harness.send({ payload: "more" });
    expect(harness.hostBytes()).toBe("more");
    harness.send({ flags: FIN_ACK });
    expect(harness.connection.state).toBe("time-wait");
    expect(harness.events).toEqual(["host-end"]);
    expect(harness.take().at(-1)!.ack).toBe(6);

    // A retransmitted FIN (our ACK was lost) is ACKed again and restarts TIME-WAIT.
    harness.advance(2000);
    harness.send({ flags: FIN_ACK, seq: 5 });
    expect(harness.take().map((segment) => [flagsOf(segment), segment.ack])).toEqual([["ACK", 6]]);
    expect(harness.connection.nextTimerAt()).toBe(harness.nowMs + 3000);
    harness.advance(2999);
    expect(harness.connection.state).toBe("time-wait");
    harness.advance(1);
    expect(harness.connection.state).toBe("closed");
    expect(harness.events).toEqual(["host-end", "closed:completed"]);
  });

  test("a graceful close hands guest data still held for a full host socket over, then the host end", () => {
    const harness = new TcpHarness({ guestIsn: 0 });
    harness.establish();
    harness.hostAccepts = false;
    harness.send({ payload: "first" });
    harness.send({ payload: "held", flags: FIN_ACK });
    harness.connection.hostEnded();
    expect(harness.connection.state).toBe("last-ack");
    expect(harness.hostBytes()).toBe("first");
    harness.send({ ack: FIRST_BYTE + 1 });
    expect(harness.hostBytes()).toBe("firstheld");
    expect(harness.events).toEqual(["host-end", "closed:completed"]);
  });

  test("simultaneous close goes through CLOSING to TIME-WAIT", () => {
    const harness = new TcpHarness({ guestIsn: 0 });
    harness.establish();
    harness.connection.hostEnded();
    harness.take();
    harness.send({ flags: FIN_ACK, ack: FIRST_BYTE });
    expect(harness.connection.state).toBe("closing");
    harness.send({ ack: FIRST_BYTE + 1 });
    expect(harness.connection.state).toBe("time-wait");
  });

  test("a duplicate FIN is ACKed again but ends the host side only once", () => {
    const harness = new TcpHarness({ guestIsn: 0 });
    harness.establish();
    harness.send({ flags: FIN_ACK });
    harness.send({ flags: FIN_ACK, seq: 1 });
    expect(harness.take().map((segment) => segment.ack)).toEqual([2, 2]);
    expect(harness.events).toEqual(["host-end"]);
    expect(harness.connection.state).toBe("close-wait");
  });
});

describe("resets", () => {
  test("a RST at exactly RCV.NXT aborts the host socket and closes", () => {
    const harness = new TcpHarness({ guestIsn: 0 });
    harness.establish();
    harness.send({ payload: "abc" });
    harness.take();
    harness.send({ flags: TcpFlag.rst, seq: 4, ack: 0 });
    expect(harness.events).toEqual(["host-abort", "closed:reset-by-guest"]);
    expect(harness.take()).toEqual([]);
  });

  test("an in-window RST that is not exact gets a challenge ACK; an out-of-window RST is ignored", () => {
    const harness = new TcpHarness({ guestIsn: 0 });
    harness.establish();
    harness.send({ flags: TcpFlag.rst, seq: 100 });
    const [challenge] = harness.take();
    expect(flagsOf(challenge!)).toBe("ACK");
    expect(challenge!.ack).toBe(1);
    harness.send({ flags: TcpFlag.rst, seq: 0x80000000 });
    expect(harness.take()).toEqual([]);
    expect(harness.connection.state).toBe("established");
  });

  test("abort() after the handshake sends RST|ACK at SND.MAX without calling back onHostAbort", () => {
    const harness = new TcpHarness({ guestIsn: 0 });
    harness.establish();
    harness.send({ payload: "hi" });
    harness.connection.sendFromHost(new TextEncoder().encode("unacked"));
    harness.take();
    harness.connection.abort();
    const [reset] = harness.take();
    expect(flagsOf(reset!)).toBe("RST|ACK");
    expect(reset!.seq).toBe(FIRST_BYTE + 7);
    expect(reset!.ack).toBe(3);
    expect(reset!.window).toBe(0);
    expect(harness.events).toEqual(["closed:aborted"]);
    harness.connection.abort();
    expect(harness.take()).toEqual([]);
  });

  test("refuse() after accept() is an abort", () => {
    const harness = new TcpHarness();
    harness.connection.accept();
    harness.take();
    harness.connection.refuse();
    const [reset] = harness.take();
    expect(flagsOf(reset!)).toBe("RST|ACK");
    expect(reset!.seq).toBe(FIRST_BYTE);
    expect(harness.closedReason).toBe("aborted");
  });
});

describe("keepalive and idle", () => {
  test("keepalive probes with zero or one byte are answered with an ACK and deliver nothing", () => {
    const harness = new TcpHarness({ guestIsn: 0 });
    harness.establish();
    harness.send({ payload: "x" });
    harness.take();
    harness.send({ seq: 1 });
    harness.send({ seq: 1, payload: "x" });
    expect(harness.take().map((segment) => [flagsOf(segment), segment.seq, segment.ack])).toEqual([
      ["ACK", FIRST_BYTE, 2],
      ["ACK", FIRST_BYTE, 2],
    ]);
    expect(harness.hostBytes()).toBe("x");
  });

  test("a connection idle for the idle timeout is reset both ways; guest keepalives keep it alive", () => {
    const harness = new TcpHarness({ guestIsn: 0, timeouts: { idleMs: 10_000 } });
    harness.establish();
    harness.advance(9000);
    harness.send({ seq: 0 });
    harness.advance(9000);
    expect(harness.connection.state).toBe("established");
    harness.take();
    harness.advance(1000);
    expect(harness.take().map(flagsOf)).toEqual(["RST|ACK"]);
    expect(harness.events).toEqual(["host-abort", "closed:idle"]);
  });
});

describe("unacceptable segments", () => {
  test("old and future sequence numbers are ACKed and not delivered", () => {
    const harness = new TcpHarness({ guestIsn: 0, synOptions: { mss: 1460 }, receiveBufferBytes: 8192 });
    harness.establish();
    harness.send({ payload: "abc" });
    harness.take();
    harness.send({ payload: "old", seq: 1 });
    harness.send({ payload: "far", seq: 4 + 8192 });
    expect(harness.take().map((segment) => segment.ack)).toEqual([4, 4]);
    expect(harness.hostBytes()).toBe("abc");
  });

  test("an ACK for data never sent is answered with an ACK and the segment dropped", () => {
    const harness = new TcpHarness({ guestIsn: 0 });
    harness.establish();
    harness.send({ payload: "data", ack: FIRST_BYTE + 100 });
    const [ack] = harness.take();
    expect(ack!.ack).toBe(1);
    expect(harness.hostBytes()).toBe("");
  });

  test("a SYN in a synchronized state gets a challenge ACK; a segment without ACK is dropped", () => {
    const harness = new TcpHarness({ guestIsn: 0 });
    harness.establish();
    harness.send({ flags: TcpFlag.syn, seq: 1 });
    expect(harness.take().map(flagsOf)).toEqual(["ACK"]);
    harness.send({ flags: TcpFlag.psh, payload: "nope", seq: 1 });
    expect(harness.take()).toEqual([]);
    expect(harness.hostBytes()).toBe("");
    expect(harness.connection.state).toBe("established");
  });
});

describe("reuse of the 4-tuple", () => {
  function inTimeWait(): TcpHarness {
    const harness = new TcpHarness({ guestIsn: 1000 });
    harness.establish();
    harness.connection.hostEnded();
    harness.send({ flags: FIN_ACK, ack: FIRST_BYTE + 1 });
    expect(harness.connection.state).toBe("time-wait");
    harness.take();
    return harness;
  }

  test("a new SYN above the old sequence space ends TIME-WAIT and asks for a new connection", () => {
    const harness = inTimeWait();
    const newSyn = { ...harness.syn, seq: seqAdd(harness.guestNext, 100000) };
    expect(harness.connection.handleSegment(newSyn)).toBe("new-connection");
    expect(harness.closedReason).toBe("superseded");
    expect(harness.take()).toEqual([]);
  });

  test("an old SYN in TIME-WAIT is only ACKed", () => {
    const harness = inTimeWait();
    expect(harness.connection.handleSegment({ ...harness.syn, seq: 1000 })).toBe("handled");
    expect(harness.take().map(flagsOf)).toEqual(["ACK"]);
    expect(harness.connection.state).toBe("time-wait");
  });

  test("TIME-WAIT ignores RSTs (RFC 1337) and expires on its own", () => {
    const harness = inTimeWait();
    harness.send({ flags: TcpFlag.rst, seq: harness.guestNext });
    expect(harness.connection.state).toBe("time-wait");
    harness.advance(5000);
    expect(harness.closedReason).toBe("completed");
    expect(harness.events).not.toContain("host-abort");
  });

  test("a closed connection hands a new SYN back and ignores anything else", () => {
    const harness = new TcpHarness();
    harness.connection.refuse();
    harness.take();
    expect(harness.connection.handleSegment(harness.syn)).toBe("new-connection");
    expect(harness.send({ payload: "late" })).toBe("handled");
    expect(harness.take()).toEqual([]);
  });
});
