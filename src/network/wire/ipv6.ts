// Just enough IPv6 to classify a packet and drop it. The engine is IPv4-only: without router
// advertisements the guest has no IPv6 route, so AAAA connects fail at once and clients fall back
// to IPv4; anything the guest still sends (DAD, router solicitations, MLD) is ignored.
import { drop, type Parsed } from "./drop.ts";

const IPV6_HEADER_BYTES = 40;

export interface Ipv6Packet {
  nextHeader: number;
  hopLimit: number;
  src: Uint8Array;
  dst: Uint8Array;
  /** Exactly the payload-length bytes after the fixed header (extension headers included). */
  payload: Uint8Array;
}

export function parseIpv6(bytes: Uint8Array): Parsed<Ipv6Packet> {
  if (bytes.length < IPV6_HEADER_BYTES) return drop("ipv6: packet shorter than a header");
  if (bytes[0]! >>> 4 !== 6) return drop("ipv6: version is not 6");
  const payloadLength = (bytes[4]! << 8) | bytes[5]!;
  if (IPV6_HEADER_BYTES + payloadLength > bytes.length) return drop("ipv6: payload length beyond the frame");
  return {
    nextHeader: bytes[6]!,
    hopLimit: bytes[7]!,
    src: bytes.subarray(8, 24),
    dst: bytes.subarray(24, 40),
    payload: bytes.subarray(IPV6_HEADER_BYTES, IPV6_HEADER_BYTES + payloadLength),
  };
}
