// A FrameChannel in memory for tests of the supervisor side: frames sent are kept in `sent`,
// frames from the other end are delivered by calling `onFrame` directly.
import type { FrameChannel } from "../../src/protocol/channel.ts";
import type { Frame } from "../../src/protocol/messages.ts";

export class MemoryChannel implements FrameChannel {
  sent: Frame[] = [];
  closed = false;
  onFrame: (frame: Frame) => void = () => {};
  onClose: (error?: Error) => void = () => {};
  send(frame: Frame): void {
    this.sent.push(frame);
  }
  sendJson(kind: Frame["kind"], session: number, body: unknown): void {
    this.send({ kind, session, payload: new TextEncoder().encode(JSON.stringify(body)) });
  }
  close(): void {
    this.closed = true;
    this.onClose();
  }
}
