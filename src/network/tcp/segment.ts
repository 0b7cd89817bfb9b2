// Predicates on TCP segments as the connection state machine sees them. The shape (header
// fields parsed, options decoded, payload sized from the IP length) and the flag constants come
// from the wire codec, which produces and consumes it.
import { TcpFlag, type TcpSegment } from "../wire/tcp.ts";
import { seqAdd } from "./seq.ts";

export type { TcpOptions, TcpSegment } from "../wire/tcp.ts";
export { TcpFlag } from "../wire/tcp.ts";

export function hasFlag(segment: TcpSegment, flag: number): boolean {
  return (segment.flags & flag) !== 0;
}

/** Sequence space the segment occupies: its payload plus one each for SYN and FIN (§2.7 bug 3). */
export function segmentLength(segment: TcpSegment): number {
  return (
    segment.payload.length + (hasFlag(segment, TcpFlag.syn) ? 1 : 0) + (hasFlag(segment, TcpFlag.fin) ? 1 : 0)
  );
}

/** A SYN that asks for a new connection: SYN set, ACK and RST clear. */
export function isConnectionRequest(segment: TcpSegment): boolean {
  return (segment.flags & (TcpFlag.syn | TcpFlag.ack | TcpFlag.rst)) === TcpFlag.syn;
}

/**
 * The reply to a segment for a 4-tuple with no connection (RFC 9293 §3.10.7.1): a RST that the
 * sender will accept, or undefined for an incoming RST, which is never answered.
 */
export function resetForUnknownSegment(segment: TcpSegment): TcpSegment | undefined {
  if (hasFlag(segment, TcpFlag.rst)) return undefined;
  const reply = { srcPort: segment.dstPort, dstPort: segment.srcPort, window: 0, options: {} };
  if (hasFlag(segment, TcpFlag.ack)) {
    return { ...reply, seq: segment.ack, ack: 0, flags: TcpFlag.rst, payload: new Uint8Array(0) };
  }
  return {
    ...reply,
    seq: 0,
    ack: seqAdd(segment.seq, segmentLength(segment)),
    flags: TcpFlag.rst | TcpFlag.ack,
    payload: new Uint8Array(0),
  };
}
