// Active open into the guest (published ports): our SYN and its options, the guest's SYN-ACK,
// refusal by RST, SYN retransmission and give-up, bad SYN-ACKs, window-scale negotiation, and the
// established connection behaving like a passively opened one.
import { describe, expect, test } from "bun:test";
import type { TcpTimeouts } from "../../src/network/tcp/config.ts";
import { GuestTcpConnection } from "../../src/network/tcp/connection.ts";
import { segmentLength, TcpFlag, type TcpOptions, type TcpSegment } from "../../src/network/tcp/segment.ts";
import { seqAdd, seqGt } from "../../src/network/tcp/seq.ts";
import type { TcpCloseReason } from "../../src/network/tcp/types.ts";
import { flagsOf } from "../helpers/net-tcp-harness.ts";

/** The gateway's ephemeral port and the guest's published port. */
const OUR_PORT = 49152;
const GUEST_PORT = 80;
const OUR_ISN = 0x10000;
const GUEST_ISN = 0x7000;
const FIN_ACK = TcpFlag.fin | TcpFlag.ack;

interface ActiveOptions {
  ourIsn?: number;
  mtu?: number;
  receiveBufferBytes?: number;
  timeouts?: Partial<TcpTimeouts>;
}

/** Like TcpHarness, but the connection is opened with `connect()` and the guest answers. */
class ActiveHarness {
  nowMs = 1000;
  readonly connection: GuestTcpConnection;
  private outbox: TcpSegment[] = [];
  readonly hostWrites: Uint8Array[] = [];
  readonly events: string[] = [];
  closedReason: TcpCloseReason | undefined;
  /** The guest's next sequence number, set by `synAck()`. */
  guestNext = 0;
  /** The sequence number after everything the connection has sent. */
  ourNext: number;
  guestWindow = 65535;

  constructor(options: ActiveOptions = {}) {
    const ourIsn = options.ourIsn ?? OUR_ISN;
    this.ourNext = ourIsn;
    this.connection = GuestTcpConnection.connect(
      { localPort: OUR_PORT, remotePort: GUEST_PORT },
      {
        onSegment: (segment) => {
          this.outbox.push(segment);
          const end = seqAdd(segment.seq, segmentLength(segment));
          if ((segment.flags & TcpFlag.rst) === 0 && seqGt(end, this.ourNext)) this.ourNext = end;
        },
        onHostWrite: (bytes) => {
          this.hostWrites.push(bytes.slice());
          return true;
        },
        onHostEnd: () => this.events.push("host-end"),
        onHostAbort: () => this.events.push("host-abort"),
        onHostResume: () => this.events.push("host-resume"),
        onConnected: () => this.events.push("connected"),
        onClosed: (reason) => {
          this.events.push(`closed:${reason}`);
          this.closedReason = reason;
        },
      },
      {
        now: () => this.nowMs,
        mtu: options.mtu ?? 1500,
        receiveBufferBytes: options.receiveBufferBytes,
        initialSequence: ourIsn,
        timeouts: options.timeouts,
      },
    );
  }

  take(): TcpSegment[] {
    const taken = this.outbox;
    this.outbox = [];
    return taken;
  }

  /** The guest's SYN-ACK to our SYN (by default a Linux-like one acknowledging it). */
  synAck(fields: { ack?: number; options?: TcpOptions; window?: number; seq?: number } = {}): void {
    const seq = fields.seq ?? GUEST_ISN;
    this.guestNext = seqAdd(seq, 1);
    this.deliver({
      seq,
      ack: fields.ack ?? this.ourNext,
      flags: TcpFlag.syn | TcpFlag.ack,
      window: fields.window ?? 64240,
      options: fields.options ?? { mss: 1460, wscale: 7, sackPermitted: true, timestamp: [1, 0] },
    });
  }

  /** An ordinary guest segment (ACK set unless flags say otherwise); advances guestNext. */
  send(fields: { payload?: string; flags?: number; seq?: number; ack?: number } = {}): void {
    const payload = new TextEncoder().encode(fields.payload ?? "");
    const segment = this.deliver({
      seq: fields.seq ?? this.guestNext,
      ack: fields.ack ?? this.ourNext,
      flags: fields.flags ?? TcpFlag.ack,
      window: this.guestWindow,
      payload,
    });
    if (fields.seq === undefined) this.guestNext = seqAdd(this.guestNext, segmentLength(segment));
  }

