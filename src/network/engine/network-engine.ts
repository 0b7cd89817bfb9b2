// The userspace network of one sandbox: takes the guest's Ethernet frames and answers or relays
// them. ARP, ping to the gateway, DHCP and DNS (port 53 on any address, UDP and TCP) are
// answered here; other TCP and UDP goes through the egress policy to host sockets. Subsystem
// code never prints: denials and limits are reported through `onLog`.

import { answerArp } from "../arp-responder.ts";
import { answerDhcp } from "../dhcp-server.ts";
import type { DnsServer } from "../dns/dns-server.ts";
import type { ResolvedNames } from "../dns/resolved-names.ts";
import { answerGatewayPing } from "../icmp-echo.ts";
import type { FlowInterceptor } from "../intercept/flow-interceptor.ts";
import type { NetworkPlan } from "../plan.ts";
import type { EgressPolicy } from "../policy/egress-policy.ts";
import { bytesEqual, ipToString } from "../wire/address.ts";
import { DHCP_SERVER_PORT } from "../wire/dhcp.ts";
import { isDrop } from "../wire/drop.ts";
import { EtherType, parseEthernet } from "../wire/ethernet.ts";
import { IpProtocol, type Ipv4Packet, parseIpv4 } from "../wire/ipv4.ts";
import { parseUdp, type UdpDatagram } from "../wire/udp.ts";
import { type GuestLink, GuestOutput } from "./guest-output.ts";
import { InboundUdpClients } from "./inbound-udp.ts";
import { type PortPublisher, type Publication, type PublishedPort, publishPort } from "./published-ports.ts";
import { TcpFlows } from "./tcp-flows.ts";
import { UdpNat } from "./udp-nat.ts";

export type { GuestLink } from "./guest-output.ts";

const DNS_PORT = 53;

export interface NetworkEngineOptions {
  plan: NetworkPlan;
  policy: EgressPolicy;
  dns: DnsServer;
  /** What the DNS server resolved, so domain rules can match connections by address. */
  resolvedNames?: ResolvedNames;
  /** Open guest TCP connections (DNS over TCP excluded); more SYNs are reset. Default 256. */
  maxConnections?: number;
  /** Default 256. */
  maxUdpFlows?: number;
  /** Host connect attempts longer than this refuse the guest's SYN. Default 10 s. */
  connectTimeoutMs?: number;
  /** Default 60 s. */
  udpIdleTimeoutMs?: number;
  onLog?(line: string): void;
  /** TLS interception and the secret guard (createFlowInterceptor); absent: flows are relayed as is. */
  interceptor?: FlowInterceptor;
  /** Monotonic milliseconds. Default performance.now. */
  now?: () => number;
}

export class NetworkEngine {
  private readonly plan: NetworkPlan;
  private readonly dns: DnsServer;
  private readonly policy: EgressPolicy;
  private readonly output: GuestOutput;
  private readonly tcp: TcpFlows;
  private readonly udp: UdpNat;
  private readonly log: (line: string) => void;
  private readonly domainsFor: (ip: Uint8Array) => string[];
  private readonly interceptor: FlowInterceptor | undefined;
  private closed = false;
  private readonly inboundUdp = new InboundUdpClients();
  private readonly publications: Publication[] = [];
  private bytesFromGuest = 0;

  constructor(options: NetworkEngineOptions) {
    this.plan = options.plan;
    this.dns = options.dns;
    this.policy = options.policy;
    this.output = new GuestOutput(options.plan);
    this.log = (line) => options.onLog?.(line);
    const resolvedNames = options.resolvedNames;
    this.domainsFor = (ip) => resolvedNames?.namesFor(ip) ?? [];
    const now = options.now ?? (() => performance.now());
    this.interceptor = options.interceptor;
    this.tcp = new TcpFlows({
      mtu: options.plan.mtu,
      policy: options.policy,
      dns: options.dns,
      output: this.output,
      maxConnections: options.maxConnections ?? 256,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      now,
      log: this.log,
      domainsFor: this.domainsFor,
      gatewayIp: options.plan.gateway.ipBytes,
      guestIp: options.plan.guest.ipBytes,
      interceptor: options.interceptor,
    });
    this.udp = new UdpNat({
      output: this.output,
      idleTimeoutMs: options.udpIdleTimeoutMs ?? 60_000,
      maxFlows: options.maxUdpFlows ?? 256,
      now,
      log: this.log,
    });
  }

  /** Where frames for the guest go; frames produced while no link is attached are dropped. */
  attach(link: GuestLink | undefined): void {
    this.output.attach(link);
  }

  /** Open guest TCP connections, for metrics and tests. */
  get tcpConnections(): number {
    return this.tcp.size;
  }

