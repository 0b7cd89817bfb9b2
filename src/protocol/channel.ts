// The contract every protocol endpoint codes against: a bidirectional stream of frames over a
// unix socket (agent ↔ supervisor ↔ CLI) or, in a VM guest, a virtio-console port. The
// implementations live in channel-*.ts.
import type { Frame, FrameKind } from "./messages.ts";

export interface FrameChannel {
  /** Queues a frame; buffers while the peer is slow (backpressure), never drops. */
  send(frame: Frame): void;
  /** Sends a control frame whose payload is `body` as JSON. */
  sendJson(kind: FrameKind, session: number, body: unknown): void;
  /** Called for each frame received, in order. Set before the first frame can arrive. */
  onFrame: (frame: Frame) => void;
  /** Called once when the connection ends (error set when it broke or a frame was invalid). */
  onClose: (error?: Error) => void;
  /** Flushes what is queued, then closes. */
  close(): void;
  readonly closed: boolean;
}
