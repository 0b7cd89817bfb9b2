// From a sandbox spec's mounts to the agent's: named volumes become a bind of their folder
// (directory volumes) or a disk mount (disk volumes); other mounts pass through. Pure, so both
// backends' mappings are table-tested; attach-volumes.ts does the host side.
import type { BootMount } from "../agent/boot-config.ts";
import type { IsolationBackend, MountSpec } from "../sandbox/spec.ts";
import { volumeDiskSerial } from "../vmm/vm-spec.ts";

export type ResolvedVolume =
  /** A directory volume's host folder. */
  | { kind: "dir"; path: string }
  /** A disk volume's image, and (namespace backend) where the host mounted it. */
  | { kind: "disk"; image: string; hostMount: string };

export function bootMounts(
  mounts: readonly MountSpec[],
  backend: IsolationBackend,
  resolve: (name: string) => ResolvedVolume,
): BootMount[] {
  const diskOrder: string[] = [];
  return mounts.map((mount): BootMount => {
    if (mount.kind !== "volume") return mount;
    const volume = resolve(mount.name);
    if (volume.kind === "dir") {
      return { kind: "bind", source: volume.path, target: mount.target, readonly: mount.readonly };
    }
    if (!diskOrder.includes(mount.name)) diskOrder.push(mount.name);
    return {
      kind: "disk",
      volume: mount.name,
      image: volume.image,
      source: backend === "vm" ? volumeDiskSerial(diskOrder.indexOf(mount.name)) : volume.hostMount,
      target: mount.target,
      readonly: mount.readonly,
    };
  });
}

/** The distinct volume names a spec mounts, in order. */
export function volumeNames(mounts: readonly MountSpec[]): string[] {
  return [...new Set(mounts.flatMap((mount) => (mount.kind === "volume" ? [mount.name] : [])))];
}
