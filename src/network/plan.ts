// The addressing of one sandbox's network, derived from its slot number alone: a /30 out of
// 100.96.0.0/11 (gateway .1, guest .2 of the slot's block), locally administered MACs that
// encode the slot, the MTU, and the gateway as the only DNS server. Also the static config the
// agent applies to eth0 when the guest does not run DHCP.
import { MsbError, UsageError } from "../errors.ts";
import { ipToString, macToString } from "./wire/address.ts";

/** 100.96.0.0/11: inside CGNAT space, which the default egress policy denies as a destination. */
const POOL_BASE = (100 << 24) | (96 << 16);
const POOL_PREFIX = 11;
export const SANDBOX_PREFIX = 30;
/** Number of /30 blocks in the pool. */
export const MAX_SLOTS = 2 ** (SANDBOX_PREFIX - POOL_PREFIX);

export const DEFAULT_MTU = 1500;
/** libkrun's DHCP client clamps to this range; 65520 lets the guest send 64 KiB segments. */
export const MIN_MTU = 1280;
export const MAX_MTU = 65520;

/** "ms" after the first byte of every MAC; the first byte marks locally administered unicast. */
const MAC_TAG = [0x6d, 0x73];
const GUEST_MAC_FIRST_BYTE = 0x02;
const GATEWAY_MAC_FIRST_BYTE = 0x06;

export interface NetworkEndpoint {
  ip: string;
  ipBytes: Uint8Array;
  mac: string;
  macBytes: Uint8Array;
}

export interface NetworkPlan {
  slot: number;
  /** The /30 network address. */
  network: string;
  prefix: number;
  netmask: string;
  netmaskBytes: Uint8Array;
  gateway: NetworkEndpoint;
  guest: NetworkEndpoint;
  mtu: number;
  /** Nameservers the guest is told to use: the gateway, where the engine's DNS server answers. */
  dns: string[];
}

export interface NetworkPlanOptions {
  mtu?: number;
}

/** What the agent writes to eth0 and /etc/resolv.conf when addressing is static. */
export interface GuestNetworkConfig {
  interface: "eth0";
  mac: string;
  address: string;
  prefix: number;
  gateway: string;
  mtu: number;
  dns: string[];
}

export function networkPlan(slot: number, options: NetworkPlanOptions = {}): NetworkPlan {
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_SLOTS) {
    throw new MsbError(`network slot ${slot} is outside 0..${MAX_SLOTS - 1}`);
  }
  const mtu = options.mtu ?? DEFAULT_MTU;
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    throw new UsageError(`MTU ${mtu} is outside ${MIN_MTU}..${MAX_MTU}`);
  }
  const network = (POOL_BASE + slot * 4) >>> 0;
  const netmask = (0xffffffff << (32 - SANDBOX_PREFIX)) >>> 0;
  const gateway = endpoint(network + 1, macFor(GATEWAY_MAC_FIRST_BYTE, slot));
  return {
    slot,
    network: ipToString(ipv4Bytes(network)),
    prefix: SANDBOX_PREFIX,
    netmask: ipToString(ipv4Bytes(netmask)),
    netmaskBytes: ipv4Bytes(netmask),
    gateway,
    guest: endpoint(network + 2, macFor(GUEST_MAC_FIRST_BYTE, slot)),
    mtu,
    dns: [gateway.ip],
  };
}

export function guestNetworkConfig(plan: NetworkPlan): GuestNetworkConfig {
  return {
    interface: "eth0",
    mac: plan.guest.mac,
    address: plan.guest.ip,
    prefix: plan.prefix,
    gateway: plan.gateway.ip,
    mtu: plan.mtu,
    dns: [...plan.dns],
  };
}

function endpoint(address: number, macBytes: Uint8Array): NetworkEndpoint {
  const ipBytes = ipv4Bytes(address);
  return { ip: ipToString(ipBytes), ipBytes, mac: macToString(macBytes), macBytes };
}

function ipv4Bytes(address: number): Uint8Array {
  return new Uint8Array([address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff]);
}

function macFor(firstByte: number, slot: number): Uint8Array {
  return new Uint8Array([firstByte, ...MAC_TAG, (slot >>> 16) & 0xff, (slot >>> 8) & 0xff, slot & 0xff]);
}
