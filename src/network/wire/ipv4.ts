// IPv4 (RFC 791). Receive: checks version, header length, total length against the buffer (so
// Ethernet padding never leaks into the payload) and the header checksum, which the guest always
// fills in; refuses fragments, since nothing here reassembles. Send: TTL 64, DF set, options never.
import { internetChecksum } from "./checksum.ts";
import { drop, type Parsed } from "./drop.ts";
import { ETHERNET_HEADER_BYTES, EtherType, writeEthernetHeader } from "./ethernet.ts";

export const IPV4_HEADER_BYTES = 20;
export const DEFAULT_TTL = 64;

export const IpProtocol = { icmp: 1, tcp: 6, udp: 17 } as const;

const FLAG_DONT_FRAGMENT = 0x4000;
const FLAG_MORE_FRAGMENTS = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;

export interface Ipv4Packet {
  /** Header bytes including options (which are otherwise ignored). */
  headerLength: number;
  /** DSCP and ECN, the old TOS byte. */
  tos: number;
  totalLength: number;
  identification: number;
  dontFragment: boolean;
  ttl: number;
  protocol: number;
  src: Uint8Array;
  dst: Uint8Array;
  /** Exactly totalLength − headerLength bytes, a view of the input. */
  payload: Uint8Array;
}

export function parseIpv4(bytes: Uint8Array): Parsed<Ipv4Packet> {
  if (bytes.length < IPV4_HEADER_BYTES) return drop("ipv4: packet shorter than a header");
  const versionAndLength = bytes[0]!;
  if (versionAndLength >>> 4 !== 4) return drop("ipv4: version is not 4");
  const headerLength = (versionAndLength & 0x0f) * 4;
  if (headerLength < IPV4_HEADER_BYTES) return drop("ipv4: header length below 20");
  const totalLength = (bytes[2]! << 8) | bytes[3]!;
  if (totalLength < headerLength) return drop("ipv4: total length shorter than the header");
  if (totalLength > bytes.length) return drop("ipv4: total length beyond the frame");
  const header = bytes.subarray(0, headerLength);
  if (internetChecksum(header) !== 0) return drop("ipv4: bad header checksum");
  const flagsAndOffset = (bytes[6]! << 8) | bytes[7]!;
  if ((flagsAndOffset & FLAG_MORE_FRAGMENTS) !== 0 || (flagsAndOffset & FRAGMENT_OFFSET_MASK) !== 0) {
    return drop("ipv4: fragment");
  }
  const ttl = bytes[8]!;
  if (ttl === 0) return drop("ipv4: TTL 0");
  return {
    headerLength,
    tos: bytes[1]!,
    totalLength,
    identification: (bytes[4]! << 8) | bytes[5]!,
    dontFragment: (flagsAndOffset & FLAG_DONT_FRAGMENT) !== 0,
    ttl,
    protocol: bytes[9]!,
    src: bytes.subarray(12, 16),
    dst: bytes.subarray(16, 20),
    payload: bytes.subarray(headerLength, totalLength),
  };
}

export interface Ipv4Header {
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  /** Default 64. */
  ttl?: number;
  /** Default 0. With DF set the value is never used for reassembly (RFC 6864). */
  identification?: number;
  /** Default 0. */
  tos?: number;
}

/** Writes a 20-byte header with DF and its checksum at `offset` of `target`. */
export function writeIpv4Header(
  target: Uint8Array,
  offset: number,
  header: Ipv4Header,
  payloadLength: number,
): void {
  const totalLength = IPV4_HEADER_BYTES + payloadLength;
  if (totalLength > 0xffff) throw new RangeError(`IPv4 packet of ${totalLength} bytes exceeds 65535`);
  const identification = header.identification ?? 0;
  const bytes = target.subarray(offset, offset + IPV4_HEADER_BYTES);
  bytes[0] = 0x45;
  bytes[1] = header.tos ?? 0;
  bytes[2] = totalLength >>> 8;
  bytes[3] = totalLength & 0xff;
  bytes[4] = identification >>> 8;
  bytes[5] = identification & 0xff;
  bytes[6] = FLAG_DONT_FRAGMENT >>> 8;
  bytes[7] = 0;
  bytes[8] = header.ttl ?? DEFAULT_TTL;
  bytes[9] = header.protocol;
  bytes[10] = 0;
  bytes[11] = 0;
  bytes.set(header.src, 12);
  bytes.set(header.dst, 16);
  const checksum = internetChecksum(bytes);
  bytes[10] = checksum >>> 8;
  bytes[11] = checksum & 0xff;
}

export function buildIpv4(header: Ipv4Header, payload: Uint8Array): Uint8Array {
  const packet = new Uint8Array(IPV4_HEADER_BYTES + payload.length);
  writeIpv4Header(packet, 0, header, payload.length);
  packet.set(payload, IPV4_HEADER_BYTES);
  return packet;
}

/** A whole Ethernet frame carrying one IPv4 packet, built in a single allocation. */
export function buildIpv4Frame(
  link: { dst: Uint8Array; src: Uint8Array },
  header: Ipv4Header,
  payload: Uint8Array,
): Uint8Array {
  const frame = new Uint8Array(ETHERNET_HEADER_BYTES + IPV4_HEADER_BYTES + payload.length);
  writeEthernetHeader(frame, link.dst, link.src, EtherType.ipv4);
  writeIpv4Header(frame, ETHERNET_HEADER_BYTES, header, payload.length);
  frame.set(payload, ETHERNET_HEADER_BYTES + IPV4_HEADER_BYTES);
  return frame;
}
