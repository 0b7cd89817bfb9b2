// Frame channels over unix sockets (agent.sock between agent, supervisor and CLI clients), built
// on Bun.connect / Bun.listen: net.Socket({ fd }) does not work in Bun for sockets made through
// bun:ffi, Bun's own unix sockets do.
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import type { Socket } from "bun";
import { MsbError } from "../errors.ts";
import type { FrameChannel } from "./channel.ts";
import { type ByteSink, QueuedFrameChannel } from "./queued-channel.ts";

/** Bun sockets have pause/resume at runtime, but its type declarations omit them. */
interface PausableSocket {
  pause(): void;
  resume(): void;
}

function socketSink(socket: Socket<unknown>): ByteSink {
  const pausable = socket as unknown as PausableSocket;
  return {
    write: (bytes) => socket.write(bytes),
    end: () => socket.end(),
    destroy: () => socket.terminate(),
    pause: () => pausable.pause(),
    resume: () => pausable.resume(),
  };
}

interface SocketState {
  channel: QueuedFrameChannel | null;
}

const handlers = {
  data(socket: Socket<SocketState>, data: Uint8Array) {
    socket.data?.channel?.received(data);
  },
  drain(socket: Socket<SocketState>) {
    socket.data?.channel?.drained();
  },
  close(socket: Socket<SocketState>, error?: Error) {
    socket.data?.channel?.ended(error);
  },
  error(socket: Socket<SocketState>, error: Error) {
    socket.data?.channel?.ended(error);
  },
};

export interface ConnectOptions {
  /** Give up connecting after this many milliseconds (default 5000). */
  timeoutMs?: number;
}

export async function connectUnix(path: string, options: ConnectOptions = {}): Promise<FrameChannel> {
  const timeoutMs = options.timeoutMs ?? 5000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const state: SocketState = { channel: null };
  const connecting = Bun.connect<SocketState>({ unix: path, data: state, socket: handlers });
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new MsbError(`connecting to ${path} timed out after ${timeoutMs} ms`, { code: "unavailable" }));
    }, timeoutMs);
  });
  try {
    const socket = await Promise.race([connecting, timeout]);
    const channel = new QueuedFrameChannel(socketSink(socket));
    state.channel = channel;
    return channel;
  } catch (error) {
    if (timedOut)
      connecting.then(
        (late) => late.terminate(),
        () => {},
      );
    if (error instanceof MsbError) throw error;
    throw new MsbError(`cannot connect to ${path}: ${(error as Error).message}`, {
      code: "unavailable",
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}

export interface UnixListener {
  /** Stops accepting and removes the socket file; channels already open stay open. */
  close(): void;
}

/** Listens on `path` (mode 0600, a stale socket file is replaced) and hands out one channel per client. */
export async function listenUnix(
  path: string,
  onChannel: (channel: FrameChannel) => void,
): Promise<UnixListener> {
  removeStaleSocket(path);
  // The umask keeps the socket private from its first moment; chmod states the intent explicitly.
  const previousUmask = process.umask(0o177);
  let server: ReturnType<typeof Bun.listen<SocketState>>;
  try {
    server = Bun.listen<SocketState>({
      unix: path,
      socket: {
        ...handlers,
        open(socket) {
          const channel = new QueuedFrameChannel(socketSink(socket));
          socket.data = { channel };
          onChannel(channel);
        },
      },
    });
  } catch (error) {
    throw new MsbError(`cannot listen on ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    process.umask(previousUmask);
  }
  chmodSync(path, 0o600);
  return {
    close() {
      server.stop(false);
      removeStaleSocket(path);
    },
  };
}

function removeStaleSocket(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new MsbError(`${path} exists and is not a socket`, { code: "conflict" });
  unlinkSync(path);
}
