// Turns a sandbox record into the VmSpec its VMM replays: sizes from the spec, the image's
// rootfs.erofs and the sandbox's upper.ext4 as disks found by serial, `-v` host folders as
// virtio-fs shares, the runtime folder's sockets for the agent port and the NIC. Pure: every
// path comes from MsbPaths and the runtime layout, so the same record always gives the same spec.
import { join } from "node:path";
import type { BootMount, DiskVolumeMount } from "../agent/boot-config.ts";
import { UsageError } from "../errors.ts";
import { type GuestNetworkConfig, networkPlan } from "../network/plan.ts";
import { imageDir, type MsbPaths, sandboxDir } from "../paths.ts";
import { MIB, MIN_MEMORY_BYTES } from "../sandbox/parse-size.ts";
import type { BindMount, SandboxSpec } from "../sandbox/spec.ts";
import type { RuntimeLayout } from "../supervisor/runtime-dir.ts";
import {
  AGENT_PORT_NAME,
  LOWER_DISK_SERIAL,
  UPPER_DISK_SERIAL,
  type VmDisk,
  type VmShare,
  type VmSpec,
} from "./vm-spec.ts";

export interface VmSpecInput {
  paths: MsbPaths;
  /** `mounts`: the spec's, with named volumes resolved (volume/boot-mounts.ts). */
  spec: Pick<SandboxSpec, "name" | "manifestDigest" | "cpus" | "memoryBytes" | "network"> & {
    mounts: readonly BootMount[];
  };
  layout: Pick<RuntimeLayout, "agentSocket" | "netSocket" | "guestLog">;
  /**
   * The guest's eth0 as the running network engine sees it; its MAC must be the NIC's. Absent:
   * the MAC of the engine's fixed plan (slot 0), which is what startNetwork uses.
   */
  guestNetwork?: GuestNetworkConfig;
}

export function buildVmSpec(input: VmSpecInput): VmSpec {
  const { paths, spec, layout } = input;
  if (!Number.isInteger(spec.cpus) || spec.cpus < 1) {
    throw new UsageError(
      `CPU count ${spec.cpus} must be a whole number of at least 1`,
      "pass --cpus 1 or more",
    );
  }
  // VMMs take whole MiB; --memory is already rounded down to them.
  const memoryMib = Math.floor(spec.memoryBytes / MIB);
  if (!(spec.memoryBytes >= MIN_MEMORY_BYTES)) {
    throw new UsageError(
      `memory ${spec.memoryBytes} bytes is below the ${MIN_MEMORY_BYTES / MIB} MiB a sandbox needs`,
      `pass --memory ${MIN_MEMORY_BYTES / MIB}M or more`,
    );
  }
  return {
    version: 1,
    cpus: spec.cpus,
    memoryMib,
    consoleLog: layout.guestLog,
    disks: [
      {
        serial: LOWER_DISK_SERIAL,
        path: join(imageDir(paths, spec.manifestDigest), "rootfs.erofs"),
        readOnly: true,
      },
      { serial: UPPER_DISK_SERIAL, path: join(sandboxDir(paths, spec.name), "upper.ext4"), readOnly: false },
      ...volumeDisks(spec.mounts),
    ],
    shares: vmShares(spec.mounts),
    // null (--no-network) and absent (records from before networking: loopback only) give no NIC.
    network: spec.network
      ? { socket: layout.netSocket, mac: input.guestNetwork?.mac ?? networkPlan(0).guest.mac }
      : null,
    agentPort: { name: AGENT_PORT_NAME, socket: layout.agentSocket },
  };
}

/** The virtio-fs tag of the n-th bind mount: short (tags are at most 36 bytes) and stable. */
export function shareTag(bindIndex: number): string {
  return `msb-m${bindIndex}`;
}

/**
 * One disk per disk volume, in serial order (msb-vol-0, 1, ...), read-only only when every mount
 * of it in this sandbox is: the guest mounts the same device at each target.
 */
function volumeDisks(mounts: readonly BootMount[]): VmDisk[] {
  const byVolume = new Map<string, DiskVolumeMount[]>();
  for (const mount of mounts) {
    if (mount.kind === "disk") byVolume.set(mount.source, [...(byVolume.get(mount.source) ?? []), mount]);
  }
  return [...byVolume.values()].map((uses) => ({
    serial: uses[0]!.source,
    path: uses[0]!.image,
    readOnly: uses.every((use) => use.readonly),
  }));
}

/** Each bind mount becomes a share; tmpfs mounts need no device (the agent mounts them). */
export function vmShares(mounts: readonly BootMount[]): VmShare[] {
  return bindMounts(mounts).map((mount, index) => ({
    tag: shareTag(index),
    path: mount.source,
    readOnly: mount.readonly,
  }));
}

/**
 * The mounts as the guest agent sees them on the VM backend (boot config): a bind's source is
 * its share's tag instead of the host path. Same order and numbering as vmShares.
 */
export function guestMounts(mounts: readonly BootMount[]): BootMount[] {
  let bindIndex = 0;
  return mounts.map((mount) => (mount.kind === "bind" ? { ...mount, source: shareTag(bindIndex++) } : mount));
}

function bindMounts(mounts: readonly BootMount[]): BindMount[] {
  return mounts.filter((mount): mount is BindMount => mount.kind === "bind");
}
