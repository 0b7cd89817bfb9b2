// A running sandbox's hold on a disk volume (an ext4 image). ext4 is not a shared filesystem:
// mounted twice at once (two loop devices, or two VMs' virtio-blk disks) the two mounts
// overwrite each other's metadata and corrupt it. So:
//
// - namespace backend: one mount on the host, shared. The first supervisor that needs the
//   volume mounts the image at volumes/.mnt/<name>; every sandbox using it binds that directory
//   (its mount namespace is copied from the host's after the mount exists), so one kernel and
//   one superblock serve them all. Each supervisor holds a shared flock on volume-<name>.users
//   for its whole life: the last one to leave takes it exclusively and unmounts. The kernel
//   drops a dead supervisor's flock, so a crash never pins a volume. Mounting and unmounting
//   happen under volume-<name>.lock, so a mount never races an unmount. An image still attached
//   to a loop device (a mount namespace that has not let go yet) is mounted through that same
//   device, which gives the same superblock, never a second one.
// - vm backend: the guest kernel mounts the disk itself, so only one sandbox may have it: the
//   supervisor takes volume-<name>.users exclusively and fails when anyone else holds it.
import { mkdirSync, readdirSync, readFileSync, realpathSync, rmdirSync } from "node:fs";
import { attachLoopDevice } from "../agent/loop-device.ts";
import { MNT_DETACH, MS_NODEV, MS_NOSUID, mount, unmount } from "../agent/syscalls.ts";
import { ConflictError, MsbError } from "../errors.ts";
import type { MsbPaths } from "../paths.ts";
import type { IsolationBackend } from "../sandbox/spec.ts";
import { acquireLock, type FileLock, tryLock } from "../util/file-lock.ts";
import { isMountPoint } from "./disk-usage.ts";
import {
  volumeImagePath,
  volumeMountLockPath,
  volumeMountPoint,
  volumeUsersLockPath,
} from "./volume-paths.ts";

const LOCK_TIMEOUT_MS = 30_000;

export interface DiskLease {
  /** namespace: where the image is mounted on the host; vm: the image to attach. */
  path: string;
  release(): Promise<void>;
}

export async function leaseDiskVolume(
  paths: MsbPaths,
  name: string,
  backend: IsolationBackend,
): Promise<DiskLease> {
  const image = volumeImagePath(paths, name);
  const guard = await acquireLock(volumeMountLockPath(paths, name), { timeoutMs: LOCK_TIMEOUT_MS });
  if (backend === "vm") {
    try {
      return leaseForVm(paths, name, image);
    } finally {
      guard.release();
    }
  }
  const mountPoint = volumeMountPoint(paths, name);
  let users: FileLock | undefined;
  try {
    users = tryLock(volumeUsersLockPath(paths, name), { shared: true });
    if (!users) {
      throw new ConflictError(
        `disk volume ${name} is in use by a VM sandbox`,
        "stop that sandbox first: a VM cannot share its disk volumes",
      );
    }
    if (!isMountPoint(mountPoint)) mountImage(name, image, mountPoint);
  } catch (error) {
    users?.release();
    throw error;
  } finally {
    guard.release();
  }
  const held = users;
  return {
    path: mountPoint,
    release: () => releaseMount(paths, name, held),
  };
}

/** The whole disk for one VM: nobody else may hold it, and no host kernel may still have it mounted. */
function leaseForVm(paths: MsbPaths, name: string, image: string): DiskLease {
  const resolved = resolveImage(name, image);
  const users = tryLock(volumeUsersLockPath(paths, name));
  if (!users) {
    throw new ConflictError(
      `disk volume ${name} is in use by another running sandbox`,
      "a VM mounts its disk volumes itself, so it cannot share one: stop the other sandbox first",
    );
  }
  detachHostMount(paths, name);
  if (attachedLoopDevice(resolved) !== undefined) {
    users.release();
    throw new ConflictError(
      `disk volume ${name} is still attached on the host`,
      "a sandbox that used it is still shutting down: retry in a moment",
    );
  }
  return { path: image, release: async () => users.release() };
}

/** Drops this sandbox's hold; the last one out unmounts. */
async function releaseMount(paths: MsbPaths, name: string, users: FileLock): Promise<void> {
  const guard = await acquireLock(volumeMountLockPath(paths, name), { timeoutMs: LOCK_TIMEOUT_MS });
  try {
    users.release();
    unmountUnlessUsed(paths, name);
  } finally {
    guard.release();
  }
}

/**
 * Unmounts a disk volume from the host when no supervisor holds it (call with the mount lock
 * held). Returns false when it is still in use.
 */
export function unmountUnlessUsed(paths: MsbPaths, name: string): boolean {
  const alone = tryLock(volumeUsersLockPath(paths, name));
  if (!alone) return false;
  try {
    detachHostMount(paths, name);
    return true;
  } finally {
    alone.release();
  }
}

/**
 * Unmounts a disk volume from the host now, users or not (call with the mount lock held).
 * Lazily: sandboxes still using it keep their view, and the superblock, until they stop.
 */
export function detachHostMount(paths: MsbPaths, name: string): void {
  const mountPoint = volumeMountPoint(paths, name);
  if (isMountPoint(mountPoint)) unmount(mountPoint, MNT_DETACH);
  try {
    rmdirSync(mountPoint);
  } catch {
    // Already gone.
  }
}

/** Takes the mount lock around `work` (used by `volume rm`). */
export async function withVolumeMountLock<T>(paths: MsbPaths, name: string, work: () => T): Promise<T> {
  const guard = await acquireLock(volumeMountLockPath(paths, name), { timeoutMs: LOCK_TIMEOUT_MS });
  try {
    return work();
  } finally {
    guard.release();
  }
}

/** The image's real path, as sysfs shows loop devices' backing files. */
function resolveImage(name: string, image: string): string {
  try {
    return realpathSync(image);
  } catch {
    throw new MsbError(`the disk image ${image} of volume ${name} is missing`, {
      code: "notFound",
      hint: `remove the volume with 'msb volume rm -f ${name}' and create it again`,
    });
  }
}

function mountImage(name: string, image: string, mountPoint: string): void {
  const resolved = resolveImage(name, image);
  mkdirSync(mountPoint, { recursive: true, mode: 0o700 });
  const flags = MS_NOSUID | MS_NODEV;
  const existing = attachedLoopDevice(resolved);
  if (existing !== undefined) {
    try {
      mount(existing, mountPoint, "ext4", flags, null);
      return;
    } catch {
      // It was being detached: attach afresh below.
    }
  }
  const device = attachLoopDevice(resolved, false);
  try {
    mount(device.path, mountPoint, "ext4", flags, null);
  } finally {
    device.close();
  }
}

/** The loop device the image is attached to, if any (sysfs shows each device's backing file). */
function attachedLoopDevice(image: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync("/sys/block").filter((entry) => entry.startsWith("loop"));
  } catch {
    return undefined;
  }
  for (const device of names) {
    try {
      if (readFileSync(`/sys/block/${device}/loop/backing_file`, "utf8").trim() === image) {
        return `/dev/${device}`;
      }
    } catch {
      // Not attached.
    }
  }
  return undefined;
}
