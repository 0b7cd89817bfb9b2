// Byte layouts of the ioctl requests that configure the guest's eth0 (netdevice(7), route(4)):
// struct ifreq carrying a MAC, an MTU, an IPv4 address or flags, and the struct rtentry of a
// default route. Pure builders, so the layouts are checked by table tests without root.

/** struct ifreq: a 16-byte name (IFNAMSIZ), then a 24-byte union at offset 16. */
export const IFREQ_BYTES = 40;
export const IFNAMSIZ = 16;
const IFREQ_UNION = 16;

/** struct sockaddr / sockaddr_in: u16 family, then (sockaddr_in) a big-endian port and the address. */
const SOCKADDR_BYTES = 16;
const AF_INET = 2;
/** sa_family of a hardware address given to SIOCSIFHWADDR. */
const ARPHRD_ETHER = 1;

/** struct rtentry on LP64 (x86_64, arm64), offsets as <linux/route.h> lays them out. */
export const RTENTRY_BYTES = 120;
const RT_DST = 8;
const RT_GATEWAY = 24;
const RT_GENMASK = 40;
const RT_FLAGS = 56;
export const RTF_UP = 0x1;
export const RTF_GATEWAY = 0x2;

export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;

/** An ifreq naming `name` with an empty union (the form SIOCGIFFLAGS fills in). */
export function ifreqForName(name: string): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length === 0 || nameBytes.length >= IFNAMSIZ) {
    throw new RangeError(`interface name "${name}" must be 1..${IFNAMSIZ - 1} bytes`);
  }
  const request = new Uint8Array(IFREQ_BYTES);
  request.set(nameBytes);
  return request;
}

/** SIOCSIFHWADDR: ifr_hwaddr is a sockaddr whose sa_data starts with the 6-byte MAC. */
export function ifreqWithMac(name: string, mac: Uint8Array): Uint8Array {
  if (mac.length !== 6) throw new RangeError(`a MAC address has 6 bytes, not ${mac.length}`);
  const request = ifreqForName(name);
  new DataView(request.buffer).setUint16(IFREQ_UNION, ARPHRD_ETHER, true);
  request.set(mac, IFREQ_UNION + 2);
  return request;
}

/** SIOCSIFMTU: ifr_mtu is a native int. */
export function ifreqWithMtu(name: string, mtu: number): Uint8Array {
  const request = ifreqForName(name);
  new DataView(request.buffer).setInt32(IFREQ_UNION, mtu, true);
  return request;
}

/** SIOCSIFADDR and SIOCSIFNETMASK: the union holds a sockaddr_in. */
export function ifreqWithIpv4(name: string, address: Uint8Array): Uint8Array {
  const request = ifreqForName(name);
  request.set(sockaddrIn(address), IFREQ_UNION);
  return request;
}

export function ifreqFlags(request: Uint8Array): number {
  return new DataView(request.buffer, request.byteOffset).getUint16(IFREQ_UNION, true);
}

/** SIOCSIFFLAGS: ifr_flags is a short. */
export function ifreqWithFlags(name: string, flags: number): Uint8Array {
  const request = ifreqForName(name);
  new DataView(request.buffer).setUint16(IFREQ_UNION, flags, true);
  return request;
}

/**
 * SIOCADDRT for 0.0.0.0/0 via `gateway`. rt_dev stays NULL: the kernel picks the interface
 * whose subnet holds the gateway.
 */
export function defaultRouteEntry(gateway: Uint8Array): Uint8Array {
  const entry = new Uint8Array(RTENTRY_BYTES);
  entry.set(sockaddrIn(new Uint8Array(4)), RT_DST);
  entry.set(sockaddrIn(gateway), RT_GATEWAY);
  entry.set(sockaddrIn(new Uint8Array(4)), RT_GENMASK);
  new DataView(entry.buffer).setUint16(RT_FLAGS, RTF_UP | RTF_GATEWAY, true);
  return entry;
}

/** The netmask of a prefix length, as 4 bytes (24 → 255.255.255.0). */
export function prefixToNetmask(prefix: number): Uint8Array {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new RangeError(`IPv4 prefix ${prefix} is outside 0..32`);
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return new Uint8Array([mask >>> 24, (mask >>> 16) & 0xff, (mask >>> 8) & 0xff, mask & 0xff]);
}

function sockaddrIn(address: Uint8Array): Uint8Array {
  if (address.length !== 4) throw new RangeError(`an IPv4 address has 4 bytes, not ${address.length}`);
  const sockaddr = new Uint8Array(SOCKADDR_BYTES);
  new DataView(sockaddr.buffer).setUint16(0, AF_INET, true);
  sockaddr.set(address, 4);
  return sockaddr;
}
