// A static DHCP server for the one guest on the link, in the manner of passt: it always offers
// the plan's guest address with an infinite lease. DISCOVER → OFFER (or ACK at once with Rapid
// Commit, which libkrun's client asks for), REQUEST → ACK or NAK for any other address,
// INFORM → ACK without a lease. Clients other than the plan's guest MAC are ignored.
import type { NetworkPlan } from "./plan.ts";
import { BROADCAST_MAC, bytesEqual, IPV4_ANY, IPV4_BROADCAST, ipv4FromString } from "./wire/address.ts";
import {
  buildDhcp,
  DHCP_CLIENT_PORT,
  DHCP_FLAG_BROADCAST,
  DHCP_SERVER_PORT,
  type DhcpMessage,
  DhcpMessageType,
  DhcpOp,
  DhcpOption,
  parseDhcp,
} from "./wire/dhcp.ts";
import { isDrop } from "./wire/drop.ts";
import { buildIpv4Frame, IpProtocol } from "./wire/ipv4.ts";
import { buildUdp, type UdpDatagram } from "./wire/udp.ts";

const INFINITE_LEASE = 0xffffffff;

/** Frames answering the UDP datagram `udp` that the guest sent to port 67. */
export function answerDhcp(udp: UdpDatagram, plan: NetworkPlan): Uint8Array[] {
  if (udp.dstPort !== DHCP_SERVER_PORT) return [];
  const request = parseDhcp(udp.payload);
  if (isDrop(request) || request.op !== DhcpOp.request) return [];
  if (!bytesEqual(request.chaddr, plan.guest.macBytes) || !bytesEqual(request.giaddr, IPV4_ANY)) return [];
  const type = request.options.get(DhcpOption.messageType)?.[0];
  switch (type) {
    case DhcpMessageType.discover:
      return request.options.has(DhcpOption.rapidCommit)
        ? [reply(request, DhcpMessageType.ack, plan, { rapidCommit: true })]
        : [reply(request, DhcpMessageType.offer, plan)];
    case DhcpMessageType.request: {
      const serverId = request.options.get(DhcpOption.serverId);
      // The client chose another server's offer: stay silent (RFC 2131 §4.3.2).
      if (serverId !== undefined && !bytesEqual(serverId, plan.gateway.ipBytes)) return [];
      const requested = request.options.get(DhcpOption.requestedAddress) ?? request.ciaddr;
      return bytesEqual(requested, plan.guest.ipBytes)
        ? [reply(request, DhcpMessageType.ack, plan)]
        : [reply(request, DhcpMessageType.nak, plan)];
    }
    case DhcpMessageType.inform:
      return [reply(request, DhcpMessageType.ack, plan, { inform: true })];
    default:
      // DECLINE and RELEASE change nothing for a single static address; OFFER/ACK/NAK are not ours.
      return [];
  }
}

interface ReplyVariant {
  rapidCommit?: boolean;
  inform?: boolean;
}

function reply(
  request: DhcpMessage,
  type: number,
  plan: NetworkPlan,
  variant: ReplyVariant = {},
): Uint8Array {
  const options = new Map<number, Uint8Array>([
    [DhcpOption.messageType, new Uint8Array([type])],
    [DhcpOption.serverId, plan.gateway.ipBytes],
  ]);
  const nak = type === DhcpMessageType.nak;
  if (!nak) {
    if (!variant.inform) options.set(DhcpOption.leaseTime, uint32(INFINITE_LEASE));
    options.set(DhcpOption.subnetMask, plan.netmaskBytes);
    options.set(DhcpOption.router, plan.gateway.ipBytes);
    options.set(DhcpOption.dnsServers, concatAddresses(plan.dns));
    options.set(DhcpOption.interfaceMtu, new Uint8Array([plan.mtu >>> 8, plan.mtu & 0xff]));
    if (variant.rapidCommit) options.set(DhcpOption.rapidCommit, new Uint8Array(0));
  }
  const yiaddr = nak || variant.inform ? IPV4_ANY : plan.guest.ipBytes;
  const message = buildDhcp({
    op: DhcpOp.reply,
    xid: request.xid,
    secs: 0,
    flags: request.flags,
    ciaddr: request.ciaddr,
    yiaddr,
    siaddr: IPV4_ANY,
    giaddr: IPV4_ANY,
    chaddr: request.chaddr,
    options,
  });
  // RFC 2131 §4.1: NAKs are broadcast; a client with an address gets unicast to it; otherwise
  // unicast to the offered address unless the client asked for broadcast.
  const clientHasAddress = !bytesEqual(request.ciaddr, IPV4_ANY);
  const broadcast = nak || (!clientHasAddress && (request.flags & DHCP_FLAG_BROADCAST) !== 0);
  const dstIp = broadcast ? IPV4_BROADCAST : clientHasAddress ? request.ciaddr : yiaddr;
  const dstMac = broadcast ? BROADCAST_MAC : request.chaddr;
  const udp = buildUdp(
    { srcPort: DHCP_SERVER_PORT, dstPort: DHCP_CLIENT_PORT, payload: message },
    plan.gateway.ipBytes,
    dstIp,
  );
  return buildIpv4Frame(
    { dst: dstMac, src: plan.gateway.macBytes },
    { src: plan.gateway.ipBytes, dst: dstIp, protocol: IpProtocol.udp },
    udp,
  );
}

function uint32(value: number): Uint8Array {
  return new Uint8Array([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
}

function concatAddresses(addresses: readonly string[]): Uint8Array {
  return new Uint8Array(addresses.flatMap((address) => Array.from(ipv4FromString(address))));
}
