// The supervisor's side of named volumes: before boot, find each volume the sandbox mounts,
// make sure a directory volume's folder exists with its owner, take a lease on each disk volume
// (disk-lease.ts: mounted once on the host and shared, or held alone by a VM), and give the
// agent the resolved mounts. release() gives the leases back when the sandbox stops.
import type { BootMount } from "../agent/boot-config.ts";
import { MsbError } from "../errors.ts";
import type { SandboxRecord } from "../store/sandbox-records.ts";
import type { Store } from "../store/store.ts";
import { findVolume } from "../store/volume-records.ts";
import { bootMounts, type ResolvedVolume, volumeNames } from "./boot-mounts.ts";
import { type DiskLease, leaseDiskVolume, unmountUnlessUsed, withVolumeMountLock } from "./disk-lease.ts";
import { volumeImagePath } from "./volume-paths.ts";
import { prepareDirectory } from "./volumes.ts";

export interface AttachedVolumes {
  mounts: BootMount[];
  release(): Promise<void>;
}

export async function attachVolumes(store: Store, record: SandboxRecord): Promise<AttachedVolumes> {
  const spec = record.spec;
  const resolved = new Map<string, ResolvedVolume>();
  const leases: DiskLease[] = [];
  const release = async () => {
    for (const lease of leases.splice(0).reverse()) await lease.release().catch(() => undefined);
  };
  try {
    for (const name of volumeNames(spec.mounts)) {
      const volume = findVolume(store.db, name);
      if (!volume) {
        throw new MsbError(`volume ${name} that sandbox ${spec.name} mounts does not exist`, {
          code: "notFound",
          hint: `create it again with 'msb volume create ${name}', or recreate the sandbox without it`,
        });
      }
      if (volume.kind === "dir") {
        resolved.set(name, { kind: "dir", path: prepareDirectory(store.paths, volume) });
        continue;
      }
      const lease = await leaseDiskVolume(store.paths, name, spec.isolation);
      leases.push(lease);
      resolved.set(name, { kind: "disk", image: volumeImagePath(store.paths, name), hostMount: lease.path });
    }
    const mounts = bootMounts(spec.mounts, spec.isolation, (name) => {
      const volume = resolved.get(name);
      if (!volume) throw new MsbError(`volume ${name} was not resolved`);
      return volume;
    });
    return { mounts, release };
  } catch (error) {
    await release();
    throw error;
  }
}

/**
 * What a supervisor's release() would have done, for one that died (killed, or crashed): its
 * flock went with it, so each disk volume nobody else holds is unmounted from the host.
 */
export async function releaseVolumesAfterSupervisor(store: Store, record: SandboxRecord): Promise<void> {
  for (const name of volumeNames(record.spec.mounts)) {
    if (findVolume(store.db, name)?.kind !== "disk") continue;
    await withVolumeMountLock(store.paths, name, () => unmountUnlessUsed(store.paths, name));
  }
}
