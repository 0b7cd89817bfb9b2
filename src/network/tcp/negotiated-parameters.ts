// What a guest TCP connection settles at the handshake from the guest's SYN (or, after an active
// open, its SYN-ACK) and our link settings: segment sizes, window scaling (RFC 7323 §2.2) and
// buffer sizes. Both halves of the connection read these; none of them changes after the handshake.
import {
  DEFAULT_GUEST_MSS,
  DEFAULT_RECEIVE_BUFFER_BYTES,
  DEFAULT_SEND_BUFFER_BYTES,
  type GuestTcpConnectionOptions,
  MAX_WINDOW_SCALE,
  MIN_GUEST_MSS,
} from "./config.ts";
import type { TcpSegment } from "./segment.ts";

/** The largest value of the 16-bit window field. */
export const MAX_WINDOW_FIELD = 0xffff;

export interface NegotiatedParameters {
  /** The MSS we announce: what fits our link MTU. */
  localMss: number;
  /** The largest payload we send: the guest's MSS, bounded by our link MTU. */
  sendMss: number;
  /** Window-scale shifts; both 0 unless the guest's SYN offered WS (RFC 7323 §2.2). */
  offerWindowScale: boolean;
  receiveScale: number;
  sendScale: number;
  receiveCapacity: number;
  sendCapacity: number;
}

/** The smallest shift that makes `bytes` fit the 16-bit window field (RFC 7323 §2.2). */
function windowScaleFor(bytes: number): number {
  let shift = 0;
  while (bytes / 2 ** shift > MAX_WINDOW_FIELD && shift < MAX_WINDOW_SCALE) shift++;
  return shift;
}

/** The MSS we announce: the link MTU minus the IP and TCP headers. */
function localMssFor(options: GuestTcpConnectionOptions): number {
  return options.mtu - ((options.ipVersion ?? 4) === 4 ? 40 : 60);
}

/** The largest payload we send for the guest's announced MSS. */
function sendMssFor(peer: TcpSegment, localMss: number): number {
  return Math.min(Math.max(peer.options.mss ?? DEFAULT_GUEST_MSS, MIN_GUEST_MSS), localMss);
}

/** Passive open: everything is settled by the guest's SYN. */
export function negotiateParameters(
  syn: TcpSegment,
  options: GuestTcpConnectionOptions,
): NegotiatedParameters {
  const localMss = localMssFor(options);
  const receiveCapacity = options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES;
  const offerWindowScale = syn.options.wscale !== undefined;
  return {
    localMss,
    sendMss: sendMssFor(syn, localMss),
    offerWindowScale,
    receiveScale: offerWindowScale ? windowScaleFor(receiveCapacity) : 0,
    sendScale: Math.min(syn.options.wscale ?? 0, MAX_WINDOW_SCALE),
    receiveCapacity,
    sendCapacity: options.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES,
  };
}

/**
 * Active open: what our SYN offers (our MSS, and WS with the shift our buffer needs). The guest's
 * side is unknown until its SYN-ACK, which `settleOffer` applies.
 */
export function offerParameters(options: GuestTcpConnectionOptions): NegotiatedParameters {
  const localMss = localMssFor(options);
  const receiveCapacity = options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES;
  return {
    localMss,
    sendMss: Math.min(DEFAULT_GUEST_MSS, localMss),
    offerWindowScale: true,
    receiveScale: windowScaleFor(receiveCapacity),
    sendScale: 0,
    receiveCapacity,
    sendCapacity: options.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES,
  };
}

/**
 * Completes an active open's parameters from the guest's SYN-ACK, in place (the halves share the
 * object). Window scaling applies only if both sides offered it (RFC 7323 §1.3): without WS in the
 * SYN-ACK both shifts are 0.
 */
export function settleOffer(parameters: NegotiatedParameters, synAck: TcpSegment): void {
  parameters.sendMss = sendMssFor(synAck, parameters.localMss);
  const scaled = synAck.options.wscale !== undefined;
  parameters.offerWindowScale = scaled;
  if (!scaled) parameters.receiveScale = 0;
  parameters.sendScale = scaled ? Math.min(synAck.options.wscale ?? 0, MAX_WINDOW_SCALE) : 0;
}
