// The CLI end of an exec session: sends the request, connects local stdio to the guest process,
// and resolves with how it ended. Backpressure holds both ways: stdin is read only as fast as the
// channel drains, and the channel is paused while stdout/stderr cannot take more. Without a TTY,
// signals the CLI receives (Ctrl-C in the user's terminal) are forwarded to the guest process;
// with one, the local terminal is raw and Ctrl-C travels as a byte through the guest's PTY.
import { constants } from "node:os";
import { MsbError } from "../errors.ts";
import type { FrameChannel } from "../protocol/channel.ts";
import { flowControlOf, SEND_HIGH_WATER } from "../protocol/flow.ts";
import { decodeJson } from "../protocol/frame.ts";
import {
  type ExecRequest,
  type Exited,
  type Frame,
  FrameKind,
  type ProtocolErrorBody,
} from "../protocol/messages.ts";
import { exitStatus } from "./exit-codes.ts";
import { enterRawMode, terminalSize } from "./terminal.ts";

export interface AttachIo {
  /** null = no input (the guest sees EOF at once). */
  stdin: NodeJS.ReadStream | null;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Local terminal handling: raw mode and resize forwarding instead of signal forwarding. */
  tty: boolean;
  /** Aborting kills the guest command (SIGKILL to its group); the result still comes from `exited`. */
  signal?: AbortSignal;
}

export type ExitedResult = Exited & { status: number };

const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;
const STDIN_CHUNK = 64 << 10;

let lastSessionId = 0;

export function runAttached(
  channel: FrameChannel,
  request: ExecRequest,
  io: AttachIo,
): Promise<ExitedResult> {
  lastSessionId = (lastSessionId % 0xfffffffe) + 1;
  const session = lastSessionId;
  const flow = flowControlOf(channel);
  const cleanups: (() => void)[] = [];
  let finished = false;
  let exitedReceived = false;

  return new Promise<ExitedResult>((resolve, reject) => {
    const finish = (outcome: () => void) => {
      if (finished) return;
      finished = true;
      for (const cleanup of cleanups.reverse()) cleanup();
      outcome();
    };
    const fail = (message: string, cause?: unknown) =>
      finish(() => reject(new MsbError(message, { code: "runtime", cause })));

    const sendSignal = (signal: number) => {
      if (!finished) channel.sendJson(FrameKind.signal, session, { signal });
    };

    // Output: pause reading the channel while a local stream is full. Frames already read keep
    // arriving after the pause, so a stream waits for one drain however many writes it refused.
    const fullStreams = new Set<NodeJS.WriteStream>();
    const write = (stream: NodeJS.WriteStream, bytes: Uint8Array) => {
      if (stream.write(bytes) || fullStreams.has(stream)) return;
      fullStreams.add(stream);
      if (fullStreams.size === 1) flow?.pauseReading();
      stream.once("drain", () => {
        fullStreams.delete(stream);
        if (fullStreams.size === 0) flow?.resumeReading();
      });
    };

    // A channel left paused would stall whoever uses it next.
    cleanups.push(() => {
      if (fullStreams.size > 0) flow?.resumeReading();
    });

    const onFrame = (frame: Frame) => {
      if (frame.kind === FrameKind.error && (frame.session === session || frame.session === 0)) {
        fail(`the sandbox refused the command: ${decodeJson<ProtocolErrorBody>(frame).message}`);
        return;
      }
      if (frame.session !== session) return;
      if (frame.kind === FrameKind.stdout) write(io.stdout, frame.payload);
      else if (frame.kind === FrameKind.stderr) write(io.stderr, frame.payload);
      else if (frame.kind === FrameKind.exited) {
        const exited = decodeJson<Exited>(frame);
        exitedReceived = true;
        void Promise.all([flushed(io.stdout), flushed(io.stderr)]).then(() =>
          finish(() => resolve({ ...exited, status: exitStatus(exited) })),
        );
      }
    };
    channel.onFrame = (frame) => {
      try {
        onFrame(frame);
      } catch (error) {
        fail(`the sandbox sent an invalid message: ${(error as Error).message}`, error);
      }
    };
    channel.onClose = (error) => {
      if (!exitedReceived) fail("the connection to the sandbox closed before the command finished", error);
    };

    if (io.tty && io.stdin !== null) cleanups.push(enterRawMode(io.stdin));
    channel.sendJson(FrameKind.exec, session, withTerminal(request, io));
    cleanups.push(forwardStdin(channel, session, io.stdin, flow));

    if (io.tty) {
      const onResize = () => {
        const size = terminalSize(io.stdout);
        if (size !== null && !finished) channel.sendJson(FrameKind.resize, session, size);
      };
      process.on("SIGWINCH", onResize);
      cleanups.push(() => process.off("SIGWINCH", onResize));
    }
    // In TTY mode these only come from outside the terminal (kill, a closed terminal window); they
    // are forwarded too, so the guest command ends and this process restores the terminal.
    for (const name of FORWARDED_SIGNALS) {
      const onSignal = () => sendSignal(constants.signals[name]);
      process.on(name, onSignal);
      cleanups.push(() => process.off(name, onSignal));
    }
    if (io.signal !== undefined) {
      const onAbort = () => sendSignal(constants.signals.SIGKILL);
      if (io.signal.aborted) onAbort();
      else io.signal.addEventListener("abort", onAbort, { once: true });
      cleanups.push(() => io.signal?.removeEventListener("abort", onAbort));
    }
  });
}

/** The request as sent: with the local terminal's size and TERM when the guest gets a PTY. */
function withTerminal(request: ExecRequest, io: AttachIo): ExecRequest {
  if (!request.tty) return request;
  const size = terminalSize(io.stdout);
  const term = process.env.TERM;
  const env =
    term && !request.env.some((entry) => entry.startsWith("TERM="))
      ? [...request.env, `TERM=${term}`]
      : request.env;
  return { ...request, env, ...(size === null ? {} : { rows: size.rows, cols: size.cols }) };
}

/** Streams local stdin to the session, reading only while the channel has room; returns a stop. */
function forwardStdin(
  channel: FrameChannel,
  session: number,
  stdin: NodeJS.ReadStream | null,
  flow: ReturnType<typeof flowControlOf>,
): () => void {
  const send = (bytes: Uint8Array) => channel.send({ kind: FrameKind.stdin, session, payload: bytes });
  if (stdin === null) {
    send(new Uint8Array(0));
    return () => {};
  }
  let stopped = false;
  const onData = (chunk: Buffer | string) => {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    for (let offset = 0; offset < bytes.length; offset += STDIN_CHUNK) {
      send(bytes.subarray(offset, offset + STDIN_CHUNK));
    }
    if (flow !== null && flow.queuedBytes > SEND_HIGH_WATER) {
      stdin.pause();
      void flow.whenDrained().then(() => {
        if (!stopped) stdin.resume();
      });
    }
  };
  const onEnd = () => send(new Uint8Array(0));
  stdin.on("data", onData);
  stdin.once("end", onEnd);
  stdin.resume();
  return () => {
    stopped = true;
    stdin.off("data", onData);
    stdin.off("end", onEnd);
    stdin.pause();
  };
}

/** Resolves once everything written to `stream` so far has been handed on. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableLength === 0) resolve();
    else stream.write("", () => resolve());
  });
}
