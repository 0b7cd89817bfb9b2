// Which cgroup hierarchy holds the memory and cpu controllers on this host (v1, v2, or the
// hybrid layout where v1 owns the controllers and an empty v2 sits at /sys/fs/cgroup/unified),
// and which files to write to limit a namespace sandbox. Pure: the host's mount table and the
// v2 controller list come in as text, so every layout is testable.
import { posix } from "node:path";
import { MsbError } from "../errors.ts";

export type CgroupController = "memory" | "cpu";

const CONTROLLERS: CgroupController[] = ["memory", "cpu"];

/** CFS period: 100 ms, the kernel's default; the quota is `cpus` periods' worth. */
export const CPU_PERIOD_US = 100_000;
/** The smallest quota the kernel accepts is 1 ms. */
const MIN_CPU_QUOTA_US = 1000;

export interface CgroupHostView {
  /** /proc/self/mountinfo */
  mountInfo: string;
  /** cgroup.controllers at the root of the cgroup2 mount at `mountpoint`, or null. */
  v2Controllers(mountpoint: string): string | null;
}

export type CgroupLayout =
  /** Per controller: the mount point of its v1 hierarchy. */
  { version: 1; mounts: Record<CgroupController, string> } | { version: 2; mount: string };

export interface CgroupLimits {
  cpus: number;
  memoryBytes: number;
}

export interface CgroupWrite {
  path: string;
  value: string;
  /** Skip when the file does not exist (e.g. memory.swap.max without swap accounting). */
  optional?: boolean;
}

export interface CgroupPlan {
  version: 1 | 2;
  /** The sandbox's cgroup directories (one per v1 hierarchy, one on v2). */
  dirs: string[];
  /** In order: controller enables (v2), then limits. */
  writes: CgroupWrite[];
  /** Where the sandbox's first process writes its pid. */
  procsFiles: string[];
}

export function detectCgroupLayout(view: CgroupHostView): CgroupLayout {
  const mounts = parseMountInfo(view.mountInfo);
  const v1 = new Map<CgroupController, string>();
  for (const mount of mounts.filter((entry) => entry.fstype === "cgroup")) {
    for (const controller of CONTROLLERS) {
      if (mount.superOptions.includes(controller) && !v1.has(controller))
        v1.set(controller, mount.mountpoint);
    }
  }
  if (v1.size > 0) {
    const missing = CONTROLLERS.filter((controller) => !v1.has(controller));
    if (missing.length > 0)
      throw unavailable(`the cgroup v1 ${missing.join(" and ")} controller is not mounted`);
    return { version: 1, mounts: { memory: v1.get("memory") as string, cpu: v1.get("cpu") as string } };
  }
  const v2Mounts = mounts.filter((entry) => entry.fstype === "cgroup2").map((entry) => entry.mountpoint);
  v2Mounts.sort((a, b) => Number(b === "/sys/fs/cgroup") - Number(a === "/sys/fs/cgroup"));
  for (const mount of v2Mounts) {
    const available = (view.v2Controllers(mount) ?? "").trim().split(/\s+/);
    if (CONTROLLERS.every((controller) => available.includes(controller))) return { version: 2, mount };
  }
  throw unavailable("no cgroup hierarchy offers the memory and cpu controllers");
}

export function planCgroup(layout: CgroupLayout, name: string, limits: CgroupLimits): CgroupPlan {
  checkLimits(limits);
  const dirs = cgroupDirs(layout, name);
  const quota = String(Math.max(MIN_CPU_QUOTA_US, Math.round(limits.cpus * CPU_PERIOD_US)));
  const memory = String(Math.floor(limits.memoryBytes));
  if (layout.version === 1) {
    const [memoryDir, cpuDir = memoryDir] = dirs as [string, string?];
    return {
      version: 1,
      dirs,
      writes: [
        { path: `${memoryDir}/memory.limit_in_bytes`, value: memory },
        // With swap accounting, memory+swap gets the same limit: no swapping past it, as on v2.
        { path: `${memoryDir}/memory.memsw.limit_in_bytes`, value: memory, optional: true },
        { path: `${cpuDir}/cpu.cfs_period_us`, value: String(CPU_PERIOD_US) },
        { path: `${cpuDir}/cpu.cfs_quota_us`, value: quota },
      ],
      procsFiles: dirs.map((dir) => `${dir}/cgroup.procs`),
    };
  }
  const parent = posix.join(layout.mount, "msb");
  const [dir] = dirs as [string];
  return {
    version: 2,
    dirs: [dir],
    writes: [
      { path: `${layout.mount}/cgroup.subtree_control`, value: "+memory +cpu" },
      { path: `${parent}/cgroup.subtree_control`, value: "+memory +cpu" },
      { path: `${dir}/memory.max`, value: memory },
      { path: `${dir}/memory.swap.max`, value: "0", optional: true },
      { path: `${dir}/cpu.max`, value: `${quota} ${CPU_PERIOD_US}` },
    ],
    procsFiles: [`${dir}/cgroup.procs`],
  };
}

/**
 * The sandbox's cgroup directories: memory's then cpu's on v1 (one when co-mounted), one on
 * v2. Always `msb/<name>` at the top of the hierarchy, never below the caller's own cgroup:
 * any later msb process (whatever session it runs in) must find it by name to clean it up, and
 * v2 allows no controllers below a cgroup that holds processes.
 */
export function cgroupDirs(layout: CgroupLayout, name: string): string[] {
  checkName(name);
  if (layout.version === 2) return [posix.join(layout.mount, "msb", name)];
  const memoryDir = posix.join(layout.mounts.memory, "msb", name);
  const cpuDir = posix.join(layout.mounts.cpu, "msb", name);
  return memoryDir === cpuDir ? [memoryDir] : [memoryDir, cpuDir];
}

interface MountEntry {
  mountpoint: string;
  fstype: string;
  superOptions: string[];
}

/** `36 35 0:30 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory` */
function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const [left, right] = line.split(" - ");
    const mountpoint = left?.split(" ")[4];
    const [fstype, , superOptions] = right?.split(" ") ?? [];
    if (!mountpoint || !fstype || superOptions === undefined) continue;
    entries.push({
      mountpoint: unescapeMountField(mountpoint),
      fstype,
      superOptions: superOptions.split(","),
    });
  }
  return entries;
}

/** The kernel writes space, tab, newline and backslash in mount fields as octal escapes. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    throw new MsbError(`invalid cgroup name ${JSON.stringify(name)}`, {
      hint: "use letters, digits, '.', '_' and '-', starting with a letter or digit",
    });
  }
}

function checkLimits(limits: CgroupLimits): void {
  if (!Number.isFinite(limits.cpus) || limits.cpus <= 0) {
    throw new MsbError(`invalid CPU limit ${limits.cpus}`, {
      code: "usage",
      hint: "give a positive number of CPUs, e.g. 1 or 0.5",
    });
  }
  if (!Number.isFinite(limits.memoryBytes) || limits.memoryBytes < 1) {
    throw new MsbError(`invalid memory limit ${limits.memoryBytes}`, {
      code: "usage",
      hint: "give a positive size, e.g. 512M",
    });
  }
}

function unavailable(message: string): MsbError {
  return new MsbError(message, {
    code: "unavailable",
    hint: "the namespace backend limits memory and CPU with cgroups; mount the memory and cpu controllers (v1) or cgroup2",
  });
}
