// Prepares, once per kernel and msb binary, what any VMM needs to boot a guest: the kernel, the
// initramfs and the read-only boot disk, cached under MSB_HOME/lib/guest/<key>/ (the key covers
// every input, so a new msb build or kernel gets fresh files and old ones are never reused).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MsbError } from "../errors.ts";
import type { MsbPaths } from "../paths.ts";
import { acquireLock } from "../util/file-lock.ts";
import { writeBootDisk } from "./boot-disk.ts";
import { type BootFile, collectBootFiles } from "./boot-files.ts";
import { buildInitramfs, findBusybox, guestModules } from "./initramfs.ts";
import { findGuestKernel, type GuestKernel } from "./kernel.ts";

/** Bumped whenever the layout of the generated files changes. */
const FORMAT = 1;

export interface GuestFiles {
  kernelVersion: string;
  kernel: string;
  initramfs: string;
  /** EROFS image with the agent; attached read-only with serial BOOT_DISK_SERIAL. */
  bootDisk: string;
}

export function guestLibDir(paths: MsbPaths): string {
  return join(paths.lib, "guest");
}

/** The msb binary the guest runs: this one, when it is the compiled single binary. */
export function agentBinary(): string {
  const compiled = Bun.main.startsWith("/$bunfs/") || Bun.main === process.execPath;
  if (!compiled) {
    throw new MsbError("VM sandboxes need the compiled msb binary (the guest runs it as its agent)", {
      code: "unavailable",
      hint: "build it with 'bun run build' and run dist/msb",
    });
  }
  return process.execPath;
}

export async function prepareGuestFiles(paths: MsbPaths): Promise<GuestFiles> {
  const lib = guestLibDir(paths);
  const lock = await acquireLock(join(paths.locks, "guest-files.lock"));
  try {
    const kernel = findGuestKernel(lib, (found) => new Set(guestModules(found).order));
    const busybox = findBusybox();
    const bootFiles = collectBootFiles(agentBinary());
    const dir = join(lib, cacheKey(kernel, busybox, bootFiles));
    const files: GuestFiles = {
      kernelVersion: kernel.version,
      kernel: kernel.vmlinuz,
      initramfs: join(dir, "initramfs.cpio"),
      bootDisk: join(dir, "boot.erofs"),
    };
    if (existsSync(files.initramfs) && existsSync(files.bootDisk)) return files;
    const staging = `${dir}.partial`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    writeFileSync(join(staging, "initramfs.cpio"), buildInitramfs(kernel, busybox));
    await writeBootDisk(bootFiles, join(staging, "boot.erofs"));
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    removeStaleSets(lib, dir);
    return files;
  } finally {
    lock.release();
  }
}

/**
 * Earlier sets (an older msb build or kernel) are never used again. A VM still running from one
 * keeps its open files; only the names go.
 */
function removeStaleSets(lib: string, current: string): void {
  for (const name of readdirSync(lib)) {
    const path = join(lib, name);
    if (path !== current && /^[0-9a-f]{16}(\.partial)?$/.test(name))
      rmSync(path, { recursive: true, force: true });
  }
}

function cacheKey(kernel: GuestKernel, busybox: string, bootFiles: BootFile[]): string {
  const identity = (path: string) => {
    const stat = statSync(path);
    return [path, stat.size, stat.mtimeMs];
  };
  const inputs = {
    format: FORMAT,
    kernel: [kernel.version, identity(kernel.vmlinuz)],
    busybox: identity(busybox),
    boot: bootFiles.map((file) => [file.guestPath, identity(file.hostPath)]),
  };
  return createHash("sha256").update(JSON.stringify(inputs)).digest("hex").slice(0, 16);
}