  advance(ms: number): void {
    this.nowMs += ms;
    this.connection.tick();
  }

  hostBytes(): string {
    return new TextDecoder().decode(Buffer.concat(this.hostWrites));
  }

  private deliver(fields: Partial<TcpSegment> & { seq: number; ack: number; flags: number }): TcpSegment {
    const segment: TcpSegment = {
      srcPort: GUEST_PORT,
      dstPort: OUR_PORT,
      window: 65535,
      options: {},
      payload: new Uint8Array(0),
      ...fields,
    };
    expect(this.connection.handleSegment(segment)).toBe("handled");
    return segment;
  }
}

describe("active open", () => {
  test("connect() sends a SYN at once: our ISN, MSS = MTU - 40, WS offered, unscaled window", () => {
    const harness = new ActiveHarness({ mtu: 1500, receiveBufferBytes: 1 << 20 });
    const [syn, ...rest] = harness.take();
    expect(rest).toEqual([]);
    expect(flagsOf(syn!)).toBe("SYN");
    expect(syn!).toMatchObject({
      srcPort: OUR_PORT,
      dstPort: GUEST_PORT,
      seq: OUR_ISN,
      ack: 0,
      window: 65535,
    });
    // Exactly MSS and WS: no SACK-permitted, no timestamps (network.md §2).
    expect(syn!.options).toEqual({ mss: 1460, wscale: 5 });
    expect(syn!.payload.length).toBe(0);
    expect(harness.connection.state).toBe("syn-sent");
    expect(harness.events).toEqual([]);
  });

  test("without a fixed initialSequence the ISN is random", () => {
    const isns = new Set<number>();
    for (let attempt = 0; attempt < 4; attempt++) {
      const segments: TcpSegment[] = [];
      const callbacks = {
        onSegment: (segment: TcpSegment) => segments.push(segment),
        onHostWrite: () => true,
        onHostEnd: () => {},
        onHostAbort: () => {},
        onHostResume: () => {},
        onClosed: () => {},
      };
      GuestTcpConnection.connect({ localPort: 1, remotePort: 2 }, callbacks, { now: () => 0, mtu: 1500 });
      isns.add(segments[0]!.seq);
    }
    expect(isns.size).toBeGreaterThan(1);
  });

  test("SYN-ACK: ACK, onConnected, data both ways, then an orderly close", () => {
    const harness = new ActiveHarness({ timeouts: { timeWaitMs: 3000 } });
    harness.take();
    harness.synAck();
    const [ack, ...rest] = harness.take();
    expect(rest).toEqual([]);
    expect(flagsOf(ack!)).toBe("ACK");
    expect(ack!).toMatchObject({ seq: OUR_ISN + 1, ack: GUEST_ISN + 1 });
    expect(harness.connection.state).toBe("established");
    expect(harness.events).toEqual(["connected"]);
    expect(harness.connection.nextTimerAt()).toBe(harness.nowMs + 2 * 60 * 60 * 1000);

    // Host → guest.
    harness.connection.sendFromHost(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
    const [request] = harness.take();
    expect(flagsOf(request!)).toBe("PSH|ACK");
    expect(request!.seq).toBe(OUR_ISN + 1);
    expect(new TextDecoder().decode(request!.payload)).toBe("GET / HTTP/1.1\r\n\r\n");
    harness.send();
    expect(harness.take()).toEqual([]);

    // Guest → host.
    harness.send({ payload: "HTTP/1.1 200 OK\r\n\r\n" });
    expect(harness.hostBytes()).toBe("HTTP/1.1 200 OK\r\n\r\n");
    const [dataAck] = harness.take();
    expect(dataAck!.ack).toBe(GUEST_ISN + 1 + 19);

    // The host client closes first: FIN, FIN-WAIT, the guest's FIN, TIME-WAIT, closed.
    harness.connection.hostEnded();
    expect(harness.take().map(flagsOf)).toEqual(["FIN|ACK"]);
    expect(harness.connection.state).toBe("fin-wait-1");
    harness.send();
    expect(harness.connection.state).toBe("fin-wait-2");
    harness.send({ flags: FIN_ACK });
    expect(harness.connection.state).toBe("time-wait");
    expect(harness.take().map(flagsOf)).toEqual(["ACK"]);
    harness.advance(3000);
    expect(harness.events).toEqual(["connected", "host-end", "closed:completed"]);
    expect(harness.connection.stats).toEqual({
      bytesFromGuest: 19,
      bytesToGuest: 18,
      retransmittedSegments: 0,
    });
  });

  test("the guest closing first goes through CLOSE-WAIT and LAST-ACK", () => {
    const harness = new ActiveHarness();
    harness.synAck();
    harness.take();
    harness.send({ payload: "bye", flags: FIN_ACK });
    expect(harness.connection.state).toBe("close-wait");
    expect(harness.events).toEqual(["connected", "host-end"]);
    harness.connection.hostEnded();
    expect(harness.take().map(flagsOf)).toEqual(["ACK", "FIN|ACK"]);
    expect(harness.connection.state).toBe("last-ack");
    harness.send();
    expect(harness.events).toEqual(["connected", "host-end", "closed:completed"]);
  });

  test("host data and EOF given before the SYN-ACK wait for it and carry the handshake's ACK", () => {
    const harness = new ActiveHarness();
    harness.take();
    expect(harness.connection.sendFromHost(new TextEncoder().encode("early"))).toBe(true);
    harness.connection.hostEnded();
    expect(harness.take()).toEqual([]);
    harness.synAck();
    const [data, ...rest] = harness.take();
    expect(rest).toEqual([]);
    expect(flagsOf(data!)).toBe("FIN|PSH|ACK");
    expect(data!).toMatchObject({ seq: OUR_ISN + 1, ack: GUEST_ISN + 1 });
    expect(new TextDecoder().decode(data!.payload)).toBe("early");
    expect(harness.connection.state).toBe("fin-wait-1");
  });

  test("a RST with an acceptable ACK means refused", () => {
    const harness = new ActiveHarness();
    harness.take();
    harness.send({ flags: TcpFlag.rst | TcpFlag.ack, seq: 0, ack: OUR_ISN + 1 });
    expect(harness.take()).toEqual([]);
    expect(harness.events).toEqual(["host-abort", "closed:refused"]);
    expect(harness.connection.state).toBe("closed");
    expect(harness.connection.nextTimerAt()).toBeUndefined();
  });

  test("a RST without ACK or with a wrong ACK is ignored", () => {
    const harness = new ActiveHarness();
    harness.take();
    harness.send({ flags: TcpFlag.rst, seq: 0, ack: 0 });
    harness.send({ flags: TcpFlag.rst | TcpFlag.ack, seq: 0, ack: OUR_ISN + 5 });
    expect(harness.take()).toEqual([]);
    expect(harness.events).toEqual([]);
    expect(harness.connection.state).toBe("syn-sent");
  });

  test("a SYN-ACK with a wrong ACK gets <SEQ=SEG.ACK><CTL=RST>; the right one still connects", () => {
    const harness = new ActiveHarness();
    harness.take();
    for (const wrongAck of [OUR_ISN, OUR_ISN + 2, 12345]) {
      harness.synAck({ ack: wrongAck });
      const [reset, ...rest] = harness.take();
      expect(rest).toEqual([]);
      expect(flagsOf(reset!)).toBe("RST");
      expect(reset!).toMatchObject({ seq: wrongAck, ack: 0, window: 0 });
      expect(harness.connection.state).toBe("syn-sent");
    }
    // A plain ACK with a wrong ack is answered the same way.
    harness.send({ seq: 1, ack: 999 });
    expect(harness.take().map((segment) => [flagsOf(segment), segment.seq])).toEqual([["RST", 999]]);
    expect(harness.events).toEqual([]);
    harness.synAck();
    expect(harness.connection.state).toBe("established");
    expect(harness.events).toEqual(["connected"]);
  });

  test("the SYN is retransmitted with backoff, then the open fails with a RST at ISS + 1", () => {
    const harness = new ActiveHarness({ timeouts: { rtoInitialMs: 1000, maxSynRetransmits: 2 } });
    const [first] = harness.take();
    expect(harness.connection.nextTimerAt()).toBe(harness.nowMs + 1000);
    harness.advance(999);
    expect(harness.take()).toEqual([]);
    harness.advance(1);
    const [second] = harness.take();
    expect(second).toEqual(first!);
    harness.advance(1999);
    expect(harness.take()).toEqual([]);
    harness.advance(1);
    expect(harness.take().map(flagsOf)).toEqual(["SYN"]);
    harness.advance(3999);
    expect(harness.take()).toEqual([]);
    harness.advance(1);
    const [reset] = harness.take();
    expect(flagsOf(reset!)).toBe("RST");
    expect(reset!.seq).toBe(OUR_ISN + 1);
    expect(harness.events).toEqual(["host-abort", "closed:handshake-timeout"]);
    expect(harness.connection.stats.retransmittedSegments).toBe(2);
    expect(harness.connection.nextTimerAt()).toBeUndefined();
  });

  test("a SYN-ACK after a retransmission still connects, and the data timer starts fresh", () => {
    const harness = new ActiveHarness({ timeouts: { rtoInitialMs: 1000 } });
    harness.advance(1000);
    harness.advance(2000);
    expect(harness.take().map(flagsOf)).toEqual(["SYN", "SYN", "SYN"]);
    harness.synAck();
    expect(harness.events).toEqual(["connected"]);
    harness.take();
    harness.connection.sendFromHost(new Uint8Array(10));
    expect(harness.connection.nextTimerAt()).toBe(harness.nowMs + 1000);
  });

  test("a retransmitted SYN-ACK (our ACK was lost) is ACKed again and changes nothing", () => {
    const harness = new ActiveHarness();
    harness.take();
    harness.synAck();
    const [ack] = harness.take();
    harness.synAck();
    expect(harness.take()).toEqual([ack!]);
    expect(harness.connection.state).toBe("established");
    expect(harness.events).toEqual(["connected"]);
  });

  test("abort() while the SYN is outstanding sends a RST at ISS + 1", () => {
    const harness = new ActiveHarness();
    harness.take();
    harness.connection.abort();
    expect(harness.take().map((segment) => [flagsOf(segment), segment.seq])).toEqual([["RST", OUR_ISN + 1]]);
    expect(harness.events).toEqual(["closed:aborted"]);
  });

  test("a guest SYN on the tuple (simultaneous open) is refused with RST|ACK and fails the open", () => {
    const harness = new ActiveHarness();
    harness.take();
    harness.send({ flags: TcpFlag.syn, seq: 500, ack: 0 });
    const [reset] = harness.take();
    expect(flagsOf(reset!)).toBe("RST|ACK");
    expect(reset!).toMatchObject({ srcPort: OUR_PORT, dstPort: GUEST_PORT, seq: 0, ack: 501 });
    expect(harness.events).toEqual(["host-abort", "closed:refused"]);
  });
});

describe("active open: negotiated parameters", () => {
  test("window scaling both ways when the guest offers it", () => {
    const harness = new ActiveHarness({ receiveBufferBytes: 1 << 20 });
    harness.take();
    // The SYN-ACK's window is never scaled: 1000 bytes until the next segment.
    harness.synAck({ options: { mss: 1460, wscale: 2 }, window: 1000 });
    harness.take();
    harness.connection.sendFromHost(new Uint8Array(3000));
    expect(harness.take().map((segment) => segment.payload.length)).toEqual([1000]);

    // From now on the guest's window is scaled by 2^2 and ours by 2^5.
    harness.guestWindow = 1000;
    harness.send({ payload: "x", ack: OUR_ISN + 1001 });
    const segments = harness.take();
    expect(segments.map((segment) => segment.payload.length)).toEqual([1460, 540]);
    expect(segments[0]!.ack).toBe(GUEST_ISN + 2);
    expect(segments[0]!.window).toBe((1 << 20) / 32);
  });

  test("no scaling either way when the guest omits WS; its MSS bounds our segments", () => {
    const harness = new ActiveHarness({ receiveBufferBytes: 1 << 20 });
    expect(harness.take()[0]!.options).toEqual({ mss: 1460, wscale: 5 });
    harness.synAck({ options: { mss: 1000 }, window: 5000 });
    harness.take();
    harness.guestWindow = 5000;
    harness.send({ payload: "x" });
    const [ack] = harness.take();
    // Unscaled and capped at the 16-bit field; one byte taken leaves the edge where it was.
    expect(ack!.window).toBe(65534);
    harness.connection.sendFromHost(new Uint8Array(6000));
    expect(harness.take().map((segment) => segment.payload.length)).toEqual([1000, 1000, 1000, 1000, 1000]);
  });

  test("a SYN-ACK without MSS means 536", () => {
    const harness = new ActiveHarness();
    harness.synAck({ options: {} });
    harness.take();
    harness.connection.sendFromHost(new Uint8Array(1000));
    expect(harness.take().map((segment) => segment.payload.length)).toEqual([536, 464]);
  });
});
