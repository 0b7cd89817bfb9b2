// ICMPv4 (RFC 792): echo request/reply for pings to the gateway, and destination-unreachable
// messages so a refused UDP send or unreachable host fails fast in the guest.
import { internetChecksum } from "./checksum.ts";
import { drop, type Parsed } from "./drop.ts";

const ICMP_HEADER_BYTES = 8;
/** Linux quotes as much of the offending packet as fits in a 576-byte ICMP datagram. */
const MAX_QUOTED_BYTES = 576 - 20 - ICMP_HEADER_BYTES;

export const IcmpType = {
  echoReply: 0,
  destinationUnreachable: 3,
  echoRequest: 8,
  timeExceeded: 11,
} as const;

export const UnreachableCode = {
  network: 0,
  host: 1,
  protocol: 2,
  port: 3,
  administrativelyProhibited: 13,
} as const;

export interface IcmpMessage {
  type: number;
  code: number;
  /** The 4 bytes after the checksum; for echo messages, identifier then sequence number. */
  restOfHeader: number;
  data: Uint8Array;
}

export function parseIcmpv4(bytes: Uint8Array, options: { verifyChecksum: boolean }): Parsed<IcmpMessage> {
  if (bytes.length < ICMP_HEADER_BYTES) return drop("icmp: message shorter than a header");
  if (options.verifyChecksum && internetChecksum(bytes) !== 0) return drop("icmp: bad checksum");
  return {
    type: bytes[0]!,
    code: bytes[1]!,
    restOfHeader: ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0,
    data: bytes.subarray(ICMP_HEADER_BYTES),
  };
}

export function buildIcmpv4(message: IcmpMessage): Uint8Array {
  const bytes = new Uint8Array(ICMP_HEADER_BYTES + message.data.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, message.type);
  view.setUint8(1, message.code);
  view.setUint32(4, message.restOfHeader);
  bytes.set(message.data, ICMP_HEADER_BYTES);
  view.setUint16(2, internetChecksum(bytes));
  return bytes;
}

/** The echo reply to an echo request: same identifier, sequence number and data. */
export function buildEchoReply(request: IcmpMessage): Uint8Array {
  return buildIcmpv4({
    type: IcmpType.echoReply,
    code: 0,
    restOfHeader: request.restOfHeader,
    data: request.data,
  });
}

/**
 * Destination unreachable with `code`, quoting the start of `offendingPacket` (its IP header and
 * leading payload) so the guest's stack can match it to the socket that sent it.
 */
export function buildDestinationUnreachable(code: number, offendingPacket: Uint8Array): Uint8Array {
  return buildIcmpv4({
    type: IcmpType.destinationUnreachable,
    code,
    restOfHeader: 0,
    data: offendingPacket.subarray(0, MAX_QUOTED_BYTES),
  });
}
