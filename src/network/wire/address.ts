// Conversions between the byte forms the wire code uses (4-byte IPv4, 16-byte IPv6, 6-byte MAC
// addresses as Uint8Array views) and their text forms, for plans, logs and tests.
import ipaddr from "ipaddr.js";

export const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
export const IPV4_ANY = new Uint8Array(4);
export const IPV4_BROADCAST = new Uint8Array([255, 255, 255, 255]);

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

export function macToString(mac: Uint8Array): string {
  return Array.from(mac, (byte) => byte.toString(16).padStart(2, "0")).join(":");
}

/** Parses "aa:bb:cc:dd:ee:ff"; throws a TypeError for anything else. */
export function macFromString(text: string): Uint8Array {
  const parts = text.split(":");
  if (parts.length !== 6 || !parts.every((part) => /^[0-9a-fA-F]{2}$/.test(part))) {
    throw new TypeError(`not a MAC address: ${text}`);
  }
  return new Uint8Array(parts.map((part) => Number.parseInt(part, 16)));
}

/** Text form of a 4- or 16-byte address (RFC 5952 for IPv6). */
export function ipToString(address: Uint8Array): string {
  if (address.length === 4) return `${address[0]}.${address[1]}.${address[2]}.${address[3]}`;
  return ipaddr.fromByteArray(Array.from(address)).toString();
}

/** Parses a dotted-quad IPv4 address strictly (no "0x7f.1" forms); throws a TypeError otherwise. */
export function ipv4FromString(text: string): Uint8Array {
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) throw new TypeError(`not an IPv4 address: ${text}`);
  return new Uint8Array(ipaddr.IPv4.parse(text).octets);
}
