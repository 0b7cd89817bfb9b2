// Replies to pings addressed to the gateway itself. Pings to other hosts are not answered here:
// Bun has no ping sockets, so whether to forge or proxy them is the engine's choice.
import type { NetworkEndpoint } from "./plan.ts";
import { bytesEqual } from "./wire/address.ts";
import { isDrop } from "./wire/drop.ts";
import type { EthernetFrame } from "./wire/ethernet.ts";
import { buildEchoReply, IcmpType, parseIcmpv4 } from "./wire/icmpv4.ts";
import { buildIpv4Frame, IpProtocol, type Ipv4Packet } from "./wire/ipv4.ts";

export function answerGatewayPing(
  frame: EthernetFrame,
  ip: Ipv4Packet,
  gateway: NetworkEndpoint,
): Uint8Array[] {
  if (ip.protocol !== IpProtocol.icmp || !bytesEqual(ip.dst, gateway.ipBytes)) return [];
  // ICMP is never checksum-offloaded, so a bad checksum here really is a corrupt packet.
  const icmp = parseIcmpv4(ip.payload, { verifyChecksum: true });
  if (isDrop(icmp) || icmp.type !== IcmpType.echoRequest || icmp.code !== 0) return [];
  return [
    buildIpv4Frame(
      { dst: frame.src, src: gateway.macBytes },
      { src: gateway.ipBytes, dst: ip.src, protocol: IpProtocol.icmp },
      buildEchoReply(icmp),
    ),
  ];
}
