// Named volumes: create (a directory, or a sparse ext4 disk whose size is a quota the
// filesystem enforces), list with the space each one uses, inspect, and remove (refused while a
// sandbox, running or stopped, mounts it, unless forced). `-v NAME:/path` creates a missing
// volume as a directory volume, as Docker does.
import { chownSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { createUpperDisk } from "../backend/upper-disk.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import type { MsbPaths } from "../paths.ts";
import type { MountSpec } from "../sandbox/spec.ts";
import type { Store } from "../store/store.ts";
import {
  deleteVolume,
  findVolume,
  insertVolume,
  listVolumes,
  sandboxesUsingVolume,
  type VolumeOwner,
  type VolumeRecord,
} from "../store/volume-records.ts";
import { detachHostMount, unmountUnlessUsed, withVolumeMountLock } from "./disk-lease.ts";
import { directoryUsage, diskVolumeUsage } from "./disk-usage.ts";
import { validateVolumeName } from "./volume-options.ts";
import { volumeDataDir, volumeImagePath, volumeMountPoint } from "./volume-paths.ts";

export interface CreateVolumeOptions {
  name: string;
  /** null: a directory volume (no quota). */
  sizeBytes: number | null;
  owner: VolumeOwner | null;
}

export interface VolumeSummary extends VolumeRecord {
  /** Where its data is on the host: the directory, or the disk image. */
  path: string;
  usedBytes: number;
  /** Sandboxes whose spec mounts it, by name. */
  usedBy: string[];
}

export async function createVolume(store: Store, options: CreateVolumeOptions): Promise<VolumeRecord> {
  validateVolumeName(options.name);
  const kind = options.sizeBytes === null ? "dir" : "disk";
  // The row claims the name first, so two creators of one name cannot both write its data.
  const record = insertVolume(store.db, { ...options, kind });
  try {
    mkdirSync(store.paths.volumes, { recursive: true, mode: 0o700 });
    if (options.sizeBytes === null) prepareDirectory(store.paths, record);
    else {
      await createUpperDisk(volumeImagePath(store.paths, options.name), options.sizeBytes, {
        rootOwner: options.owner,
      });
    }
    return record;
  } catch (error) {
    removeVolumeData(store.paths, record);
    deleteVolume(store.db, options.name);
    throw error;
  }
}

/** Makes (again) a directory volume's folder, owned as the volume says. */
export function prepareDirectory(paths: MsbPaths, record: VolumeRecord): string {
  const dir = volumeDataDir(paths, record.name);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (record.owner) chownSync(dir, record.owner.uid, record.owner.gid);
  return dir;
}

/** `-v NAME:/path` of a volume that does not exist yet: a directory volume, made now. */
export async function ensureVolumes(store: Store, mounts: readonly MountSpec[]): Promise<void> {
  for (const mount of mounts) {
    if (mount.kind !== "volume" || findVolume(store.db, mount.name)) continue;
    try {
      await createVolume(store, { name: mount.name, sizeBytes: null, owner: null });
    } catch (error) {
      // Another msb created it meanwhile: use theirs.
      if (!(error instanceof ConflictError && findVolume(store.db, mount.name))) throw error;
    }
  }
}

export function requireVolume(store: Store, name: string): VolumeRecord {
  const record = findVolume(store.db, name);
  if (!record) throw new NotFoundError(`volume not found: ${name}`, "list volumes with 'msb volume ls'");
  return record;
}

export function listVolumeSummaries(store: Store): VolumeSummary[] {
  return listVolumes(store.db).map((record) => summarize(store, record));
}

export function inspectVolume(store: Store, name: string): VolumeSummary {
  return summarize(store, requireVolume(store, name));
}

/**
 * Removes a volume and its data. Refused while a sandbox's spec mounts it (running or not),
 * unless `force`: then a running sandbox keeps a disk volume's data until it stops (the image
 * is unlinked, its mount detached), while a directory volume's files go from under it.
 */
export async function removeVolume(
  store: Store,
  name: string,
  options: { force?: boolean } = {},
): Promise<void> {
  const record = requireVolume(store, name);
  const users = sandboxesUsingVolume(store.db, name).map((sandbox) => sandbox.name);
  if (users.length > 0 && !options.force) {
    throw new ConflictError(
      `volume ${name} is used by sandbox${users.length > 1 ? "es" : ""} ${users.join(", ")}`,
      `remove ${users.length > 1 ? "them" : "it"} first, or use 'msb volume rm --force ${name}'`,
    );
  }
  if (record.kind === "disk") {
    await withVolumeMountLock(store.paths, name, () => {
      if (!unmountUnlessUsed(store.paths, name)) {
        if (!options.force) {
          throw new ConflictError(
            `volume ${name} is mounted by a running sandbox`,
            "stop it first, or use --force",
          );
        }
        detachHostMount(store.paths, name);
      }
      removeVolumeData(store.paths, record);
    });
  } else removeVolumeData(store.paths, record);
  deleteVolume(store.db, name);
}

function removeVolumeData(paths: MsbPaths, record: VolumeRecord): void {
  const path =
    record.kind === "disk" ? volumeImagePath(paths, record.name) : volumeDataDir(paths, record.name);
  rmSync(path, { recursive: true, force: true });
}

function summarize(store: Store, record: VolumeRecord): VolumeSummary {
  const path =
    record.kind === "disk"
      ? volumeImagePath(store.paths, record.name)
      : volumeDataDir(store.paths, record.name);
  let usedBytes = 0;
  if (record.kind === "dir") usedBytes = directoryUsage(path);
  else if (existsSync(path)) usedBytes = diskVolumeUsage(path, volumeMountPoint(store.paths, record.name));
  return {
    ...record,
    path,
    usedBytes,
    usedBy: sandboxesUsingVolume(store.db, record.name).map((sandbox) => sandbox.name),
  };
}
