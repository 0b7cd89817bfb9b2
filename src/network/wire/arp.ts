// ARP for IPv4 over Ethernet (RFC 826): the only hardware/protocol pair this link carries.
import { drop, type Parsed } from "./drop.ts";

export const ArpOperation = { request: 1, reply: 2 } as const;

const ARP_BYTES = 28;
const HARDWARE_ETHERNET = 1;
const PROTOCOL_IPV4 = 0x0800;

export interface ArpPacket {
  operation: number;
  senderMac: Uint8Array;
  senderIp: Uint8Array;
  targetMac: Uint8Array;
  targetIp: Uint8Array;
}

export function parseArp(bytes: Uint8Array): Parsed<ArpPacket> {
  if (bytes.length < ARP_BYTES) return drop("arp: packet too short");
  const hardwareType = (bytes[0]! << 8) | bytes[1]!;
  const protocolType = (bytes[2]! << 8) | bytes[3]!;
  if (
    hardwareType !== HARDWARE_ETHERNET ||
    protocolType !== PROTOCOL_IPV4 ||
    bytes[4] !== 6 ||
    bytes[5] !== 4
  ) {
    return drop("arp: not IPv4 over Ethernet");
  }
  const operation = (bytes[6]! << 8) | bytes[7]!;
  if (operation !== ArpOperation.request && operation !== ArpOperation.reply) {
    return drop(`arp: unknown operation ${operation}`);
  }
  return {
    operation,
    senderMac: bytes.subarray(8, 14),
    senderIp: bytes.subarray(14, 18),
    targetMac: bytes.subarray(18, 24),
    targetIp: bytes.subarray(24, 28),
  };
}

export function buildArp(packet: ArpPacket): Uint8Array {
  const bytes = new Uint8Array(ARP_BYTES);
  bytes.set([0, HARDWARE_ETHERNET, PROTOCOL_IPV4 >>> 8, PROTOCOL_IPV4 & 0xff, 6, 4, 0, packet.operation]);
  bytes.set(packet.senderMac, 8);
  bytes.set(packet.senderIp, 14);
  bytes.set(packet.targetMac, 18);
  bytes.set(packet.targetIp, 24);
  return bytes;
}
