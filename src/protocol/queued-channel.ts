// The FrameChannel every transport shares: frames are encoded into an ordered send queue that is
// written as fast as the transport takes it (waiting for its drain when it is full), and received
// bytes are decoded and dispatched in order. A transport adapts to it through a ByteSink.
import type { FrameChannel } from "./channel.ts";
import type { FlowControl } from "./flow.ts";
import { encodeFrame, FrameDecoder, jsonFrame } from "./frame.ts";
import type { Frame, FrameKind } from "./messages.ts";

export interface ByteSink {
  /**
   * Writes `bytes`: either returns how many bytes the transport took now (fewer than offered =
   * full; the transport calls `drained()` later) or a promise that settles once it took them all.
   */
  write(bytes: Uint8Array): number | Promise<void>;
  /** Ends the transport after everything queued was written. */
  end(): void;
  /** Drops the transport at once. */
  destroy(): void;
  pause(): void;
  resume(): void;
}

/** Small frames queued back to back are written in one call up to this size. */
const COALESCE_LIMIT = 64 << 10;

export class QueuedFrameChannel implements FrameChannel, FlowControl {
  private readonly decoder = new FrameDecoder();
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private writing = false;
  private closing = false;
  private finished = false;
  private closeError: Error | undefined;
  private drainWaiters: (() => void)[] = [];
  private frameHandler: ((frame: Frame) => void) | null = null;
  private readonly undelivered: Frame[] = [];
  private closeHandler: ((error?: Error) => void) | null = null;
  private closeReported = false;

  constructor(private readonly sink: ByteSink) {}

  get closed(): boolean {
    return this.finished || this.closing;
  }

  get queuedBytes(): number {
    return this.queued;
  }

  /**
   * Frames that arrive before a handler is set are kept and delivered to the first one set. Before
   * that, the getter returns a handler that drops frames, so code that chains to the previous
   * handler never feeds frames back into this buffer.
   */
  get onFrame(): (frame: Frame) => void {
    return this.frameHandler ?? (() => {});
  }

  set onFrame(handler: (frame: Frame) => void) {
    this.frameHandler = handler;
    if (this.undelivered.length > 0) queueMicrotask(() => this.deliverUndelivered());
  }

  get onClose(): (error?: Error) => void {
    return this.closeHandler ?? (() => {});
  }

  /** A handler set after the channel ended is still told, once. */
  set onClose(handler: (error?: Error) => void) {
    this.closeHandler = handler;
    if (this.finished) queueMicrotask(() => this.reportClose());
  }

  send(frame: Frame): void {
    if (this.closed) return;
    const bytes = encodeFrame(frame);
    this.queue.push(bytes);
    this.queued += bytes.length;
    this.pump();
  }

  sendJson(kind: FrameKind, session: number, body: unknown): void {
    this.send(jsonFrame(kind, session, body));
  }

  close(): void {
    if (this.closed) return;
    this.closing = true;
    this.pump();
  }

  whenDrained(): Promise<void> {
    if (this.queued === 0 || this.finished) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  pauseReading(): void {
    if (!this.finished) this.sink.pause();
  }

  resumeReading(): void {
    if (!this.finished) this.sink.resume();
  }

  /** Transport: bytes arrived. */
  received(chunk: Uint8Array): void {
    if (this.finished) return;
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    for (const frame of frames) {
      if (this.finished) return;
      if (this.frameHandler !== null && this.undelivered.length === 0) this.frameHandler(frame);
      else this.undelivered.push(frame);
    }
  }

  /** Transport: it can take more bytes. */
  drained(): void {
    this.writing = false;
    this.pump();
  }

  /** Transport: the connection ended (error when it broke). */
  ended(error?: Error): void {
    if (this.finished) return;
    this.finish(error ?? (this.closing ? undefined : this.midFrameError()));
  }

  private pump(): void {
    if (this.writing || this.finished) return;
    while (this.queue.length > 0) {
      const chunk = this.takeChunk();
      let result: number | Promise<void>;
      try {
        result = this.sink.write(chunk);
      } catch (error) {
        this.fail(error as Error);
        return;
      }
      if (typeof result !== "number") {
        this.writing = true;
        result.then(
          () => {
            if (this.finished) return;
            this.queued -= chunk.length;
            this.drained();
          },
          (error: unknown) => this.fail(error instanceof Error ? error : new Error(String(error))),
        );
        return;
      }
      const written = Math.max(0, result);
      this.queued -= written;
      if (written < chunk.length) {
        this.queue.unshift(chunk.subarray(written));
        this.writing = true;
        return;
      }
    }
    this.wakeDrainWaiters();
    if (this.closing) {
      this.finish(undefined);
      this.sink.end();
    }
  }

  /** The head of the queue, merged with the small frames behind it so one write carries them. */
  private takeChunk(): Uint8Array {
    const head = this.queue.shift()!;
    if (head.length >= COALESCE_LIMIT || this.queue.length === 0) return head;
    let size = head.length;
    let count = 0;
    while (count < this.queue.length && size + this.queue[count]!.length <= COALESCE_LIMIT) {
      size += this.queue[count]!.length;
      count += 1;
    }
    if (count === 0) return head;
    const merged = new Uint8Array(size);
    merged.set(head);
    let offset = head.length;
    for (const part of this.queue.splice(0, count)) {
      merged.set(part, offset);
      offset += part.length;
    }
    return merged;
  }

  private fail(error: Error): void {
    if (this.finished) return;
    // Finish first: destroying the transport reports its own close synchronously.
    this.finish(error);
    this.sink.destroy();
  }

  private finish(error: Error | undefined): void {
    this.finished = true;
    this.closeError = error;
    this.queue.length = 0;
    this.queued = 0;
    this.wakeDrainWaiters();
    this.reportClose();
  }

  /** Waits for frames still to deliver, so a handler never hears of the close before them. */
  private reportClose(): void {
    if (this.closeReported || this.closeHandler === null) return;
    if (this.undelivered.length > 0 && this.frameHandler !== null) return;
    this.closeReported = true;
    this.closeHandler(this.closeError);
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }

  private deliverUndelivered(): void {
    while (this.undelivered.length > 0 && this.frameHandler !== null) {
      this.frameHandler(this.undelivered.shift()!);
    }
    if (this.finished) this.reportClose();
  }

  private midFrameError(): Error | undefined {
    const partial = this.decoder.bufferedBytes;
    return partial > 0
      ? new Error(`connection ended in the middle of a frame (${partial} bytes)`)
      : undefined;
  }
}
