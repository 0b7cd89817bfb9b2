// Builds the frames the engine sends to the guest: Ethernet from the gateway MAC to the guest's
// (learned) MAC, IPv4 with a full header checksum, and TCP or UDP with full checksums, since the
// guest verifies them (network.md §1.1: the zero virtio header carries no DATA_VALID flag).
import type { NetworkPlan } from "../plan.ts";
import { bytesEqual } from "../wire/address.ts";
import { buildIpv4Frame, IpProtocol } from "../wire/ipv4.ts";
import { buildTcp, type TcpSegment } from "../wire/tcp.ts";
import { buildUdp } from "../wire/udp.ts";

/** Where frames for the guest go: the net.sock stream, a TAP device, or a test. */
export interface GuestLink {
  write(frame: Uint8Array): void;
}

export class GuestOutput {
  private link: GuestLink | undefined;
  /** The plan's MAC until the guest's own frames tell us otherwise. */
  private guestMac: Uint8Array;
  /** Ethernet bytes handed to the link: what the guest received. */
  bytesSent = 0;

  constructor(private readonly plan: NetworkPlan) {
    this.guestMac = plan.guest.macBytes;
  }

  attach(link: GuestLink | undefined): void {
    this.link = link;
  }

  learnGuestMac(mac: Uint8Array): void {
    if (mac.length === 6 && (mac[0]! & 1) === 0 && !bytesEqual(mac, this.guestMac))
      this.guestMac = mac.slice();
  }

  /** A frame already complete (ARP, DHCP and ping replies come built). */
  sendFrame(frame: Uint8Array): void {
    if (this.link === undefined) return;
    this.bytesSent += frame.length;
    this.link.write(frame);
  }

  sendTcp(fromIp: Uint8Array, toIp: Uint8Array, segment: TcpSegment): void {
    this.sendIpv4(fromIp, toIp, IpProtocol.tcp, buildTcp(segment, fromIp, toIp));
  }

  sendUdp(fromIp: Uint8Array, fromPort: number, toIp: Uint8Array, toPort: number, payload: Uint8Array): void {
    const datagram = buildUdp({ srcPort: fromPort, dstPort: toPort, payload }, fromIp, toIp);
    this.sendIpv4(fromIp, toIp, IpProtocol.udp, datagram);
  }

  private sendIpv4(fromIp: Uint8Array, toIp: Uint8Array, protocol: number, payload: Uint8Array): void {
    if (this.link === undefined) return;
    const frame = buildIpv4Frame(
      { dst: this.guestMac, src: this.plan.gateway.macBytes },
      { src: fromIp, dst: toIp, protocol },
      payload,
    );
    this.bytesSent += frame.length;
    this.link.write(frame);
  }
}
