// Opening a guest TCP connection: connect-before-SYN-ACK, the SYN-ACK's options and windows,
// refusal as RST|ACK, duplicate SYNs, SYN-ACK retransmission and bad handshake ACKs.
import { describe, expect, test } from "bun:test";
import { GuestTcpConnection } from "../../src/network/tcp/connection.ts";
import { resetForUnknownSegment, TcpFlag, type TcpSegment } from "../../src/network/tcp/segment.ts";
import { flagsOf, GUEST_PORT, HOST_PORT, TcpHarness } from "../helpers/net-tcp-harness.ts";

describe("handshake", () => {
  test("nothing is sent before accept(); SYN-ACK with MSS = MTU - 40 and WS when the guest offered it", () => {
    const harness = new TcpHarness({
      guestIsn: 0x1000,
      ourIsn: 0x5000,
      mtu: 1500,
      receiveBufferBytes: 1 << 20,
    });
    expect(harness.connection.state).toBe("awaiting-accept");
    expect(harness.take()).toEqual([]);

    harness.connection.accept();
    const [synAck, ...rest] = harness.take();
    expect(rest).toEqual([]);
    expect(flagsOf(synAck!)).toBe("SYN|ACK");
    expect(synAck!.srcPort).toBe(HOST_PORT);
    expect(synAck!.dstPort).toBe(GUEST_PORT);
    expect(synAck!.seq).toBe(0x5000);
    expect(synAck!.ack).toBe(0x1001);
    // No SACK-permitted, no timestamps (network.md §2): exactly MSS and WS.
    expect(synAck!.options).toEqual({ mss: 1460, wscale: 5 });
    // The SYN-ACK's window is never scaled.
    expect(synAck!.window).toBe(65535);
    expect(harness.connection.state).toBe("syn-received");

    harness.send({ ack: 0x5001 });
    expect(harness.connection.state).toBe("established");
    expect(harness.take()).toEqual([]);

    // The first segment after the handshake advertises the whole buffer, scaled by 2^5.
    harness.send({ payload: "x" });
    const [ack] = harness.take();
    expect(ack!.ack).toBe(0x1002);
    expect(ack!.window).toBe((1 << 20) / 32);
  });

  test("without WS from the guest: no WS option and windows capped at 65535, unscaled", () => {
    const harness = new TcpHarness({ synOptions: { mss: 1460 }, mtu: 65520, receiveBufferBytes: 1 << 20 });
    const synAck = harness.establish();
    expect(synAck.options).toEqual({ mss: 65480 });
    harness.send({ payload: "x" });
    const [ack] = harness.take();
    // One byte is taken; the right edge stays put rather than growing by a silly 1 byte.
    expect(ack!.window).toBe(65534);
  });

  test("the guest's window is scaled after the SYN, and a missing MSS means 536", () => {
    const harness = new TcpHarness({ synOptions: { wscale: 2 }, synWindow: 1000 });
    harness.guestWindow = 1000; // 4000 bytes with WS 2
    harness.establish();
    harness.connection.sendFromHost(new Uint8Array(5000));
    const segments = harness.take();
    expect(segments.map((segment) => segment.payload.length)).toEqual([
      536, 536, 536, 536, 536, 536, 536, 248,
    ]);
  });

  test("a hostile MSS of 0 is clamped rather than stalling the sender", () => {
    const harness = new TcpHarness({ synOptions: { mss: 0 } });
    harness.establish();
    harness.connection.sendFromHost(new Uint8Array(200));
    expect(harness.take().map((segment) => segment.payload.length)).toEqual([64, 64, 64, 8]);
  });

  test("refuse() answers RST|ACK with ack = guest ISN + 1 and closes", () => {
    const harness = new TcpHarness({ guestIsn: 0xfffffffe });
    harness.connection.refuse();
    const [reset] = harness.take();
    expect(flagsOf(reset!)).toBe("RST|ACK");
    expect(reset!.ack).toBe(0xffffffff);
    expect(reset!.seq).toBe(0);
    expect(harness.events).toEqual(["closed:refused"]);
    expect(harness.connection.state).toBe("closed");
    expect(harness.connection.nextTimerAt()).toBeUndefined();
  });

  test("guest SYN retransmits while the host connect is pending are ignored", () => {
    const harness = new TcpHarness();
    expect(harness.connection.handleSegment(harness.syn)).toBe("handled");
    expect(harness.connection.handleSegment(harness.syn)).toBe("handled");
    expect(harness.take()).toEqual([]);
    harness.connection.accept();
    expect(harness.take().length).toBe(1);
  });

  test("a guest RST while the connect is pending cancels the flow", () => {
    const harness = new TcpHarness({ guestIsn: 7 });
    harness.send({ flags: TcpFlag.rst, seq: 8, ack: 0 });
    expect(harness.events).toEqual(["host-abort", "closed:reset-by-guest"]);
    expect(harness.take()).toEqual([]);
  });

  test("a duplicate SYN in SYN-RECEIVED gets the same SYN-ACK again", () => {
    const harness = new TcpHarness();
    harness.connection.accept();
    const [first] = harness.take();
    harness.connection.handleSegment(harness.syn);
    const [again] = harness.take();
    expect(again).toEqual(first!);
    expect(harness.connection.state).toBe("syn-received");
  });

  test("the SYN-ACK is retransmitted with backoff, then the handshake is abandoned", () => {
    const harness = new TcpHarness({ timeouts: { rtoInitialMs: 1000, maxSynAckRetransmits: 2 } });
    harness.connection.accept();
    harness.take();
    harness.advance(999);
    expect(harness.take()).toEqual([]);
    harness.advance(1);
    expect(harness.take().map(flagsOf)).toEqual(["SYN|ACK"]);
    harness.advance(1999);
    expect(harness.take()).toEqual([]);
    harness.advance(1);
    expect(harness.take().map(flagsOf)).toEqual(["SYN|ACK"]);
    harness.advance(4000);
    const [reset] = harness.take();
    expect(flagsOf(reset!)).toBe("RST|ACK");
    expect(harness.events).toEqual(["host-abort", "closed:handshake-timeout"]);
    expect(harness.connection.stats.retransmittedSegments).toBe(2);
  });

  test("an ACK that does not acknowledge our SYN gets <SEQ=SEG.ACK><CTL=RST>", () => {
    const harness = new TcpHarness({ ourIsn: 100 });
    harness.connection.accept();
    harness.take();
    harness.send({ ack: 5000 });
    const [reset] = harness.take();
    expect(flagsOf(reset!)).toBe("RST");
    expect(reset!.seq).toBe(5000);
    expect(harness.connection.state).toBe("syn-received");
  });

  test("host data and host EOF before the handshake completes go out right after it", () => {
    const harness = new TcpHarness();
    harness.connection.accept();
    harness.take();
    harness.connection.sendFromHost(new TextEncoder().encode("SSH-2.0-banner\r\n"));
    harness.connection.hostEnded();
    expect(harness.take()).toEqual([]);
    harness.send({ ack: 0x10001 });
    const [data] = harness.take();
    expect(flagsOf(data!)).toBe("FIN|PSH|ACK");
    expect(new TextDecoder().decode(data!.payload)).toBe("SSH-2.0-banner\r\n");
    expect(harness.connection.state).toBe("fin-wait-1");
  });

  test("the constructor rejects anything but a bare SYN", () => {
    const syn: TcpSegment = {
      srcPort: 1,
      dstPort: 2,
      seq: 0,
      ack: 0,
      flags: TcpFlag.syn | TcpFlag.ack,
      window: 0,
      options: {},
      payload: new Uint8Array(0),
    };
    expect(() => new GuestTcpConnection(syn, undefined as never, { now: () => 0, mtu: 1500 })).toThrow(
      /must start with a SYN/,
    );
  });
});

describe("resetForUnknownSegment", () => {
  const base: TcpSegment = {
    srcPort: GUEST_PORT,
    dstPort: HOST_PORT,
    seq: 0xfffffffe,
    ack: 1234,
    flags: TcpFlag.ack,
    window: 100,
    options: {},
    payload: new Uint8Array(3),
  };

  test("a segment with ACK gets RST with seq = its ack", () => {
    const reset = resetForUnknownSegment(base)!;
    expect(reset).toMatchObject({ srcPort: HOST_PORT, dstPort: GUEST_PORT, seq: 1234, flags: TcpFlag.rst });
  });

  test("a segment without ACK gets RST|ACK acknowledging its whole length, SYN and FIN included", () => {
    const reset = resetForUnknownSegment({ ...base, flags: TcpFlag.syn | TcpFlag.fin })!;
    expect(reset).toMatchObject({ seq: 0, ack: 3, flags: TcpFlag.rst | TcpFlag.ack });
  });

  test("a RST is never answered", () => {
    expect(resetForUnknownSegment({ ...base, flags: TcpFlag.rst })).toBeUndefined();
  });
});
