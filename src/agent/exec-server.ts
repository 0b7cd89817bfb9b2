// The agent's exec service: opens a session per `exec` frame and routes each session's stdin,
// resize and signal frames to it; many sessions share one channel. Frames about anything else go
// to the onFrame handler the channel had before, so the agent's main loop keeps ready, shutdown
// and ping. A session outlives its client: only its process ending (or shutdown) ends it.
import { constants } from "node:os";
import type { FrameChannel } from "../protocol/channel.ts";
import { decodeJson, ProtocolError } from "../protocol/frame.ts";
import { type ExecRequest, type Frame, FrameKind, type Resize, type Signal } from "../protocol/messages.ts";
import { type ExecServerOptions, prepareExec } from "./exec-prepare.ts";
import { validateExecRequest } from "./exec-request.ts";
import { ExecSession } from "./session.ts";

export type { ExecServerOptions } from "./exec-prepare.ts";

export interface ExecServer {
  activeSessions(): number;
  /** Epoch milliseconds of the last frame to or from any session. */
  lastActivity(): number;
  /** SIGTERM to every session's process group, SIGKILL after graceMs; resolves when all exited. */
  shutdown(graceMs: number): Promise<void>;
}

export function serveExecSessions(channel: FrameChannel, options: ExecServerOptions): ExecServer {
  const sessions = new Map<number, ExecSession>();
  let lastActivity = Date.now();
  let shuttingDown = false;
  const hooks = { activity: () => (lastActivity = Date.now()) };
  const fallback = channel.onFrame;

  const refuse = (session: number, message: string) =>
    channel.sendJson(FrameKind.error, session, { message });

  const open = (frame: Frame) => {
    if (frame.session === 0) {
      refuse(0, "session 0 is the connection itself, not an exec session");
      return;
    }
    if (sessions.has(frame.session)) {
      refuse(frame.session, `session ${frame.session} is already in use`);
      return;
    }
    const request: ExecRequest = validateExecRequest(decodeJson<unknown>(frame));
    if (shuttingDown) {
      const failure = { kind: "spawn-failed", message: "the sandbox is shutting down" };
      channel.sendJson(FrameKind.exited, frame.session, { code: null, signal: null, failure });
      return;
    }
    const prepared = prepareExec(request, options);
    if (!prepared.ok) {
      channel.sendJson(FrameKind.exited, frame.session, {
        code: null,
        signal: null,
        failure: prepared.failure,
      });
      return;
    }
    const session = new ExecSession(frame.session, channel, prepared.exec, hooks);
    sessions.set(frame.session, session);
    void session.done.then(() => sessions.delete(frame.session));
    session.start();
  };

  const route = (frame: Frame) => {
    const session = sessions.get(frame.session);
    switch (frame.kind) {
      case FrameKind.exec:
        hooks.activity();
        open(frame);
        return;
      case FrameKind.stdin:
        session?.stdin(frame.payload);
        return;
      case FrameKind.resize: {
        hooks.activity();
        const { rows, cols } = decodeJson<Resize>(frame);
        if (positiveInteger(rows) && positiveInteger(cols)) session?.resize(rows, cols);
        return;
      }
      case FrameKind.signal: {
        hooks.activity();
        const { signal } = decodeJson<Signal>(frame);
        if (positiveInteger(signal)) session?.signal(signal);
        return;
      }
      default:
        fallback(frame);
    }
  };

  channel.onFrame = (frame) => {
    try {
      route(frame);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      refuse(frame.session, error.message);
    }
  };

  return {
    activeSessions: () => sessions.size,
    lastActivity: () => lastActivity,
    async shutdown(graceMs) {
      shuttingDown = true;
      const running = [...sessions.values()];
      for (const session of running) session.signal(constants.signals.SIGTERM);
      const all = Promise.all(running.map((session) => session.done));
      const timer = setTimeout(() => {
        for (const session of running) session.signal(constants.signals.SIGKILL);
      }, graceMs);
      await all;
      clearTimeout(timer);
    },
  };
}

function positiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value > 0;
}
