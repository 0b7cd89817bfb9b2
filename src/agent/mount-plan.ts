// The ordered steps that assemble a sandbox's root from its boot config: the image (erofs,
// read-only) under the sandbox's writable ext4 as one overlayfs, the kernel filesystems and
// devices inside it, the runtime folder at /.msb, the user's mounts, then the pivot. Pure data,
// so both backends' plans are checked by table tests; assemble-root.ts carries them out.
import { posix } from "node:path";
import type { AgentBootConfig, BootMount } from "./boot-config.ts";
import { validateMountTarget } from "./mount-target.ts";

export type MountFlag = "rdonly" | "nosuid" | "nodev" | "noexec";

/** A path on the host side (before the pivot), or inside the guest root, resolved without leaving it. */
export type PlanPath = { host: string } | { guest: string };

export type RootStep =
  /** mkdir -p on the host side. */
  | { kind: "mkdir"; path: string; mode: number }
  /**
   * A new filesystem. `loop` attaches the file `source` to a loop device first (namespace
   * backend). A missing guest target directory is created.
   */
  | {
      kind: "mount";
      fstype: string;
      source: string;
      target: PlanPath;
      flags: MountFlag[];
      data: string | null;
      loop?: "ro" | "rw";
    }
  /**
   * A bind mount, made read-only by a remount when asked. A missing guest target is created
   * like its source (directory or empty file); `optional` skips it when the source or the
   * target does not exist instead of failing.
   */
  | {
      kind: "bind";
      source: PlanPath;
      target: PlanPath;
      readonly: boolean;
      flags: MountFlag[];
      optional?: boolean;
    }
  | { kind: "symlink"; path: PlanPath; linkTarget: string }
  /** pivot_root into `newRoot`, then detach the old root. */
  | { kind: "pivot"; newRoot: string };

/** Host device nodes bound into the namespace backend's /dev (the VM gets devtmpfs). */
const DEVICE_NODES = ["null", "zero", "full", "random", "urandom", "tty"];

/** Host-affecting /proc files made read-only, and kernel internals hidden, on the namespace backend. */
const READONLY_PROC_PATHS = ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"];
const MASKED_PROC_PATHS = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"];

/** Where the root is assembled, relative to the runtime folder (only this sandbox's mount namespace sees it). */
const STAGE_DIR_NAME = ".stage";

const NO_EXEC: MountFlag[] = ["nosuid", "nodev", "noexec"];

export interface StageLayout {
  stage: string;
  lower: string;
  disk: string;
  root: string;
}

export function stageLayout(runtimeDir: string): StageLayout {
  const stage = posix.join(runtimeDir, STAGE_DIR_NAME);
  return { stage, lower: `${stage}/lower`, disk: `${stage}/disk`, root: `${stage}/root` };
}

export function planRootAssembly(config: AgentBootConfig): RootStep[] {
  const layout = stageLayout(config.runtimeDir);
  const onNamespace = config.backend === "namespace";
  const guestMounts = config.mounts.map((mount) => ({ ...mount, target: validateMountTarget(mount.target) }));
  return [
    { kind: "mkdir", path: layout.stage, mode: 0o700 },
    mount("tmpfs", "msb-stage", { host: layout.stage }, [], "mode=0700"),
    { kind: "mkdir", path: layout.lower, mode: 0o755 },
    { kind: "mkdir", path: layout.disk, mode: 0o755 },
    { kind: "mkdir", path: layout.root, mode: 0o755 },
    {
      ...mount("erofs", config.lowerDisk, { host: layout.lower }, ["rdonly"], null),
      ...(onNamespace ? { loop: "ro" as const } : {}),
    },
    {
      ...mount("ext4", config.upperDisk, { host: layout.disk }, [], null),
      ...(onNamespace ? { loop: "rw" as const } : {}),
    },
    { kind: "mkdir", path: `${layout.disk}/upper`, mode: 0o755 },
    { kind: "mkdir", path: `${layout.disk}/work`, mode: 0o700 },
    mount("overlay", "overlay", { host: layout.root }, [], overlayOptions(layout)),
    mount("proc", "proc", { guest: "/proc" }, NO_EXEC, null),
    ...(onNamespace ? procProtection() : []),
    mount("sysfs", "sysfs", { guest: "/sys" }, onNamespace ? ["rdonly", ...NO_EXEC] : NO_EXEC, null),
    ...devSteps(onNamespace),
    mount("tmpfs", "tmpfs", { guest: "/tmp" }, ["nosuid", "nodev"], "mode=1777"),
    {
      kind: "bind",
      source: { host: config.runtimeDir },
      target: { guest: "/.msb" },
      readonly: true,
      flags: ["nosuid", "nodev"],
    },
    ...guestMounts.map((spec) => userMountStep(spec, onNamespace)),
    { kind: "pivot", newRoot: layout.root },
  ];
}

