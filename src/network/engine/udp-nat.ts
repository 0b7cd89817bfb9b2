// UDP NAT for the guest (network.md §2.5): one unconnected Bun UDP socket per guest (source IP,
// source port), so the mapping is endpoint-independent; replies are accepted only from
// destinations that flow has sent to (address-dependent filtering) and are delivered to the guest
// as coming from the address it sent to (the gateway, for traffic redirected to host loopback).
// Idle flows are closed; policy is the caller's job.
import type { udp } from "bun";
import { ipToString } from "../wire/address.ts";
import type { GuestOutput } from "./guest-output.ts";

export interface UdpNatOptions {
  output: GuestOutput;
  idleTimeoutMs: number;
  maxFlows: number;
  now: () => number;
  log: (line: string) => void;
}

export interface OutboundDatagram {
  guestIp: Uint8Array;
  guestPort: number;
  /** The destination as the guest addressed it. */
  visibleIp: Uint8Array;
  /** Where the datagram really goes (host loopback for the gateway). */
  hostIp: string;
  port: number;
  payload: Uint8Array;
}

/** Datagrams held while a flow's socket is being created. */
const MAX_QUEUED_DATAGRAMS = 64;

interface UdpFlow {
  socket: udp.Socket<"buffer"> | undefined;
  queued: OutboundDatagram[];
  /** "hostIp:port" the guest has sent to → the address replies must appear to come from. */
  replyAddresses: Map<string, Uint8Array>;
  lastActivityAt: number;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
}

export class UdpNat {
  private readonly flows = new Map<string, UdpFlow>();
  private closed = false;

  constructor(private readonly options: UdpNatOptions) {}

  send(datagram: OutboundDatagram): void {
    const key = `${ipToString(datagram.guestIp)}:${datagram.guestPort}`;
    let flow = this.flows.get(key);
    if (flow === undefined) {
      if (this.flows.size >= this.options.maxFlows) {
        this.options.log(
          `drop udp ${datagram.hostIp}:${datagram.port} (limit of ${this.options.maxFlows} flows)`,
        );
        return;
      }
      flow = this.openFlow(key, datagram);
    }
    flow.lastActivityAt = this.options.now();
    flow.replyAddresses.set(`${datagram.hostIp}:${datagram.port}`, datagram.visibleIp.slice());
    if (flow.socket !== undefined) flow.socket.send(datagram.payload, datagram.port, datagram.hostIp);
    else if (flow.queued.length < MAX_QUEUED_DATAGRAMS)
      flow.queued.push({ ...datagram, payload: datagram.payload.slice() });
  }

  close(): void {
    this.closed = true;
    for (const flow of this.flows.values()) this.closeFlow(flow);
    this.flows.clear();
  }

  private openFlow(key: string, first: OutboundDatagram): UdpFlow {
    const guestIp = first.guestIp.slice();
    const guestPort = first.guestPort;
    const flow: UdpFlow = {
      socket: undefined,
      queued: [],
      replyAddresses: new Map(),
      lastActivityAt: this.options.now(),
      idleTimer: undefined,
    };
    this.flows.set(key, flow);
    Bun.udpSocket({
      hostname: "0.0.0.0",
      socket: {
        data: (_socket, data, port, address) => {
          const visibleIp = flow.replyAddresses.get(`${address}:${port}`);
          if (visibleIp === undefined) return;
          flow.lastActivityAt = this.options.now();
          this.options.output.sendUdp(visibleIp, port, guestIp, guestPort, data);
        },
      },
    }).then(
      (socket) => {
        if (this.closed || this.flows.get(key) !== flow) {
          socket.close();
          return;
        }
        flow.socket = socket;
        for (const datagram of flow.queued.splice(0))
          socket.send(datagram.payload, datagram.port, datagram.hostIp);
        this.armIdleTimer(key, flow);
      },
      (error: unknown) => {
        this.flows.delete(key);
        this.options.log(
          `drop udp flow from port ${guestPort}: ${error instanceof Error ? error.message : error}`,
        );
      },
    );
    return flow;
  }

  private armIdleTimer(key: string, flow: UdpFlow): void {
    const idleFor = this.options.now() - flow.lastActivityAt;
    flow.idleTimer = setTimeout(
      () => {
        if (this.options.now() - flow.lastActivityAt >= this.options.idleTimeoutMs) {
          this.flows.delete(key);
          this.closeFlow(flow);
        } else {
          this.armIdleTimer(key, flow);
        }
      },
      Math.max(0, this.options.idleTimeoutMs - idleFor),
    );
  }

  private closeFlow(flow: UdpFlow): void {
    clearTimeout(flow.idleTimer);
    flow.socket?.close();
  }
}
