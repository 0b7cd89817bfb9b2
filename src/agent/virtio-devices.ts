// Finds the VM's devices the way every VMM presents them: the agent's console port by its name
// (/sys/class/virtio-ports/*/name) and disks by their virtio-blk serial (/sys/block/vd*/serial),
// or by position where the VMM cannot set serials. Nothing here depends on which VMM runs the guest.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { MsbError } from "../errors.ts";

export interface DeviceRoots {
  sys: string;
  dev: string;
}

const ROOTS: DeviceRoots = { sys: "/sys", dev: "/dev" };

/** /dev/<port> of the virtio-console port named `name`, or null. */
export function findConsolePort(name: string, roots: DeviceRoots = ROOTS): string | null {
  const dir = join(roots.sys, "class", "virtio-ports");
  for (const entry of listDir(dir)) {
    if (readTrimmed(join(dir, entry, "name")) === name) return join(roots.dev, entry);
  }
  return null;
}

/** Serials msb gives its disks; a VMM that sets none of them cannot set serials at all. */
const MSB_SERIAL_PREFIX = "msb-";

/**
 * /dev/vdX of the virtio-blk disk whose serial is `serial`, or null. A VMM that cannot set
 * serials (libkrun derives them from the file) attaches the VmSpec's disks in order, so there the
 * disk is the `position`-th one.
 */
export function findDisk(serial: string, position: number, roots: DeviceRoots = ROOTS): string | null {
  const dir = join(roots.sys, "block");
  const disks = listDir(dir)
    .filter((entry) => /^vd[a-z]+$/.test(entry))
    .sort((a, b) => a.length - b.length || a.localeCompare(b));
  const serials = disks.map((entry) => readTrimmed(join(dir, entry, "serial")) ?? "");
  const bySerial = serials.indexOf(serial);
  if (bySerial >= 0) return join(roots.dev, disks[bySerial] as string);
  if (serials.some((text) => text.startsWith(MSB_SERIAL_PREFIX))) return null;
  const byPosition = disks[position];
  return byPosition === undefined ? null : join(roots.dev, byPosition);
}

/** Devices appear as their drivers probe; wait a little before calling one missing. */
export async function waitForDevice(
  what: string,
  find: () => string | null,
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== null) return found;
    if (Date.now() >= deadline) {
      throw new MsbError(`${what} did not appear within ${timeoutMs / 1000}s`, {
        hint: "the VMM must attach it (see the VM spec in the runtime folder)",
      });
    }
    await Bun.sleep(20);
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function readTrimmed(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}
