// libkrun's guest root: a host folder shared read-only as virtio-fs `/dev/root` that holds the
// agent (the msb binary) and its C runtime at their guest paths, plus the empty mount points init
// needs. Built once per msb binary under MSB_HOME/lib/boot/<key>/ (a new build gets a fresh
// folder and running guests keep theirs); the guest can never write it.
import { createHash } from "node:crypto";
import {
  chmodSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { BOOT_ROOT_DIRS } from "../guest/boot-disk.ts";
import { type BootFile, collectBootFiles } from "../guest/boot-files.ts";
import { agentBinary } from "../guest/guest-files.ts";
import type { MsbPaths } from "../paths.ts";
import { acquireLock } from "../util/file-lock.ts";

/** Bumped whenever the layout of the boot folder changes. */
const FORMAT = 1;

export function bootRootParent(paths: MsbPaths): string {
  return join(paths.lib, "boot");
}

/**
 * The boot folder for this msb binary, built when missing; returns its path. Keyed by the binary
 * alone, so the common case costs a stat (no ldd): the libraries copied with it stay a
 * consistent set even when the host's change later.
 */
export async function prepareBootRoot(paths: MsbPaths, binary: string = agentBinary()): Promise<string> {
  const dir = join(bootRootParent(paths), bootRootKey(binary));
  if (existsSync(dir)) return dir;
  mkdirSync(paths.locks, { recursive: true });
  const lock = await acquireLock(join(paths.locks, "boot-root.lock"));
  try {
    if (existsSync(dir)) return dir;
    const staging = `${dir}.partial`;
    rmSync(staging, { recursive: true, force: true });
    writeBootRoot(collectBootFiles(binary), staging);
    renameSync(staging, dir);
    return dir;
  } finally {
    lock.release();
  }
}

export function writeBootRoot(files: BootFile[], dir: string): void {
  for (const name of BOOT_ROOT_DIRS) mkdirSync(join(dir, name), { recursive: true, mode: 0o755 });
  for (const file of files) {
    const target = join(dir, file.guestPath);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    // A reflink where the filesystem can; a private copy either way, never the host's own file.
    copyFileSync(file.hostPath, target, constants.COPYFILE_FICLONE);
    chmodSync(target, file.mode);
  }
}

export function bootRootKey(binary: string): string {
  const real = realpathSync(binary);
  const stat = statSync(real);
  const identity = JSON.stringify({ format: FORMAT, binary: [real, stat.size, stat.mtimeMs] });
  return createHash("sha256").update(identity).digest("hex").slice(0, 16);
}
