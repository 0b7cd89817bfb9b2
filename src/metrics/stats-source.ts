// Where a sandbox's agent finds its resource figures, and reading them. A VM guest has its own
// kernel: /proc/stat, /proc/meminfo and /proc/diskstats describe exactly the sandbox. On the
// namespace backend the agent shares the host kernel, so it reads its own cgroup instead (v2,
// or the v1 hierarchies it was placed in); a v1 controller the backend did not place it in
// (cpuacct, blkio) would describe the whole host, so CPU and disk then come from summing the
// processes of its pid namespace, which include the time and I/O of children they waited for.
import { posix } from "node:path";
import type { IsolationBackend } from "../sandbox/spec.ts";
import {
  memoryInUse,
  parseBlkioServiceBytes,
  parseCpuacctUsageUsec,
  parseCpuStatUsageUsec,
  parseIoStat,
  parseMemoryLimit,
} from "./cgroup-files.ts";
import {
  parseDiskstats,
  parseMeminfo,
  parseProcessCpuUsec,
  parseProcessIo,
  parseProcStatBusyUsec,
} from "./proc-files.ts";

export type CpuSource =
  | { from: "proc-stat" }
  | { from: "cgroup"; file: string; unit: "usage_usec" | "cpuacct" }
  | { from: "processes" };
export type MemorySource =
  | { from: "meminfo" }
  | { from: "cgroup"; usage: string; stat: string; limit: string; inactiveKey: string }
  | { from: "none" };
export type DiskSource =
  | { from: "diskstats" }
  | { from: "cgroup"; file: string; format: "io.stat" | "blkio" }
  | { from: "processes" };

export interface StatsSource {
  /** Short description for `--format json` and debugging, e.g. `cgroup1+processes`. */
  label: string;
  cpu: CpuSource;
  memory: MemorySource;
  disk: DiskSource;
}

/** What the agent sees of the host when it starts (before it pivots into the sandbox root). */
export interface SourceProbe {
  backend: IsolationBackend;
  /** /proc/self/cgroup */
  procSelfCgroup: string;
  /** /proc/self/mountinfo */
  mountInfo: string;
  exists(path: string): boolean;
}

/** Cumulative counters at one moment; CPU % is the difference of two (see guest-sampler.ts). */
export interface GuestCounters {
  cpuUsec: number | null;
  memoryBytes: number | null;
  memoryLimitBytes: number | null;
  diskReadBytes: number | null;
  diskWriteBytes: number | null;
}

/** Reads the files a source names; null when one is missing or unreadable. */
export interface GuestFiles {
  read(path: string): string | null;
  /** Pids listed in the sandbox's /proc. */
  pids(): number[];
}

const VM_DISK = /^vd[a-z]+$/;

export const VM_SOURCE: StatsSource = {
  label: "vm",
  cpu: { from: "proc-stat" },
  memory: { from: "meminfo" },
  disk: { from: "diskstats" },
};

export function planStatsSource(probe: SourceProbe): StatsSource {
  if (probe.backend === "vm") return VM_SOURCE;
  const memberships = parseProcSelfCgroup(probe.procSelfCgroup);
  const mounts = parseCgroupMounts(probe.mountInfo);
  const v1Dir = (controller: string) => {
    const path = memberships.find((entry) => entry.controllers.includes(controller))?.path;
    const mount = mounts.find(
      (entry) => entry.fstype === "cgroup" && entry.superOptions.includes(controller),
    );
    return path === undefined || mount === undefined ? null : { path, dir: mountedDir(mount, path) };
  };
  const memory = v1Dir("memory");
  if (memory?.dir && probe.exists(`${memory.dir}/memory.usage_in_bytes`)) {
    // Only a controller whose cgroup is the one the backend made (the memory one) is the sandbox's.
    const own = (controller: string, file: string) => {
      const found = v1Dir(controller);
      return found?.dir && found.path === memory.path && probe.exists(`${found.dir}/${file}`)
        ? `${found.dir}/${file}`
        : null;
    };
    const cpuacct = own("cpuacct", "cpuacct.usage");
    const blkio = own("blkio", "blkio.throttle.io_service_bytes_recursive");
    return {
      label: `cgroup1${cpuacct && blkio ? "" : "+processes"}`,
      cpu: cpuacct ? { from: "cgroup", file: cpuacct, unit: "cpuacct" } : { from: "processes" },
      memory: {
        from: "cgroup",
        usage: `${memory.dir}/memory.usage_in_bytes`,
        stat: `${memory.dir}/memory.stat`,
        limit: `${memory.dir}/memory.limit_in_bytes`,
        inactiveKey: "total_inactive_file",
      },
      disk: blkio ? { from: "cgroup", file: blkio, format: "blkio" } : { from: "processes" },
    };
  }
  const unifiedPath = memberships.find((entry) => entry.hierarchy === "0")?.path;
  const unified = mounts.find((entry) => entry.fstype === "cgroup2");
  const dir = unifiedPath === undefined || unified === undefined ? null : mountedDir(unified, unifiedPath);
  if (dir && probe.exists(`${dir}/memory.current`)) {
    const ioStat = probe.exists(`${dir}/io.stat`);
    return {
      label: `cgroup2${ioStat ? "" : "+processes"}`,
      cpu: { from: "cgroup", file: `${dir}/cpu.stat`, unit: "usage_usec" },
      memory: {
        from: "cgroup",
        usage: `${dir}/memory.current`,
        stat: `${dir}/memory.stat`,
        limit: `${dir}/memory.max`,
        inactiveKey: "inactive_file",
      },
      disk: ioStat ? { from: "cgroup", file: `${dir}/io.stat`, format: "io.stat" } : { from: "processes" },
    };
  }
  return {
    label: "processes",
    cpu: { from: "processes" },
    memory: { from: "none" },
    disk: { from: "processes" },
  };
}

