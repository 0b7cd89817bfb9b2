// What the supervisor tells the agent at boot, written as JSON into the sandbox's runtime
// folder (visible to the agent as /.msb/boot.json on both backends). Backend-neutral: on the
// namespace backend the disks are image files to loop-mount; on the VM backend they are block
// devices (/dev/vda, /dev/vdb) and host folders are virtio-fs tags.
import type { GuestNetworkConfig } from "../network/plan.ts";
import type { IsolationBackend, MountSpec, ScriptSpec } from "../sandbox/spec.ts";

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
  /** Bind mounts (namespace: host paths; vm: virtio-fs tags in `source`) and tmpfs. */
  mounts: MountSpec[];
  /** Grace period between SIGTERM and SIGKILL at shutdown. */
  shutdownGraceMs: number;
  /**
   * The guest's eth0, joined to the supervisor's network engine: at <runtimeDir>/net.sock through
   * a TAP relay (namespace), or as the VM's virtio-net NIC. Absent or null: the sandbox has only `lo`.
   */
  network?: GuestNetworkConfig | null;
  /**
   * The sandbox's scripts, for the agent to write into <runtimeDir>/scripts (VM backend: the
   * guest has no runtime folder shared with the host). Absent: the folder already has them.
   */
  scripts?: ScriptSpec[];
}
