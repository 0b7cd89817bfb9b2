// Ethernet II framing: 6-byte destination and source MAC, 2-byte EtherType, payload. No FCS on
// this link. VLAN-tagged and 802.3 length-field frames are refused: the guest NIC never sends them.
import { drop, type Parsed } from "./drop.ts";

export const ETHERNET_HEADER_BYTES = 14;

export const EtherType = {
  ipv4: 0x0800,
  arp: 0x0806,
  ipv6: 0x86dd,
} as const;

/** 802.1Q and 802.1ad tags. */
const VLAN_ETHER_TYPES = new Set([0x8100, 0x88a8]);
/** Values below this are 802.3 payload lengths, not EtherTypes. */
const MIN_ETHER_TYPE = 0x0600;

export interface EthernetFrame {
  dst: Uint8Array;
  src: Uint8Array;
  etherType: number;
  /** Everything after the header, including any padding to the 60-byte minimum. */
  payload: Uint8Array;
}

export function parseEthernet(frame: Uint8Array): Parsed<EthernetFrame> {
  if (frame.length < ETHERNET_HEADER_BYTES) return drop("ethernet: frame shorter than its header");
  const etherType = (frame[12]! << 8) | frame[13]!;
  if (VLAN_ETHER_TYPES.has(etherType)) return drop("ethernet: VLAN-tagged frame");
  if (etherType < MIN_ETHER_TYPE) return drop("ethernet: 802.3 length field, not Ethernet II");
  return {
    dst: frame.subarray(0, 6),
    src: frame.subarray(6, 12),
    etherType,
    payload: frame.subarray(ETHERNET_HEADER_BYTES),
  };
}

/** Writes the 14-byte header at the start of `target`. */
export function writeEthernetHeader(
  target: Uint8Array,
  dst: Uint8Array,
  src: Uint8Array,
  etherType: number,
): void {
  target.set(dst, 0);
  target.set(src, 6);
  target[12] = etherType >>> 8;
  target[13] = etherType & 0xff;
}

export function buildEthernet(
  dst: Uint8Array,
  src: Uint8Array,
  etherType: number,
  payload: Uint8Array,
): Uint8Array {
  const frame = new Uint8Array(ETHERNET_HEADER_BYTES + payload.length);
  writeEthernetHeader(frame, dst, src, etherType);
  frame.set(payload, ETHERNET_HEADER_BYTES);
  return frame;
}
