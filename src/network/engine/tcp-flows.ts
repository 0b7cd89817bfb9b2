// The guest's TCP connections, keyed by 4-tuple. A SYN to port 53 (any address) is answered by
// the engine's DNS server; any other SYN is checked against the egress policy (denied → RST|ACK
// at once, logged), then the connection cap, then relayed to a host socket, or to the host side
// the TLS interceptor supplies when one is configured. Segments for an unknown 4-tuple get the
// RST that RFC 9293 prescribes.
import type { DnsServer } from "../dns/dns-server.ts";
import type { FlowInterceptor } from "../intercept/flow-interceptor.ts";
import type { EgressPolicy } from "../policy/egress-policy.ts";
import { GuestTcpConnection } from "../tcp/connection.ts";
import { isConnectionRequest, resetForUnknownSegment, type TcpSegment } from "../tcp/segment.ts";
import { ipToString } from "../wire/address.ts";
import { isDrop } from "../wire/drop.ts";
import type { Ipv4Packet } from "../wire/ipv4.ts";
import { parseTcp } from "../wire/tcp.ts";
import { ConnectionTimer } from "./connection-timer.ts";
import { DnsTcpSession } from "./dns-tcp-session.ts";
import type { GuestOutput } from "./guest-output.ts";
import { HostSocketRelay } from "./host-socket-relay.ts";
import { callbacksFor, type TcpHostSide } from "./tcp-host-side.ts";

const DNS_PORT = 53;
const HOST_LOOPBACK = "127.0.0.1";

export interface TcpFlowsOptions {
  mtu: number;
  policy: EgressPolicy;
  dns: DnsServer;
  output: GuestOutput;
  maxConnections: number;
  connectTimeoutMs: number;
  now: () => number;
  log: (line: string) => void;
  /** Names this sandbox's DNS resolved to an address, for domain rules. */
  domainsFor: (ip: Uint8Array) => string[];
  /** The gateway's and the guest's addresses, for connections the engine opens (published ports). */
  gatewayIp: Uint8Array;
  guestIp: Uint8Array;
  /** TLS interception and the secret guard: may supply the host side of an allowed flow. */
  interceptor?: FlowInterceptor;
}

/** Gateway ports for connections into the guest: the IANA dynamic range. */
const FIRST_INBOUND_PORT = 49_152;
const INBOUND_PORTS = 65_536 - FIRST_INBOUND_PORT;

export class TcpFlows {
  private readonly connections = new Map<string, GuestTcpConnection>();
  private readonly timer: ConnectionTimer;
  private nextInboundPort = 0;

  constructor(private readonly options: TcpFlowsOptions) {
    this.timer = new ConnectionTimer(() => this.connections.values(), options.now);
  }

  get size(): number {
    return this.connections.size;
  }

  /** A TCP segment from the guest, inside an already parsed IPv4 packet. */
  handle(ip: Ipv4Packet): void {
    const segment = parseTcp(ip.payload, ip.src, ip.dst, { verifyChecksum: false });
    if (isDrop(segment)) return;
    const key = `${ipToString(ip.src)}:${segment.srcPort}>${ipToString(ip.dst)}:${segment.dstPort}`;
    const existing = this.connections.get(key);
    if (existing !== undefined) {
      if (existing.handleSegment(segment) === "new-connection") this.open(key, ip, segment);
    } else if (isConnectionRequest(segment)) {
      this.open(key, ip, segment);
    } else {
      this.reset(ip, segment);
    }
    this.timer.rearm();
  }

  /** A host client on a published port: opens a connection from the gateway into the guest. */
  openInbound(guestPort: number, side: TcpHostSide): GuestTcpConnection | undefined {
    const { output, now, mtu, gatewayIp, guestIp, maxConnections, log } = this.options;
    if (this.connections.size >= maxConnections) {
      log(`refuse published tcp port ${guestPort} (limit of ${maxConnections} connections)`);
      return undefined;
    }
    const gateway = ipToString(gatewayIp);
    const guestKey = `${ipToString(guestIp)}:${guestPort}>`;
    let localPort = 0;
    for (let tries = 0; tries < INBOUND_PORTS; tries++) {
      localPort = FIRST_INBOUND_PORT + (this.nextInboundPort++ % INBOUND_PORTS);
      if (!this.connections.has(`${guestKey}${gateway}:${localPort}`)) break;
    }
    const key = `${guestKey}${gateway}:${localPort}`;
    let connection: GuestTcpConnection | undefined;
    const callbacks = callbacksFor(
      side,
      (segment) => output.sendTcp(gatewayIp, guestIp, segment),
      () => {
        if (this.connections.get(key) === connection) this.connections.delete(key);
      },
    );
    connection = GuestTcpConnection.connect({ localPort, remotePort: guestPort }, callbacks, { now, mtu });
    this.connections.set(key, connection);
    side.start(connection);
    this.timer.rearm();
    return connection;
  }

  /** Host-side activity on a published port: timers may have moved. */
  touch(): void {
    this.timer.rearm();
  }

  /** Resets every connection and stops the timer. */
  close(): void {
    for (const connection of [...this.connections.values()]) connection.abort();
    this.connections.clear();
    this.timer.stop();
  }

  private open(key: string, ip: Ipv4Packet, syn: TcpSegment): void {
    const side = this.hostSideFor(ip, syn);
    if (side === undefined) {
      this.reset(ip, syn);
      return;
    }
    // Views of the link buffer: the flow outlives this frame.
    const guestIp = ip.src.slice();
    const visibleIp = ip.dst.slice();
    const { output, now, mtu } = this.options;
    let connection: GuestTcpConnection | undefined;
    const callbacks = callbacksFor(
      side,
      (segment) => output.sendTcp(visibleIp, guestIp, segment),
      () => {
        if (this.connections.get(key) === connection) this.connections.delete(key);
      },
    );
    connection = new GuestTcpConnection(syn, callbacks, { now, mtu });
    this.connections.set(key, connection);
    side.start(connection);
  }

  /** The host side for a new connection, or undefined when policy or the cap refuses it. */
  private hostSideFor(ip: Ipv4Packet, syn: TcpSegment): TcpHostSide | undefined {
    const { policy, dns, maxConnections, connectTimeoutMs, log, domainsFor, interceptor } = this.options;
    const destination = `${ipToString(ip.dst)}:${syn.dstPort}`;
    const onActivity = () => this.timer.rearm();
    if (syn.dstPort === DNS_PORT) return new DnsTcpSession(dns, onActivity);
    const domains = domainsFor(ip.dst);
    const decision = policy.decide({ ip: ip.dst, port: syn.dstPort, proto: "tcp", domain: domains });
    if (!decision.allow) {
      log(`deny tcp ${destination} (${decision.rule})`);
      return undefined;
    }
    if (this.connections.size >= maxConnections) {
      log(`refuse tcp ${destination} (limit of ${maxConnections} connections)`);
      return undefined;
    }
    const hostname = decision.redirectToHostLoopback ? HOST_LOOPBACK : ipToString(ip.dst);
    const intercepted = interceptor?.tcpSide({
      dstIp: ipToString(ip.dst),
      dstPort: syn.dstPort,
      hostname,
      domains,
      connectTimeoutMs,
      onActivity,
    });
    return intercepted ?? new HostSocketRelay({ hostname, port: syn.dstPort, connectTimeoutMs, onActivity });
  }

  private reset(ip: Ipv4Packet, segment: TcpSegment): void {
    const reply = resetForUnknownSegment(segment);
    if (reply !== undefined) this.options.output.sendTcp(ip.dst, ip.src, reply);
  }
}
