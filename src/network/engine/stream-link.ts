// The net.sock stream ("qemu stream" framing, network.md §1.1) between a guest link and the
// engine. Frames written in one tick go out as one buffer; what the socket does not take is
// queued and written on drain, never interleaved with a newer frame, so the length prefixes stay
// in step. Used by the supervisor (engine side) and by the TAP relay (guest side).
import type { Socket } from "bun";
import { FrameReader, framesForStream } from "../wire/frame-stream.ts";
import type { GuestLink, NetworkEngine } from "./network-engine.ts";

/** The part of a Bun socket a stream link needs. */
export interface StreamSocket {
  write(data: Uint8Array): number;
  end(): void;
}

export class StreamLink implements GuestLink {
  private readonly reader = new FrameReader();
  private batch: Uint8Array[] = [];
  private readonly unwritten: Uint8Array[] = [];
  private unwrittenBytes = 0;
  private drainWaiters: (() => void)[] = [];
  private broken = false;

  constructor(
    private readonly socket: StreamSocket,
    private readonly onFrame: (frame: Uint8Array) => void,
  ) {}

  /** Bytes accepted by write() but not yet taken by the socket. */
  get queuedBytes(): number {
    return this.unwrittenBytes;
  }

  write(frame: Uint8Array): void {
    if (this.broken) return;
    if (this.batch.length === 0) queueMicrotask(() => this.flushBatch());
    this.batch.push(frame);
  }

  /** Bytes from the socket; a framing error ends the stream, as it cannot be resynchronised. */
  receive(chunk: Uint8Array): void {
    if (this.broken) return;
    let frames: Uint8Array[];
    try {
      frames = this.reader.push(chunk);
    } catch {
      this.broken = true;
      this.socket.end();
      return;
    }
    for (const frame of frames) this.onFrame(frame);
  }

  /** The socket's drain event. */
  drain(): void {
    while (this.unwritten.length > 0) {
      const bytes = this.unwritten[0]!;
      const written = Math.max(0, this.socket.write(bytes));
      this.unwrittenBytes -= written;
      if (written < bytes.length) {
        this.unwritten[0] = bytes.subarray(written);
        return;
      }
      this.unwritten.shift();
    }
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  /** Resolves once the socket has taken every queued byte. */
  whenDrained(): Promise<void> {
    if (this.unwritten.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private flushBatch(): void {
    const bytes = framesForStream(this.batch);
    this.batch = [];
    if (this.unwritten.length === 0) {
      const written = Math.max(0, this.socket.write(bytes));
      if (written === bytes.length) return;
      this.unwritten.push(bytes.subarray(written));
      this.unwrittenBytes += bytes.length - written;
      return;
    }
    this.unwritten.push(bytes);
    this.unwrittenBytes += bytes.length;
  }
}

export interface GuestLinkListener {
  stop(): void;
}

/**
 * Listens on `path` (net.sock) and connects each accepted stream to the engine. One guest at a
 * time: a new connection replaces the previous one as the engine's link.
 */
export function listenForGuestLink(path: string, engine: NetworkEngine): GuestLinkListener {
  const links = new WeakMap<Socket<unknown>, StreamLink>();
  let current: Socket<unknown> | undefined;
  const listener = Bun.listen<unknown>({
    unix: path,
    socket: {
      open(socket) {
        const link = new StreamLink(socket, (frame) => engine.receiveFrame(frame));
        links.set(socket, link);
        current = socket;
        engine.attach(link);
      },
      data(socket, chunk) {
        links.get(socket)?.receive(chunk);
      },
      drain(socket) {
        links.get(socket)?.drain();
      },
      close(socket) {
        if (current === socket) engine.attach(undefined);
      },
    },
  });
  return { stop: () => listener.stop(true) };
}
