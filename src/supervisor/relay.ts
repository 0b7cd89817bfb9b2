// Routes frames between the one agent connection and many CLI clients. Each client numbers its
// sessions from 1; the relay gives every session a sandbox-wide id on the agent side and maps
// replies back, so two `exec`s and a `shell` can share one sandbox.
import type { FrameChannel } from "../protocol/channel.ts";
import { flowControlOf, SEND_HIGH_WATER } from "../protocol/flow.ts";
import { type Frame, FrameKind } from "../protocol/messages.ts";

interface Route {
  client: FrameChannel;
  clientSession: number;
}

export interface RelayEvents {
  /** A client asked to stop the sandbox (a `shutdown` frame on session 0). */
  stopRequested(graceMs: number): void;
  /** Any traffic: keeps --idle-timeout from firing. */
  activity(): void;
  /** The last client went away and no session is left. */
  abandoned(): void;
}

export class SessionRelay {
  private nextSession = 1;
  private paused = false;
  private attachedClients = 0;
  private readonly routes = new Map<number, Route>();
  private readonly byClient = new Map<FrameChannel, Map<number, number>>();

  constructor(
    private readonly agent: FrameChannel,
    private readonly readyFrame: Frame,
    private readonly events: RelayEvents,
  ) {}

  activeSessions(): number {
    return this.routes.size;
  }

  /** Whether any client ever connected (an unnamed run's CLI may die before it does). */
  hasHadClients(): boolean {
    return this.attachedClients > 0;
  }

  attachClient(client: FrameChannel): void {
    this.attachedClients++;
    this.byClient.set(client, new Map());
    client.onFrame = (frame) => this.fromClient(client, frame);
    client.onClose = () => this.detachClient(client);
    client.send(this.readyFrame);
    this.events.activity();
  }

  /** Frames from the agent for a session go to the client that owns it. */
  fromAgent(frame: Frame): void {
    const route = this.routes.get(frame.session);
    if (!route) return;
    this.events.activity();
    if (!route.client.closed) {
      route.client.send({ ...frame, session: route.clientSession });
      this.holdAgentWhileFull(route.client);
    }
    if (frame.kind === FrameKind.exited) {
      this.routes.delete(frame.session);
      this.byClient.get(route.client)?.delete(route.clientSession);
      if (route.client.closed) this.checkAbandoned();
    }
  }

  /**
   * A client that reads slower than the guest writes would otherwise grow this process's queue
   * without bound: stop reading from the agent until that client has caught up. The agent then
   * stops reading the process's output pipe, which blocks the writer in the guest.
   */
  private holdAgentWhileFull(client: FrameChannel): void {
    const clientFlow = flowControlOf(client);
    const agentFlow = flowControlOf(this.agent);
    if (!clientFlow || !agentFlow || this.paused || clientFlow.queuedBytes <= SEND_HIGH_WATER) return;
    this.paused = true;
    agentFlow.pauseReading();
    void clientFlow.whenDrained().then(() => {
      this.paused = false;
      agentFlow.resumeReading();
    });
  }

  private fromClient(client: FrameChannel, frame: Frame): void {
    this.events.activity();
    if (frame.session === 0) {
      this.controlFrame(client, frame);
      return;
    }
    const sessions = this.byClient.get(client);
    if (!sessions) return;
    let global = sessions.get(frame.session);
    if (global === undefined) {
      if (frame.kind !== FrameKind.exec) return;
      global = this.nextSession++;
      sessions.set(frame.session, global);
      this.routes.set(global, { client, clientSession: frame.session });
    }
    this.agent.send({ ...frame, session: global });
  }

  private controlFrame(client: FrameChannel, frame: Frame): void {
    if (frame.kind === FrameKind.ping) {
      client.send({ kind: FrameKind.pong, session: 0, payload: new Uint8Array(0) });
    } else if (frame.kind === FrameKind.shutdown) {
      const body =
        frame.payload.length > 0
          ? (JSON.parse(new TextDecoder().decode(frame.payload)) as { graceMs?: number })
          : {};
      this.events.stopRequested(body.graceMs ?? 10_000);
    }
  }

  /**
   * A client that goes away leaves its processes running (like `docker exec` when the terminal
   * closes), but their output has nowhere to go: hang them up so interactive shells end.
   */
  private detachClient(client: FrameChannel): void {
    const sessions = this.byClient.get(client);
    this.byClient.delete(client);
    if (!sessions) return;
    for (const global of sessions.values()) {
      this.agent.sendJson(FrameKind.signal, global, { signal: 1 });
    }
    this.checkAbandoned();
  }

  private checkAbandoned(): void {
    if (this.byClient.size === 0 && this.routes.size === 0) this.events.abandoned();
  }
}
