// Serves `stats` on the sandbox's monitor socket (mon.sock): each request goes to the agent under
// a supervisor-wide id, and the agent's answer comes back with the network engine's byte
// counters added. A separate socket from ctl.sock on purpose: watching a sandbox is not using
// it, so monitor clients neither reset --idle-timeout nor count as the client an unnamed
// `msb run` waits for (ctl.sock's relay treats every connection as one).
import type { FrameChannel } from "../protocol/channel.ts";
import { decodeJson, ProtocolError } from "../protocol/frame.ts";
import {
  type Frame,
  FrameKind,
  type GuestStats,
  type SandboxStats,
  type StatsRequest,
} from "../protocol/messages.ts";

export interface NetworkTraffic {
  rxBytes: number;
  txBytes: number;
}

interface Pending {
  client: FrameChannel;
  clientId: number;
}

export class StatsRelay {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly agent: FrameChannel,
    /** The engine's counters, or null for a sandbox without a network. */
    private readonly traffic: () => NetworkTraffic | null,
  ) {}

  attachClient(client: FrameChannel): void {
    client.onFrame = (frame) => {
      try {
        this.fromClient(client, frame);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        client.sendJson(FrameKind.error, 0, { message: error.message });
      }
    };
    client.onClose = () => {
      for (const [id, pending] of this.pending) if (pending.client === client) this.pending.delete(id);
    };
  }

  /** A `statsResult` frame from the agent. */
  fromAgent(frame: Frame): void {
    let stats: GuestStats;
    try {
      stats = decodeJson<GuestStats>(frame);
    } catch {
      // A garbled answer leaves its client to time out, as a silent agent would.
      return;
    }
    const pending = this.pending.get(stats.id);
    if (!pending) return;
    this.pending.delete(stats.id);
    if (pending.client.closed) return;
    const traffic = this.traffic();
    const answer: SandboxStats = {
      ...stats,
      id: pending.clientId,
      netRxBytes: traffic?.rxBytes ?? null,
      netTxBytes: traffic?.txBytes ?? null,
    };
    pending.client.sendJson(FrameKind.statsResult, 0, answer);
  }

  private fromClient(client: FrameChannel, frame: Frame): void {
    if (frame.kind === FrameKind.ping) {
      client.send({ kind: FrameKind.pong, session: 0, payload: new Uint8Array(0) });
      return;
    }
    if (frame.kind !== FrameKind.stats || frame.session !== 0) {
      client.sendJson(FrameKind.error, frame.session, {
        message: `the monitor socket only answers stats, not frame kind ${frame.kind}`,
      });
      return;
    }
    const request = decodeJson<Partial<StatsRequest>>(frame);
    const id = this.nextId++;
    this.pending.set(id, { client, clientId: typeof request.id === "number" ? request.id : 0 });
    const forwarded: StatsRequest = {
      id,
      ...(typeof request.windowMs === "number" ? { windowMs: request.windowMs } : {}),
    };
    this.agent.sendJson(FrameKind.stats, 0, forwarded);
  }
}