/** Every file a source reads by path, so the agent can open them before it leaves the host's tree. */
export function sourceFiles(source: StatsSource): string[] {
  const files: string[] = [];
  if (source.cpu.from === "cgroup") files.push(source.cpu.file);
  if (source.memory.from === "cgroup")
    files.push(source.memory.usage, source.memory.stat, source.memory.limit);
  if (source.disk.from === "cgroup") files.push(source.disk.file);
  return files;
}

export function readCounters(source: StatsSource, files: GuestFiles): GuestCounters {
  const processes =
    source.cpu.from === "processes" || source.disk.from === "processes" ? sumProcesses(files) : null;
  const memory = readMemory(source.memory, files);
  const disk = readDisk(source.disk, files, processes);
  return {
    cpuUsec: readCpu(source.cpu, files, processes),
    memoryBytes: memory?.usedBytes ?? null,
    memoryLimitBytes: memory?.limitBytes ?? null,
    diskReadBytes: disk?.readBytes ?? null,
    diskWriteBytes: disk?.writeBytes ?? null,
  };
}

interface ProcessTotals {
  cpuUsec: number;
  readBytes: number;
  writeBytes: number;
}

function readCpu(source: CpuSource, files: GuestFiles, processes: ProcessTotals | null): number | null {
  if (source.from === "processes") return processes?.cpuUsec ?? null;
  const text = files.read(source.from === "proc-stat" ? "/proc/stat" : source.file);
  if (text === null) return null;
  if (source.from === "proc-stat") return parseProcStatBusyUsec(text);
  return source.unit === "usage_usec" ? parseCpuStatUsageUsec(text) : parseCpuacctUsageUsec(text);
}

function readMemory(
  source: MemorySource,
  files: GuestFiles,
): { usedBytes: number | null; limitBytes: number | null } | null {
  if (source.from === "none") return null;
  if (source.from === "meminfo") {
    const meminfo = parseMeminfo(files.read("/proc/meminfo") ?? "");
    return meminfo && { usedBytes: meminfo.usedBytes, limitBytes: meminfo.totalBytes };
  }
  const usage = files.read(source.usage);
  const limit = files.read(source.limit);
  return {
    usedBytes: usage === null ? null : memoryInUse(usage, files.read(source.stat), source.inactiveKey),
    limitBytes: limit === null ? null : parseMemoryLimit(limit),
  };
}

function readDisk(source: DiskSource, files: GuestFiles, processes: ProcessTotals | null) {
  if (source.from === "processes") return processes;
  if (source.from === "diskstats") {
    const text = files.read("/proc/diskstats");
    return text === null ? null : parseDiskstats(text, VM_DISK);
  }
  const text = files.read(source.file);
  if (text === null) return null;
  return source.format === "io.stat" ? parseIoStat(text) : parseBlkioServiceBytes(text);
}

/** A process that exits between the listing and the read simply drops out of the sum. */
function sumProcesses(files: GuestFiles): ProcessTotals {
  const totals = { cpuUsec: 0, readBytes: 0, writeBytes: 0 };
  for (const pid of files.pids()) {
    const stat = files.read(`/proc/${pid}/stat`);
    const cpu = stat === null ? null : parseProcessCpuUsec(stat);
    if (cpu !== null) totals.cpuUsec += cpu;
    const ioText = files.read(`/proc/${pid}/io`);
    const io = ioText === null ? null : parseProcessIo(ioText);
    if (io !== null) {
      totals.readBytes += io.readBytes;
      totals.writeBytes += io.writeBytes;
    }
  }
  return totals;
}

interface CgroupMembership {
  hierarchy: string;
  controllers: string[];
  path: string;
}

/** `4:memory:/msb/abc`, `2:cpu,cpuacct:/msb/abc`, `0::/msb/abc` (v2). */
function parseProcSelfCgroup(text: string): CgroupMembership[] {
  const entries: CgroupMembership[] = [];
  for (const line of text.split("\n")) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (match) entries.push({ hierarchy: match[1]!, controllers: match[2]!.split(","), path: match[3]! });
  }
  return entries;
}

interface CgroupMount {
  root: string;
  mountpoint: string;
  fstype: string;
  superOptions: string[];
}

function parseCgroupMounts(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split("\n")) {
    const [left, right] = line.split(" - ");
    const fields = left?.split(" ") ?? [];
    const [fstype, , options] = right?.split(" ") ?? [];
    const root = fields[3];
    const mountpoint = fields[4];
    if (root === undefined || mountpoint === undefined || (fstype !== "cgroup" && fstype !== "cgroup2"))
      continue;
    mounts.push({
      root: unescapeMountField(root),
      mountpoint: unescapeMountField(mountpoint),
      fstype,
      superOptions: (options ?? "").split(","),
    });
  }
  return mounts;
}

/** The directory of cgroup `path` under a mount of its hierarchy; null when the mount does not reach it. */
function mountedDir(mount: CgroupMount, path: string): string | null {
  const relative = posix.relative(mount.root, path);
  if (relative.startsWith("..")) return null;
  return relative === "" ? mount.mountpoint : posix.join(mount.mountpoint, relative);
}

/** The kernel writes space, tab, newline and backslash in mount fields as octal escapes. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}
