// A TAP device in the current network namespace, and the relay the sandbox agent runs to join
// it to the supervisor's engine over net.sock. Each read() on a TAP fd returns exactly one
// Ethernet frame and each write() injects one (IFF_NO_PI: no packet-info header), so frames
// are read with fs.read on the fd (a blocking read in libuv's thread pool, off the event loop)
// rather than a byte stream, which would merge them.
import { closeSync, openSync, read, writeSync } from "node:fs";
import { ioctl } from "../agent/syscalls.ts";
import { StreamLink } from "./engine/stream-link.ts";
import { MAX_FRAME_BYTES } from "./wire/frame-stream.ts";

const TUN_DEVICE = "/dev/net/tun";
/** _IOW('T', 202, int) */
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
/** struct ifreq: a 16-byte name, then the union whose first member here is the u16 flags. */
const IFREQ_BYTES = 40;
const IFNAMSIZ = 16;
/** Stop reading the TAP while this much is queued for net.sock. */
const MAX_QUEUED_STREAM_BYTES = 4 * 1024 * 1024;

export interface TapDevice {
  readonly name: string;
  /** The next frame, or null once the device is closed or fails. */
  readFrame(): Promise<Uint8Array | null>;
  /** Injects one frame; a frame the kernel refuses (interface down) is dropped. */
  writeFrame(frame: Uint8Array): void;
  close(): void;
}

export function openTap(name: string): TapDevice {
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length === 0 || nameBytes.length >= IFNAMSIZ) {
    throw new RangeError(`TAP device name "${name}" must be 1..${IFNAMSIZ - 1} bytes`);
  }
  const fd = openSync(TUN_DEVICE, "r+");
  try {
    const request = new Uint8Array(IFREQ_BYTES);
    request.set(nameBytes);
    new DataView(request.buffer).setUint16(IFNAMSIZ, IFF_TAP | IFF_NO_PI, true);
    ioctl(fd, TUNSETIFF, request, `TUNSETIFF ${name}`);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  const buffer = Buffer.alloc(MAX_FRAME_BYTES);
  let closed = false;
  return {
    name,
    readFrame: () =>
      new Promise((resolve) => {
        if (closed) return resolve(null);
        read(fd, buffer, 0, buffer.length, null, (error, bytes) => {
          resolve(error || closed ? null : new Uint8Array(buffer.subarray(0, bytes)));
        });
      }),
    writeFrame(frame) {
      if (closed) return;
      try {
        writeSync(fd, frame);
      } catch {
        // EIO while the interface is down: the frame is lost, as on a wire.
      }
    },
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}

/**
 * Pumps frames between `tap` and the engine's net.sock at `unixSocketPath` until the stream
 * closes; the TAP device stays open (the caller owns it).
 */
export async function relayTapToStream(tap: TapDevice, unixSocketPath: string): Promise<void> {
  const streamClosed = Promise.withResolvers<void>();
  let link: StreamLink | undefined;
  const socket = await Bun.connect({
    unix: unixSocketPath,
    socket: {
      data: (_socket, chunk) => link?.receive(chunk),
      drain: () => link?.drain(),
      close: () => streamClosed.resolve(),
      error: () => streamClosed.resolve(),
    },
  });
  link = new StreamLink(socket, (frame) => tap.writeFrame(frame));
  let open = true;
  // The pending read returns with the next frame, or when the caller closes the device.
  void (async () => {
    while (open) {
      const frame = await tap.readFrame();
      if (frame === null || !open) return;
      link.write(frame);
      if (link.queuedBytes > MAX_QUEUED_STREAM_BYTES) await link.whenDrained();
    }
  })();
  await streamClosed.promise;
  open = false;
  socket.end();
}
