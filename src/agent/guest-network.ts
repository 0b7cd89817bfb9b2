// The guest's side of the sandbox network when the boot config carries one (namespace backend):
// the TAP device eth0, configured statically from the plan (MAC, MTU, IPv4 address, up, default
// route via the gateway), /etc/resolv.conf naming the gateway's DNS server, and the relay that
// carries eth0's frames to the supervisor's network engine over net.sock.
import { closeSync, mkdirSync, writeFileSync } from "node:fs";
import type { GuestNetworkConfig } from "../network/plan.ts";
import { openTap, relayTapToStream, type TapDevice } from "../network/tap.ts";
import { ipv4FromString, macFromString } from "../network/wire/address.ts";
import {
  defaultRouteEntry,
  IFF_RUNNING,
  IFF_UP,
  ifreqFlags,
  ifreqForName,
  ifreqWithFlags,
  ifreqWithIpv4,
  ifreqWithMac,
  ifreqWithMtu,
  prefixToNetmask,
} from "./interface-requests.ts";
import { ioctl, socket } from "./syscalls.ts";

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SIOCADDRT = 0x890b;
const SIOCSIFADDR = 0x8916;
const SIOCSIFNETMASK = 0x891c;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const SIOCSIFMTU = 0x8922;
const SIOCSIFHWADDR = 0x8924;

/**
 * Creates and configures eth0 in the sandbox's network namespace. Runs before the pivot (the
 * host's /dev/net/tun is reachable only then) and needs CAP_NET_ADMIN; the returned device
 * stays open across the pivot for the relay.
 */
export function createGuestInterface(config: GuestNetworkConfig): TapDevice {
  const tap = openTap(config.interface);
  try {
    configureGuestInterface(config);
  } catch (error) {
    tap.close();
    throw error;
  }
  return tap;
}

/** Address, netmask, MTU, MAC, up and default route of an existing interface (TAP or virtio-net). */
export function configureGuestInterface(config: GuestNetworkConfig): void {
  const name = config.interface;
  const fd = socket(AF_INET, SOCK_DGRAM, 0);
  try {
    // The MAC goes first: it is fixed while the interface is down.
    ioctl(fd, SIOCSIFHWADDR, ifreqWithMac(name, macFromString(config.mac)), `${name} (SIOCSIFHWADDR)`);
    ioctl(fd, SIOCSIFMTU, ifreqWithMtu(name, config.mtu), `${name} (SIOCSIFMTU)`);
    ioctl(fd, SIOCSIFADDR, ifreqWithIpv4(name, ipv4FromString(config.address)), `${name} (SIOCSIFADDR)`);
    const netmask = prefixToNetmask(config.prefix);
    ioctl(fd, SIOCSIFNETMASK, ifreqWithIpv4(name, netmask), `${name} (SIOCSIFNETMASK)`);
    // Read-modify-write: SIOCSIFFLAGS replaces flags such as IFF_MULTICAST too.
    const current = ifreqForName(name);
    ioctl(fd, SIOCGIFFLAGS, current, `${name} (SIOCGIFFLAGS)`);
    const flags = ifreqFlags(current) | IFF_UP | IFF_RUNNING;
    ioctl(fd, SIOCSIFFLAGS, ifreqWithFlags(name, flags), `${name} (SIOCSIFFLAGS)`);
    // The gateway is reachable only once the interface is up with its address.
    const route = defaultRouteEntry(ipv4FromString(config.gateway));
    ioctl(fd, SIOCADDRT, route, `default via ${config.gateway} (SIOCADDRT)`);
  } finally {
    closeSync(fd);
  }
}

/** /etc/resolv.conf after the pivot; a read-only volume the user mounted over it wins. */
export function writeResolvConfUnlessReadOnly(config: GuestNetworkConfig): void {
  try {
    mkdirSync("/etc", { recursive: true, mode: 0o755 });
    writeFileSync("/etc/resolv.conf", config.dns.map((server) => `nameserver ${server}\n`).join(""));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EROFS") throw error;
  }
}

/**
 * Joins eth0 to the engine listening on `socketPath` in the background. The sandbox outlives
 * its network: a relay that cannot connect or fails leaves one line in the sandbox log.
 */
export function startGuestNetworkRelay(tap: TapDevice, socketPath: string): void {
  relayTapToStream(tap, socketPath).catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`msb agent: guest network relay to ${socketPath} failed: ${message}\n`);
  });
}
