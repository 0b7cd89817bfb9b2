// Where a named volume lives under MSB_HOME: a directory volume's data in volumes/<name>/, a
// disk volume's ext4 image in volumes/<name>.ext4 and, while namespace sandboxes use it, the
// host mount of that image in volumes/.mnt/<name> (names cannot start with '.', so no clash).
import { join } from "node:path";
import type { MsbPaths } from "../paths.ts";

export function volumeDataDir(paths: MsbPaths, name: string): string {
  return join(paths.volumes, name);
}

export function volumeImagePath(paths: MsbPaths, name: string): string {
  return join(paths.volumes, `${name}.ext4`);
}

export function volumeMountPoint(paths: MsbPaths, name: string): string {
  return join(paths.volumes, ".mnt", name);
}

/** Held while a disk volume is mounted or unmounted on the host (and while it is removed). */
export function volumeMountLockPath(paths: MsbPaths, name: string): string {
  return join(paths.locks, `volume-${name}.lock`);
}

/** Held shared by every supervisor using a disk volume (exclusive on the vm backend). */
export function volumeUsersLockPath(paths: MsbPaths, name: string): string {
  return join(paths.locks, `volume-${name}.users`);
}
