// How much a volume holds: for a directory, the blocks its files take on the host (`du`, each
// hard-linked file once); for a disk, the ext4 blocks in use, from statfs while it is mounted on
// the host, from the superblock otherwise.
import { type Dirent, lstatSync, readdirSync, statfsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { readExt4Usage } from "./ext4-usage.ts";

/** Allocated bytes under `dir` (st_blocks), not following symlinks; 0 when it is missing. */
export function directoryUsage(dir: string): number {
  const seen = new Set<string>();
  let total = 0;
  const visit = (path: string) => {
    let stats: ReturnType<typeof lstatSync>;
    try {
      stats = lstatSync(path);
    } catch {
      return;
    }
    const key = `${stats.dev}:${stats.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    total += stats.blocks * 512;
    if (!stats.isDirectory()) return;
    let entries: Dirent[];
    try {
      entries = readdirSync(path, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) visit(join(path, entry.name));
  };
  visit(dir);
  return total;
}

/** Bytes in use inside a disk volume; `mountPoint` is where the host mounts it while in use. */
export function diskVolumeUsage(imagePath: string, mountPoint: string): number {
  if (isMountPoint(mountPoint)) {
    const stats = statfsSync(mountPoint);
    return (stats.blocks - stats.bfree) * stats.bsize;
  }
  return readExt4Usage(imagePath).usedBytes;
}

/** A mounted directory is on another device than its parent. */
export function isMountPoint(path: string): boolean {
  try {
    return statSync(path).dev !== statSync(dirname(path)).dev;
  } catch {
    return false;
  }
}
