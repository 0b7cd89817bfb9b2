// Brings the loopback interface up. A fresh network namespace (and a fresh VM) starts with
// `lo` down, so nothing could even talk to 127.0.0.1 until it is raised.
import { closeSync } from "node:fs";
import { ioctl, socket } from "./syscalls.ts";

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;
/** struct ifreq: a 16-byte name, then a union whose first member here is `short ifr_flags`. */
const IFREQ_SIZE = 40;
const IFREQ_FLAGS = 16;

export function bringLoopbackUp(name = "lo"): void {
  const fd = socket(AF_INET, SOCK_DGRAM, 0);
  try {
    const request = new Uint8Array(IFREQ_SIZE);
    request.set(Buffer.from(name).subarray(0, 15));
    const view = new DataView(request.buffer);
    ioctl(fd, SIOCGIFFLAGS, request, `${name} (SIOCGIFFLAGS)`);
    view.setUint16(IFREQ_FLAGS, view.getUint16(IFREQ_FLAGS, true) | IFF_UP, true);
    ioctl(fd, SIOCSIFFLAGS, request, `${name} (SIOCSIFFLAGS)`);
  } finally {
    closeSync(fd);
  }
}