  /** Ethernet bytes the guest received (rx) and sent (tx), for `msb metrics`. */
  get traffic(): { rxBytes: number; txBytes: number } {
    return { rxBytes: this.output.bytesSent, txBytes: this.bytesFromGuest };
  }

  /** One Ethernet frame from the guest. The array may be reused once this returns. */
  receiveFrame(frame: Uint8Array): void {
    if (this.closed) return;
    this.bytesFromGuest += frame.length;
    const ethernet = parseEthernet(frame);
    if (isDrop(ethernet)) return;
    if (ethernet.etherType === EtherType.arp) {
      const { replies, sender } = answerArp(ethernet, this.plan.gateway);
      if (sender !== null) this.output.learnGuestMac(sender.mac);
      for (const reply of replies) this.output.sendFrame(reply);
      return;
    }
    // IPv6 is not offered (no RA), so the guest falls back to IPv4 at once (network.md §2.5).
    if (ethernet.etherType !== EtherType.ipv4) return;
    const ip = parseIpv4(ethernet.payload);
    if (isDrop(ip)) return;
    this.output.learnGuestMac(ethernet.src);
    switch (ip.protocol) {
      case IpProtocol.icmp:
        for (const reply of answerGatewayPing(ethernet, ip, this.plan.gateway)) this.output.sendFrame(reply);
        return;
      case IpProtocol.tcp:
        this.tcp.handle(ip);
        return;
      case IpProtocol.udp:
        this.handleUdp(ip);
        return;
    }
  }

  /** Binds the published ports on the host; throws (MsbError "conflict") when one is taken. */
  async publish(ports: readonly PublishedPort[]): Promise<void> {
    const publisher: PortPublisher = {
      openInbound: (guestPort, side) => (this.closed ? undefined : this.tcp.openInbound(guestPort, side)),
      udpPortFor: (client, deliver) => this.inboundUdp.portFor(client, deliver),
      sendUdpToGuest: (gatewayPort, guestPort, payload) =>
        this.output.sendUdp(
          this.plan.gateway.ipBytes,
          gatewayPort,
          this.plan.guest.ipBytes,
          guestPort,
          payload,
        ),
      onActivity: () => this.tcp.touch(),
    };
    try {
      for (const port of ports) this.publications.push(await publishPort(port, publisher));
    } catch (error) {
      this.stopPublishing();
      throw error;
    }
  }

  /** Resets the guest's TCP connections and closes every host socket and timer. */
  close(): void {
    if (this.closed) return;
    this.stopPublishing();
    this.tcp.close();
    this.udp.close();
    this.closed = true;
    this.output.attach(undefined);
  }

  private stopPublishing(): void {
    for (const publication of this.publications.splice(0)) publication.stop();
  }

  private handleUdp(ip: Ipv4Packet): void {
    const udp = parseUdp(ip.payload, ip.src, ip.dst, { verifyChecksum: false });
    if (isDrop(udp)) return;
    if (bytesEqual(ip.dst, this.plan.gateway.ipBytes) && this.inboundUdp.deliver(udp.dstPort, udp.payload))
      return;
    if (udp.dstPort === DHCP_SERVER_PORT) {
      for (const reply of answerDhcp(udp, this.plan)) this.output.sendFrame(reply);
      return;
    }
    if (udp.dstPort === DNS_PORT) {
      this.answerDns(ip, udp);
      return;
    }
    const domains = this.domainsFor(ip.dst);
    const decision = this.policy.decide({ ip: ip.dst, port: udp.dstPort, proto: "udp", domain: domains });
    if (!decision.allow) {
      this.log(`deny udp ${ipToString(ip.dst)}:${udp.dstPort} (${decision.rule})`);
      return;
    }
    // Not logged per datagram: QUIC clients retry a few times before falling back to TCP.
    const flow = { dstIp: ipToString(ip.dst), dstPort: udp.dstPort, domains };
    if (this.interceptor !== undefined && !this.interceptor.allowDatagram(flow, udp.payload)) return;
    this.udp.send({
      guestIp: ip.src,
      guestPort: udp.srcPort,
      visibleIp: ip.dst,
      hostIp: decision.redirectToHostLoopback ? "127.0.0.1" : ipToString(ip.dst),
      port: udp.dstPort,
      payload: udp.payload,
    });
  }

  /** Answered from the address the guest asked, so resolvers that check the source accept it. */
  private answerDns(ip: Ipv4Packet, udp: UdpDatagram): void {
    const server = ip.dst.slice();
    const client = ip.src.slice();
    const clientPort = udp.srcPort;
    this.dns
      .handleQuery(udp.payload.slice(), "udp")
      .catch(() => null)
      .then((response) => {
        if (response !== null && !this.closed)
          this.output.sendUdp(server, DNS_PORT, client, clientPort, response);
      });
  }
}
