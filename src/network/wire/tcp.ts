// TCP header codec (RFC 9293) with the options a Linux guest sends: MSS, window scale,
// SACK-permitted and timestamps (NOP/EOL as padding). Option parsing is bounded: an option with a
// length below 2 or past the header drops the segment (the classic infinite-loop/overread bug).
// The connection state machine lives in ../tcp/.
import { internetChecksum, pseudoHeaderSum } from "./checksum.ts";
import { drop, type Parsed } from "./drop.ts";
import { IpProtocol } from "./ipv4.ts";

export const TCP_HEADER_BYTES = 20;
/** RFC 7323 §2.3: a larger shift is treated as 14. */
export const MAX_WINDOW_SCALE = 14;

export const TcpFlag = {
  fin: 0x01,
  syn: 0x02,
  rst: 0x04,
  psh: 0x08,
  ack: 0x10,
  urg: 0x20,
  ece: 0x40,
  cwr: 0x80,
} as const;

const OptionKind = { end: 0, nop: 1, mss: 2, windowScale: 3, sackPermitted: 4, timestamp: 8 } as const;

export interface TcpOptions {
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  /** [TSval, TSecr] */
  timestamp?: [number, number];
}

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** TcpFlag bits. */
  flags: number;
  /** The raw 16-bit window field, not scaled. */
  window: number;
  options: TcpOptions;
  payload: Uint8Array;
}

/**
 * Parses the TCP segment in an IPv4 (or IPv6) payload. Guest segments may carry partial
 * (offloaded) checksums, so callers pass verifyChecksum: false for them.
 */
export function parseTcp(
  ipPayload: Uint8Array,
  srcIp: Uint8Array,
  dstIp: Uint8Array,
  options: { verifyChecksum: boolean },
): Parsed<TcpSegment> {
  if (ipPayload.length < TCP_HEADER_BYTES) return drop("tcp: segment shorter than a header");
  const view = new DataView(ipPayload.buffer, ipPayload.byteOffset, ipPayload.byteLength);
  const headerLength = (ipPayload[12]! >>> 4) * 4;
  if (headerLength < TCP_HEADER_BYTES || headerLength > ipPayload.length) return drop("tcp: bad data offset");
  if (options.verifyChecksum) {
    const sum = pseudoHeaderSum(srcIp, dstIp, IpProtocol.tcp, ipPayload.length);
    if (internetChecksum(ipPayload, sum) !== 0) return drop("tcp: bad checksum");
  }
  const parsedOptions = parseOptions(ipPayload.subarray(TCP_HEADER_BYTES, headerLength));
  if (parsedOptions === null) return drop("tcp: malformed option");
  return {
    srcPort: view.getUint16(0),
    dstPort: view.getUint16(2),
    seq: view.getUint32(4),
    ack: view.getUint32(8),
    flags: ipPayload[13]!,
    window: view.getUint16(14),
    options: parsedOptions,
    payload: ipPayload.subarray(headerLength),
  };
}

function parseOptions(bytes: Uint8Array): TcpOptions | null {
  const options: TcpOptions = {};
  let offset = 0;
  while (offset < bytes.length) {
    const kind = bytes[offset]!;
    if (kind === OptionKind.end) break;
    if (kind === OptionKind.nop) {
      offset += 1;
      continue;
    }
    if (offset + 1 >= bytes.length) return null;
    const length = bytes[offset + 1]!;
    if (length < 2 || offset + length > bytes.length) return null;
    const body = bytes.subarray(offset + 2, offset + length);
    // A known option with the wrong length is skipped, as Linux does, rather than misread.
    if (kind === OptionKind.mss && length === 4) {
      options.mss = (body[0]! << 8) | body[1]!;
    } else if (kind === OptionKind.windowScale && length === 3) {
      options.wscale = Math.min(body[0]!, MAX_WINDOW_SCALE);
    } else if (kind === OptionKind.sackPermitted && length === 2) {
      options.sackPermitted = true;
    } else if (kind === OptionKind.timestamp && length === 10) {
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
      options.timestamp = [view.getUint32(0), view.getUint32(4)];
    }
    offset += length;
  }
  return options;
}

/** Option bytes in Linux's order and alignment: MSS, SACK-permitted + timestamps, NOP + WS. */
function encodeOptions(options: TcpOptions): number[] {
  const bytes: number[] = [];
  if (options.mss !== undefined) bytes.push(OptionKind.mss, 4, options.mss >>> 8, options.mss & 0xff);
  const timestamp = options.timestamp;
  if (options.sackPermitted) {
    if (timestamp === undefined) bytes.push(OptionKind.nop, OptionKind.nop);
    bytes.push(OptionKind.sackPermitted, 2);
  } else if (timestamp !== undefined) {
    bytes.push(OptionKind.nop, OptionKind.nop);
  }
  if (timestamp !== undefined) {
    bytes.push(OptionKind.timestamp, 10);
    for (const value of timestamp)
      bytes.push(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
  }
  if (options.wscale !== undefined) bytes.push(OptionKind.nop, OptionKind.windowScale, 3, options.wscale);
  return bytes;
}

/** The segment with its header, options and a full checksum over the IPv4/IPv6 pseudo-header. */
export function buildTcp(segment: TcpSegment, srcIp: Uint8Array, dstIp: Uint8Array): Uint8Array {
  const options = encodeOptions(segment.options);
  const headerLength = TCP_HEADER_BYTES + options.length;
  const bytes = new Uint8Array(headerLength + segment.payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, segment.srcPort);
  view.setUint16(2, segment.dstPort);
  view.setUint32(4, segment.seq >>> 0);
  view.setUint32(8, segment.ack >>> 0);
  bytes[12] = (headerLength / 4) << 4;
  bytes[13] = segment.flags;
  view.setUint16(14, segment.window);
  bytes.set(options, TCP_HEADER_BYTES);
  bytes.set(segment.payload, headerLength);
  const sum = pseudoHeaderSum(srcIp, dstIp, IpProtocol.tcp, bytes.length);
  view.setUint16(16, internetChecksum(bytes, sum));
  return bytes;
}
