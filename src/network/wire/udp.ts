// UDP (RFC 768). A zero checksum means "none" on receive; the length field, not the IP payload
// size, bounds the data. Sent datagrams always carry a full checksum (0 is sent as 0xffff).
import { internetChecksum, pseudoHeaderSum } from "./checksum.ts";
import { drop, type Parsed } from "./drop.ts";
import { IpProtocol } from "./ipv4.ts";

export const UDP_HEADER_BYTES = 8;

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

export function parseUdp(
  ipPayload: Uint8Array,
  srcIp: Uint8Array,
  dstIp: Uint8Array,
  options: { verifyChecksum: boolean },
): Parsed<UdpDatagram> {
  if (ipPayload.length < UDP_HEADER_BYTES) return drop("udp: datagram shorter than a header");
  const length = (ipPayload[4]! << 8) | ipPayload[5]!;
  if (length < UDP_HEADER_BYTES || length > ipPayload.length) return drop("udp: bad length field");
  const datagram = ipPayload.subarray(0, length);
  const checksum = (ipPayload[6]! << 8) | ipPayload[7]!;
  if (options.verifyChecksum && checksum !== 0) {
    if (internetChecksum(datagram, pseudoHeaderSum(srcIp, dstIp, IpProtocol.udp, length)) !== 0) {
      return drop("udp: bad checksum");
    }
  }
  return {
    srcPort: (ipPayload[0]! << 8) | ipPayload[1]!,
    dstPort: (ipPayload[2]! << 8) | ipPayload[3]!,
    payload: datagram.subarray(UDP_HEADER_BYTES),
  };
}

export function buildUdp(datagram: UdpDatagram, srcIp: Uint8Array, dstIp: Uint8Array): Uint8Array {
  const length = UDP_HEADER_BYTES + datagram.payload.length;
  if (length > 0xffff) throw new RangeError(`UDP datagram of ${length} bytes exceeds 65535`);
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, datagram.srcPort);
  view.setUint16(2, datagram.dstPort);
  view.setUint16(4, length);
  bytes.set(datagram.payload, UDP_HEADER_BYTES);
  const checksum = internetChecksum(bytes, pseudoHeaderSum(srcIp, dstIp, IpProtocol.udp, length));
  view.setUint16(6, checksum === 0 ? 0xffff : checksum);
  return bytes;
}
