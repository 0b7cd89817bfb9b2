// Moves a session's output (pipes or PTY) into frames and decides when all of it has been sent.
// After the process exits its output is read to the end; a descendant that keeps the pipe or PTY
// open (a background job) would hold the session forever, so once exited, a source that stays
// silent for OUTPUT_SETTLE_MS is cut off instead.
import type { FrameChannel } from "../protocol/channel.ts";
import { roomToSend } from "../protocol/flow.ts";

/** Largest stream payload the agent sends. */
export const OUTPUT_CHUNK = 64 << 10;
/** Silence after the process exited that ends the wait for output. */
export const OUTPUT_SETTLE_MS = 250;

export interface OutputSource {
  /** Resolves at end of output (EOF, or after stop()). */
  readonly finished: Promise<void>;
  /** Milliseconds since the source last made progress; 0 while it waits for the channel. */
  idleFor(): number;
  stop(): void;
}

export function emitChunks(bytes: Uint8Array, emit: (chunk: Uint8Array) => void): void {
  for (let offset = 0; offset < bytes.length; offset += OUTPUT_CHUNK) {
    emit(bytes.subarray(offset, offset + OUTPUT_CHUNK));
  }
}

/** Reads a pipe into `emit`, waiting for room on the channel so a slow client slows the process. */
export function pipeSource(
  stream: ReadableStream<Uint8Array>,
  channel: FrameChannel,
  emit: (chunk: Uint8Array) => void,
): OutputSource {
  const reader = stream.getReader();
  let lastProgress = Date.now();
  let waitingForRoom = false;
  const finished = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        emitChunks(value, emit);
        waitingForRoom = true;
        await roomToSend(channel);
        waitingForRoom = false;
        lastProgress = Date.now();
      }
    } catch {
      // A cancelled or broken pipe is the end of its output.
    }
  })();
  return {
    finished,
    idleFor: () => (waitingForRoom ? 0 : Date.now() - lastProgress),
    stop: () => void reader.cancel().catch(() => {}),
  };
}

/** Output pushed by a PTY's data callback: `push` from the callback, `end` from its exit callback. */
export function pushedSource(stop: () => void): OutputSource & { push(): void; end(): void } {
  let lastProgress = Date.now();
  let end!: () => void;
  const finished = new Promise<void>((resolve) => (end = resolve));
  return {
    finished,
    idleFor: () => Date.now() - lastProgress,
    stop() {
      stop();
      end();
    },
    push() {
      lastProgress = Date.now();
    },
    end,
  };
}

/** Resolves once every source finished, cutting off sources that stay silent too long. */
export async function settleOutput(sources: OutputSource[], settleMs = OUTPUT_SETTLE_MS): Promise<void> {
  // Silence counts from the call at the earliest: a process quiet for a minute may write its last
  // line just before exiting, and that line must still be read.
  const start = Date.now();
  let settled = false;
  const all = Promise.all(sources.map((source) => source.finished)).then(() => {
    settled = true;
  });
  while (!settled) {
    const quiet = sources.every((source) => Math.min(source.idleFor(), Date.now() - start) >= settleMs);
    if (quiet) {
      for (const source of sources) source.stop();
      break;
    }
    await Promise.race([all, Bun.sleep(settleMs / 5)]);
  }
  await all;
}