function mount(
  fstype: string,
  source: string,
  target: PlanPath,
  flags: MountFlag[],
  data: string | null,
): Extract<RootStep, { kind: "mount" }> {
  return { kind: "mount", fstype, source, target, flags, data };
}

function procProtection(): RootStep[] {
  return [
    ...READONLY_PROC_PATHS.map(
      (path): RootStep => ({
        kind: "bind",
        source: { guest: path },
        target: { guest: path },
        readonly: true,
        flags: NO_EXEC,
        optional: true,
      }),
    ),
    ...MASKED_PROC_PATHS.map(
      (path): RootStep => ({
        kind: "bind",
        source: { host: "/dev/null" },
        target: { guest: path },
        readonly: true,
        flags: NO_EXEC,
        optional: true,
      }),
    ),
  ];
}

function devSteps(onNamespace: boolean): RootStep[] {
  const nodes: RootStep[] = onNamespace
    ? DEVICE_NODES.map((name) => ({
        kind: "bind",
        source: { host: `/dev/${name}` },
        target: { guest: `/dev/${name}` },
        readonly: false,
        flags: [],
      }))
    : [];
  const fdLinks: [string, string][] = [
    ["/dev/fd", "/proc/self/fd"],
    ["/dev/stdin", "/proc/self/fd/0"],
    ["/dev/stdout", "/proc/self/fd/1"],
    ["/dev/stderr", "/proc/self/fd/2"],
    ["/dev/ptmx", "pts/ptmx"],
  ];
  return [
    onNamespace
      ? mount("tmpfs", "tmpfs", { guest: "/dev" }, ["nosuid"], "mode=0755,size=65536k")
      : mount("devtmpfs", "devtmpfs", { guest: "/dev" }, ["nosuid"], "mode=0755"),
    ...nodes,
    mount(
      "devpts",
      "devpts",
      { guest: "/dev/pts" },
      ["nosuid", "noexec"],
      "newinstance,ptmxmode=0666,mode=0620,gid=5",
    ),
    mount("tmpfs", "shm", { guest: "/dev/shm" }, ["nosuid", "nodev"], "mode=1777"),
    ...fdLinks.map(
      ([path, linkTarget]): RootStep => ({ kind: "symlink", path: { guest: path }, linkTarget }),
    ),
  ];
}

function userMountStep(spec: BootMount, onNamespace: boolean): RootStep {
  if (spec.kind === "tmpfs") {
    const size = spec.sizeBytes === null ? "" : `,size=${spec.sizeBytes}`;
    return mount("tmpfs", "tmpfs", { guest: spec.target }, ["nosuid", "nodev"], `mode=1777${size}`);
  }
  // A VM mounts its disk volume's own virtio-blk disk; on the namespace backend the host has
  // mounted it once for every sandbox sharing it, and `source` is bound like a directory.
  if (spec.kind === "disk" && !onNamespace) {
    return mount("ext4", spec.source, { guest: spec.target }, spec.readonly ? ["rdonly"] : [], null);
  }
  if (onNamespace) {
    return {
      kind: "bind",
      source: { host: spec.source },
      target: { guest: spec.target },
      readonly: spec.readonly,
      flags: [],
    };
  }
  return mount("virtiofs", spec.source, { guest: spec.target }, spec.readonly ? ["rdonly"] : [], null);
}

/** overlayfs splits its options at commas and lowerdir at colons; a backslash escapes either. */
function overlayOptions(layout: StageLayout): string {
  const quote = (path: string) => path.replace(/[\\,:]/g, (char) => `\\${char}`);
  const upper = quote(`${layout.disk}/upper`);
  const work = quote(`${layout.disk}/work`);
  return `lowerdir=${quote(layout.lower)},upperdir=${upper},workdir=${work}`;
}
