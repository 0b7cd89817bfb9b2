// A frame channel over a plain byte stream pair, for the VM guest's virtio-console port (a
// character device the agent reads as a stream and writes with fs.write).
import type { FrameChannel } from "./channel.ts";
import { QueuedFrameChannel } from "./queued-channel.ts";

export function channelFromStreams(
  readable: AsyncIterable<Uint8Array>,
  write: (bytes: Uint8Array) => Promise<void> | void,
  close: () => void,
): FrameChannel {
  let paused = false;
  let wakeReader: (() => void) | null = null;
  let closedByUs = false;
  const closeOnce = () => {
    if (closedByUs) return;
    closedByUs = true;
    close();
  };
  const channel = new QueuedFrameChannel({
    write(bytes) {
      const pending = write(bytes);
      return pending instanceof Promise ? pending : bytes.length;
    },
    end: closeOnce,
    destroy: closeOnce,
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      wakeReader?.();
      wakeReader = null;
    },
  });
  const pump = async () => {
    try {
      for await (const chunk of readable) {
        channel.received(chunk);
        while (paused) await new Promise<void>((resolve) => (wakeReader = resolve));
      }
      channel.ended();
    } catch (error) {
      channel.ended(closedByUs ? undefined : (error as Error));
    }
  };
  void pump();
  return channel;
}
