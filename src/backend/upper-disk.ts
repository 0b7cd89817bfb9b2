// Creates a sandbox's writable layer: a sparse file formatted as ext4, so the guest owns its
// files (owners, modes, setuid bits, hard links, xattrs) whatever the host filesystem is. The
// journal stays on: a sandbox killed mid-write must find a consistent disk at its next start.
// Formatting a sparse 4 GiB file takes milliseconds and about 2 MB on disk. Disk volumes
// (`msb volume create --size`) are made the same way, their root owned as the volume says.
import { renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { MsbError } from "../errors.ts";

/** ext4 refuses tiny filesystems; below this the journal and metadata leave no room anyway. */
export const MIN_UPPER_DISK_BYTES = 16 * 1024 * 1024;

export interface DiskOptions {
  /** Owner of the filesystem's root directory (default root). */
  rootOwner?: { uid: number; gid: number } | null;
}

export async function createUpperDisk(
  path: string,
  sizeBytes: number,
  options: DiskOptions = {},
): Promise<void> {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < MIN_UPPER_DISK_BYTES) {
    throw new MsbError(`disk size ${sizeBytes} is too small for a sandbox disk`, {
      code: "usage",
      hint: `give at least ${MIN_UPPER_DISK_BYTES / 1024 / 1024} MiB`,
    });
  }
  const mkfs = findMkfsExt4();
  const partial = `${path}.partial`;
  writeFileSync(partial, "");
  try {
    truncateSync(partial, sizeBytes);
    const child = Bun.spawn([mkfs, "-q", "-F", "-m", "0", "-E", extendedOptions(options), partial], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [exitCode, stdout, stderr] = await Promise.all([
      child.exited,
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]);
    if (exitCode !== 0) {
      throw new MsbError(`mkfs.ext4 failed for ${path} (exit ${exitCode}): ${`${stderr}${stdout}`.trim()}`);
    }
    renameSync(partial, path);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
}

function extendedOptions(options: DiskOptions): string {
  const owner = options.rootOwner ? [`root_owner=${options.rootOwner.uid}:${options.rootOwner.gid}`] : [];
  return ["lazy_itable_init=1", "lazy_journal_init=1", "nodiscard", ...owner].join(",");
}

/** mkfs.ext4 lives in sbin, which a non-login root shell may not have on PATH. */
function findMkfsExt4(): string {
  const path = [process.env.PATH ?? "", "/usr/sbin", "/sbin"].filter(Boolean).join(":");
  const found = Bun.which("mkfs.ext4", { PATH: path });
  if (found === null) {
    throw new MsbError("mkfs.ext4 not found: it formats each sandbox's writable disk", {
      code: "unavailable",
      hint: "install e2fsprogs (apt-get install e2fsprogs)",
    });
  }
  return found;
}
