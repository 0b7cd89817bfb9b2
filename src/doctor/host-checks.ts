// Checks for the namespace backend (root, loop devices, erofs and overlayfs in the kernel) and
// for both backends (mkfs.ext4 for the sandbox's upper disk, free space in MSB_HOME).
import { dirname } from "node:path";
import { formatSize } from "../ui/format.ts";
import type { DoctorCheck, DoctorProbe } from "./types.ts";

export const LOW_DISK_BYTES = 2 * 1024 ** 3;

export function checkRoot(probe: DoctorProbe): DoctorCheck {
  const base = { id: "root", label: "root", required: "namespace" } as const;
  const uid = probe.uid();
  if (uid === 0) return { ...base, ok: true, detail: "running as root" };
  return {
    ...base,
    ok: false,
    detail: `running as uid ${uid}; the namespace backend needs root`,
    fix: "run msb as root (sudo msb ...) to use --isolation namespace",
  };
}

export function checkLoopDevices(probe: DoctorProbe): DoctorCheck {
  const base = { id: "loop", label: "loop devices", required: "namespace" } as const;
  if (probe.exists("/dev/loop-control")) return { ...base, ok: true, detail: "/dev/loop-control present" };
  return {
    ...base,
    ok: false,
    detail: "/dev/loop-control does not exist",
    fix: "modprobe loop (in a container, run it with access to the host's loop devices)",
  };
}

/** `name` in /proc/filesystems, or a module the kernel can autoload on first mount. */
export function checkFilesystem(probe: DoctorProbe, name: "erofs" | "overlay"): DoctorCheck {
  const base = { id: name, label: `${name} filesystem`, required: "namespace" } as const;
  const registered = (probe.readText("/proc/filesystems") ?? "")
    .split("\n")
    .some((line) => line.split("\t").at(-1)?.trim() === name);
  if (registered) return { ...base, ok: true, detail: "supported by the kernel" };
  if (probe.kernelModuleAvailable(name)) {
    return { ...base, ok: true, detail: `loadable (kernel module ${name}, loads on first mount)` };
  }
  const config = name === "erofs" ? "CONFIG_EROFS_FS (Linux ≥5.4)" : "CONFIG_OVERLAY_FS";
  return {
    ...base,
    ok: false,
    detail: `not in /proc/filesystems and no ${name} module for this kernel`,
    fix: `modprobe ${name}, or use a kernel built with ${config}`,
  };
}

export function checkMkfsExt4(probe: DoctorProbe): DoctorCheck {
  const base = { id: "mkfs-ext4", label: "mkfs.ext4", required: "all" } as const;
  const found = probe.findExecutable("mkfs.ext4");
  if (found === undefined) {
    return {
      ...base,
      ok: false,
      detail: "mkfs.ext4 not found (formats each sandbox's writable disk)",
      fix: "apt-get install e2fsprogs (dnf install e2fsprogs)",
    };
  }
  return { ...base, ok: true, detail: found.onPath ? found.path : `${found.path} (not on PATH)` };
}

export function checkFreeDisk(probe: DoctorProbe, home: string): DoctorCheck {
  const base = { id: "disk", label: "free disk", required: "all", ok: true } as const;
  const measured = nearestExisting(probe, home);
  const free = probe.freeBytes(measured);
  const where = measured === home ? home : `${measured} (for ${home})`;
  if (free === undefined) return { ...base, warning: true, detail: `cannot measure free space in ${where}` };
  if (free >= LOW_DISK_BYTES) return { ...base, detail: `${formatSize(free)} free in ${where}` };
  return {
    ...base,
    warning: true,
    detail: `only ${formatSize(free)} free in ${where}; images and sandbox disks need more`,
    fix: `free some space (${formatSize(LOW_DISK_BYTES)} or more) or set MSB_HOME to a larger filesystem`,
  };
}

/** MSB_HOME may not exist yet: measure the filesystem it will be created on. */
function nearestExisting(probe: DoctorProbe, path: string): string {
  let current = path;
  while (!probe.exists(current) && dirname(current) !== current) current = dirname(current);
  return current;
}
