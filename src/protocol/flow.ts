// Flow control that the channels in this folder offer beyond the FrameChannel contract. Producers
// that can wait (a process's output pipe, a client's stdin) check for it so a slow peer slows them
// down instead of growing an unbounded queue; channels without it simply never make them wait.
import type { FrameChannel } from "./channel.ts";

export interface FlowControl {
  /** Bytes queued for sending that the transport has not taken yet. */
  readonly queuedBytes: number;
  /** Resolves once everything queued has been handed to the transport, or the channel closed. */
  whenDrained(): Promise<void>;
  /** Stops reading from the transport, so the peer's writes block; frames already read still arrive. */
  pauseReading(): void;
  resumeReading(): void;
}

/** Queued bytes above which producers wait: a few maximum-size stream chunks. */
export const SEND_HIGH_WATER = 1 << 20;

export function flowControlOf(channel: FrameChannel): FlowControl | null {
  const candidate = channel as Partial<FlowControl>;
  return typeof candidate.whenDrained === "function" &&
    typeof candidate.pauseReading === "function" &&
    typeof candidate.resumeReading === "function"
    ? (candidate as FlowControl)
    : null;
}

/** Waits while `channel` has more than `highWater` bytes queued. */
export async function roomToSend(channel: FrameChannel, highWater = SEND_HIGH_WATER): Promise<void> {
  const flow = flowControlOf(channel);
  while (flow !== null && !channel.closed && flow.queuedBytes > highWater) await flow.whenDrained();
}
