// Answers the guest's ARP requests for the gateway address with the gateway MAC, and reports the
// sender of every valid ARP packet so the engine learns the guest's MAC. Requests for any other
// address get no answer: the guest routes everything through the gateway.
import type { NetworkEndpoint } from "./plan.ts";
import { bytesEqual } from "./wire/address.ts";
import { ArpOperation, buildArp, parseArp } from "./wire/arp.ts";
import { isDrop } from "./wire/drop.ts";
import { buildEthernet, type EthernetFrame, EtherType } from "./wire/ethernet.ts";

export interface ArpOutcome {
  /** Ethernet frames to send to the guest. */
  replies: Uint8Array[];
  /** Who sent the packet (the guest's MAC, and its IP or 0.0.0.0 while probing), if it parsed. */
  sender: { mac: Uint8Array; ip: Uint8Array } | null;
}

export function answerArp(frame: EthernetFrame, gateway: NetworkEndpoint): ArpOutcome {
  const arp = parseArp(frame.payload);
  if (isDrop(arp)) return { replies: [], sender: null };
  const sender = { mac: arp.senderMac, ip: arp.senderIp };
  if (arp.operation !== ArpOperation.request || !bytesEqual(arp.targetIp, gateway.ipBytes)) {
    return { replies: [], sender };
  }
  const reply = buildArp({
    operation: ArpOperation.reply,
    senderMac: gateway.macBytes,
    senderIp: gateway.ipBytes,
    targetMac: arp.senderMac,
    targetIp: arp.senderIp,
  });
  return { replies: [buildEthernet(arp.senderMac, gateway.macBytes, EtherType.arp, reply)], sender };
}
