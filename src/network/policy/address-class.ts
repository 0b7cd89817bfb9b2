// Classifies destination addresses for the egress policy. Public means what ipaddr.js calls
// "unicast" (global unicast outside every special-purpose range, network.md §5), judged on the
// IPv4 address embedded in IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96) and 6to4 addresses,
// so wrapping a private IPv4 address in IPv6 cannot smuggle it past the policy.
import ipaddr from "ipaddr.js";

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

/** Cloud metadata endpoints that are not inside an already-denied range. */
const EXTRA_DENIED_IPV4: ReadonlyArray<[ipaddr.IPv4, number, string]> = [
  [new ipaddr.IPv4([168, 63, 129, 16]), 32, "metadata"],
];
const METADATA_IPV4 = new ipaddr.IPv4([169, 254, 169, 254]);
const PRIVATE_RANGES = new Set(["private", "carrierGradeNat", "uniqueLocal"]);
const NAT64_PREFIX = ipaddr.IPv6.parse("64:ff9b::");
const SIX_TO_FOUR_PREFIX = ipaddr.IPv6.parse("2002::");

/** An address from 4 or 16 bytes, or from strict text (dotted quad or IPv6 without a zone); null if invalid. */
export function parseIpAddress(ip: string | Uint8Array): IpAddress | null {
  if (typeof ip !== "string") {
    return ip.length === 4 || ip.length === 16 ? ipaddr.fromByteArray(Array.from(ip)) : null;
  }
  if (ipaddr.IPv4.isValidFourPartDecimal(ip)) return ipaddr.IPv4.parse(ip);
  // Zone-scoped addresses (fe80::1%eth0) name an interface of some host, not a destination here.
  if (ip.includes(":") && !ip.includes("%") && ipaddr.IPv6.isValid(ip)) return ipaddr.IPv6.parse(ip);
  return null;
}

/** The IPv4 address an IPv6 address stands for, if it embeds one the network would route to. */
export function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4 | null {
  const parts = address.parts;
  const low32 = (): ipaddr.IPv4 =>
    new ipaddr.IPv4([parts[6]! >>> 8, parts[6]! & 0xff, parts[7]! >>> 8, parts[7]! & 0xff]);
  if (address.isIPv4MappedAddress()) return address.toIPv4Address();
  if (address.match(NAT64_PREFIX, 96)) return low32();
  if (address.match(SIX_TO_FOUR_PREFIX, 16)) {
    return new ipaddr.IPv4([parts[1]! >>> 8, parts[1]! & 0xff, parts[2]! >>> 8, parts[2]! & 0xff]);
  }
  // IPv4-compatible ::a.b.c.d (deprecated); :: and ::1 keep their own IPv6 meaning.
  if (parts.slice(0, 6).every((part) => part === 0) && (parts[6] !== 0 || parts[7]! > 1)) return low32();
  return null;
}

/** The address the policy judges: the embedded IPv4 address if there is one, else the address. */
export function effectiveAddress(address: IpAddress): IpAddress {
  return address.kind() === "ipv6" ? (embeddedIpv4(address as ipaddr.IPv6) ?? address) : address;
}

/** "unicast" for public addresses; otherwise the name of the special range ("loopback", "metadata", …). */
export function addressRange(address: IpAddress): string {
  const effective = effectiveAddress(address);
  if (effective.kind() === "ipv4") {
    const ipv4 = effective as ipaddr.IPv4;
    if (ipv4.match(METADATA_IPV4, 32)) return "metadata";
    for (const [network, prefix, name] of EXTRA_DENIED_IPV4) if (ipv4.match(network, prefix)) return name;
    return ipv4.range();
  }
  return (effective as ipaddr.IPv6).range();
}

export function isPublicAddress(address: IpAddress): boolean {
  return addressRange(address) === "unicast";
}

/** RFC 1918, CGNAT (RFC 6598) and IPv6 unique-local: the "private" rule group. */
export function isPrivateAddress(address: IpAddress): boolean {
  return PRIVATE_RANGES.has(addressRange(address));
}
