// What a guest TCP connection settles at the handshake from the guest's SYN and our link
// settings: segment sizes, window scaling (RFC 7323 §2.2) and buffer sizes. Both halves of the
// connection read these; none of them changes afterwards.
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

export function negotiateParameters(
  syn: TcpSegment,
  options: GuestTcpConnectionOptions,
): NegotiatedParameters {
  const localMss = options.mtu - ((options.ipVersion ?? 4) === 4 ? 40 : 60);
  const guestMss = Math.max(syn.options.mss ?? DEFAULT_GUEST_MSS, MIN_GUEST_MSS);
  const receiveCapacity = options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES;
  const offerWindowScale = syn.options.wscale !== undefined;
  return {
    localMss,
    sendMss: Math.min(guestMss, localMss),
    offerWindowScale,
    receiveScale: offerWindowScale ? windowScaleFor(receiveCapacity) : 0,
    sendScale: Math.min(syn.options.wscale ?? 0, MAX_WINDOW_SCALE),
    receiveCapacity,
    sendCapacity: options.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES,
  };
}
