// What the supervisor tells the agent at boot, written as JSON into the sandbox's runtime
// folder (visible to the agent as /.msb/boot.json on both backends). Backend-neutral: on the
// namespace backend the disks are image files to loop-mount; on the VM backend they are block
// devices (/dev/vda, /dev/vdb) and host folders are virtio-fs tags.
import type { GuestNetworkConfig } from "../network/plan.ts";
import type { BindMount, IsolationBackend, ScriptSpec, TmpfsMount } from "../sandbox/spec.ts";

/**
 * A disk volume (a named volume with a quota): an ext4 image on the host. On the namespace
 * backend the supervisor has mounted it on the host, shared by every sandbox using it, and the
 * agent binds `source`; on the vm backend the image is a virtio-blk disk and the agent mounts
 * the ext4 on the disk whose serial is `source` (msb-vol-N, see volume/boot-mounts.ts).
 */
export interface DiskVolumeMount {
  kind: "disk";
  volume: string;
  /** The ext4 image on the host (what the VM attaches). */
  image: string;
  /** namespace: the host directory the image is mounted on; vm: the virtio-blk disk's serial. */
  source: string;
  target: string;
  readonly: boolean;
}

/**
 * The mounts the agent makes, named volumes resolved: a directory volume is a bind of its
 * host folder (namespace: the path; vm: a virtio-fs tag in `source`), a disk volume a DiskVolumeMount.
 */
export type BootMount = BindMount | TmpfsMount | DiskVolumeMount;

export interface AgentBootConfig {
  version: 1;
  backend: IsolationBackend;
  hostname: string;
  /** Read-only image root: rootfs.erofs (namespace) or its disk's virtio-blk serial (vm). */
  lowerDisk: string;
  /** Writable ext4 holding `upper/` and `work/` for overlayfs: a file (namespace) or a serial (vm). */
  upperDisk: string;
  /** Where the runtime folder is reachable before the pivot; mounted at /.msb after it. */
  runtimeDir: string;
  /**
   * Unix socket the agent connects to (namespace: a host path bound into the sandbox); on the
   * VM backend the name of the virtio-console port that carries the channel.
   */
  agentSocket: string;
  /** Base environment of every exec session (image Env + -e). */
  env: string[];
  workdir: string | null;
  user: string | null;
  /** Bind mounts (namespace: host paths; vm: virtio-fs tags in `source`), tmpfs and disk volumes. */
  mounts: BootMount[];
  /** Grace period between SIGTERM and SIGKILL at shutdown. */
  shutdownGraceMs: number;
  /**
   * The guest's eth0, joined to the supervisor's network engine: at <runtimeDir>/net.sock through
   * a TAP relay (namespace), or as the VM's virtio-net NIC. Absent or null: the sandbox has only `lo`.
   */
  network?: GuestNetworkConfig | null;
  /** The TLS interception CA (PEM) the agent adds to the guest's trust stores; absent: none. */
  caCertPem?: string;
  /**
   * The sandbox's scripts, for the agent to write into <runtimeDir>/scripts (VM backend: the
   * guest has no runtime folder shared with the host). Absent: the folder already has them.
   */
  scripts?: ScriptSpec[];
}
