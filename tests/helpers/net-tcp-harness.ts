// Drives one GuestTcpConnection from the guest's side with hand-built segments and a fake clock,
// recording every segment sent to the guest and every engine callback.

import type { TcpTimeouts } from "../../src/network/tcp/config.ts";
import { GuestTcpConnection } from "../../src/network/tcp/connection.ts";
import { segmentLength, TcpFlag, type TcpOptions, type TcpSegment } from "../../src/network/tcp/segment.ts";
import { seqAdd, seqGt } from "../../src/network/tcp/seq.ts";
import type { TcpCloseReason, TcpSegmentOutcome } from "../../src/network/tcp/types.ts";

export const GUEST_PORT = 40000;
export const HOST_PORT = 443;

export interface OpenOptions {
  guestIsn?: number;
  ourIsn?: number;
  /** The guest's SYN options; default MSS 1460 and WS 7, as a Linux guest sends. */
  synOptions?: TcpOptions;
  /** The raw window field of the guest's SYN. */
  synWindow?: number;
  mtu?: number;
  receiveBufferBytes?: number;
  sendBufferBytes?: number;
  timeouts?: Partial<TcpTimeouts>;
}

export interface GuestSend {
  payload?: Uint8Array | string;
  flags?: number;
  seq?: number;
  ack?: number;
  /** Raw window field; defaults to `harness.guestWindow`. */
  window?: number;
}

export class TcpHarness {
  nowMs = 1000;
  readonly connection: GuestTcpConnection;
  /** Segments the connection sent to the guest, not yet taken. */
  private outbox: TcpSegment[] = [];
  readonly hostWrites: Uint8Array[] = [];
  /** Engine callbacks other than onSegment/onHostWrite, in order. */
  readonly events: string[] = [];
  closedReason: TcpCloseReason | undefined;
  /** What onHostWrite returns next. */
  hostAccepts = true;
  /** The guest's next sequence number. */
  guestNext: number;
  /** The sequence number after everything the connection has sent (what a guest ACKs by default). */
  ourNext: number;
  /** The raw window field the guest advertises. */
  guestWindow = 65535;
  readonly syn: TcpSegment;

  constructor(options: OpenOptions = {}) {
    const guestIsn = options.guestIsn ?? 0x1000;
    this.syn = {
      srcPort: GUEST_PORT,
      dstPort: HOST_PORT,
      seq: guestIsn,
      ack: 0,
      flags: TcpFlag.syn,
      window: options.synWindow ?? 64240,
      options: options.synOptions ?? { mss: 1460, wscale: 7, sackPermitted: true, timestamp: [1, 0] },
      payload: new Uint8Array(0),
    };
    this.guestNext = seqAdd(guestIsn, 1);
    this.ourNext = seqAdd(options.ourIsn ?? 0x10000, 1);
    this.connection = new GuestTcpConnection(
      this.syn,
      {
        onSegment: (segment) => {
          this.outbox.push(segment);
          const end = seqAdd(segment.seq, segmentLength(segment));
          if ((segment.flags & TcpFlag.rst) === 0 && seqGt(end, this.ourNext)) this.ourNext = end;
        },
        onHostWrite: (bytes) => {
          this.hostWrites.push(bytes.slice());
          return this.hostAccepts;
        },
        onHostEnd: () => this.events.push("host-end"),
        onHostAbort: () => this.events.push("host-abort"),
        onHostResume: () => this.events.push("host-resume"),
        onClosed: (reason) => {
          this.events.push(`closed:${reason}`);
          this.closedReason = reason;
        },
      },
      {
        now: () => this.nowMs,
        mtu: options.mtu ?? 1500,
        receiveBufferBytes: options.receiveBufferBytes,
        sendBufferBytes: options.sendBufferBytes,
        initialSequence: options.ourIsn ?? 0x10000,
        timeouts: options.timeouts,
      },
    );
  }

  /** Accepts and completes the handshake; returns the SYN-ACK. */
  establish(): TcpSegment {
    this.connection.accept();
    const [synAck] = this.take();
    if (synAck === undefined) throw new Error("no SYN-ACK");
    this.send({ ack: seqAdd(synAck.seq, 1) });
    return synAck;
  }

  /** Segments sent to the guest since the last call. */
  take(): TcpSegment[] {
    const taken = this.outbox;
    this.outbox = [];
    return taken;
  }

  /** Sends a guest segment (ACK set unless flags say otherwise); advances guestNext. */
  send(fields: GuestSend = {}): TcpSegmentOutcome {
    const payload =
      typeof fields.payload === "string"
        ? new TextEncoder().encode(fields.payload)
        : (fields.payload ?? new Uint8Array(0));
    const segment: TcpSegment = {
      srcPort: GUEST_PORT,
      dstPort: HOST_PORT,
      seq: fields.seq ?? this.guestNext,
      ack: fields.ack ?? this.ourNext,
      flags: fields.flags ?? TcpFlag.ack,
      window: fields.window ?? this.guestWindow,
      options: {},
      payload,
    };
    if (fields.seq === undefined) this.guestNext = seqAdd(this.guestNext, segmentLength(segment));
    return this.connection.handleSegment(segment);
  }

  /** Advances the fake clock and runs the connection's timers. */
  advance(ms: number): void {
    this.nowMs += ms;
    this.connection.tick();
  }

  hostBytes(): string {
    return new TextDecoder().decode(concat(this.hostWrites));
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function patternBytes(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = (index * 31 + seed) & 0xff;
  return bytes;
}

export function flagsOf(segment: TcpSegment): string {
  const names: [number, string][] = [
    [TcpFlag.syn, "SYN"],
    [TcpFlag.rst, "RST"],
    [TcpFlag.fin, "FIN"],
    [TcpFlag.psh, "PSH"],
    [TcpFlag.ack, "ACK"],
  ];
  return names
    .filter(([flag]) => (segment.flags & flag) !== 0)
    .map(([, name]) => name)
    .join("|");
}
