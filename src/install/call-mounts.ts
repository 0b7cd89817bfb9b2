// What one call of an installed shim mounts, so a script and relative paths behave as on the
// host: the working directory at its own path (and as the guest's working directory), and the
// directory of the script argument (the first argument that is an existing file), both
// read-only unless the install said --writable. A directory that would hide the guest's own
// system files (/usr, /etc, /tmp itself, ...) is not mounted: a script there is mounted alone.
// Pure: the file system is seen through `HostProbe`.
import { dirname, resolve } from "node:path";
import type { BindMount } from "../sandbox/spec.ts";

export interface HostProbe {
  isFile(path: string): boolean;
  /** The path with symlinks resolved (the mount source). */
  realpath(path: string): string;
}

export interface CallContext {
  cwd: string;
  /** The shim's arguments, as the caller gave them. */
  args: string[];
  writable: boolean;
  /** Guest paths the install's own -v/--tmpfs already use: theirs win. */
  takenTargets: string[];
}

export interface CallPlan {
  mounts: BindMount[];
  /** The guest working directory (the host's, when it is mounted), or null for the image's. */
  workdir: string | null;
  /** The arguments for the guest: a relative script path made absolute when cwd is not mounted. */
  args: string[];
}

/** Trees the guest's programs live in: a host directory on or under them would break the image. */
const SYSTEM_TREES = [
  "/usr",
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/etc",
  "/boot",
  "/proc",
  "/sys",
  "/dev",
  "/run",
  "/.msb",
];
/** Top-level directories the guest needs as its own, though their subdirectories are fair game. */
const SHARED_TOP_LEVEL = ["/", "/tmp", "/var", "/opt", "/srv", "/home", "/mnt", "/media"];

/** Whether a host directory may be mounted at its own path in the guest. */
export function isMountablePath(path: string): boolean {
  if (SHARED_TOP_LEVEL.includes(path)) return false;
  // `-v SRC:DST` cannot carry a path with a colon.
  if (path.includes(":")) return false;
  return !SYSTEM_TREES.some((tree) => path === tree || path.startsWith(`${tree}/`));
}

export function planCallMounts(context: CallContext, probe: HostProbe): CallPlan {
  const readonly = !context.writable;
  const taken = (target: string) =>
    context.takenTargets.some((used) => target === used || target.startsWith(`${used}/`));
  const bind = (path: string): BindMount => ({
    kind: "bind",
    source: probe.realpath(path),
    target: path,
    readonly,
  });
  const covers = (mount: BindMount, path: string) =>
    path === mount.target || path.startsWith(`${mount.target}/`);

  const mounts: BindMount[] = [];
  const cwd = context.cwd;
  if (isMountablePath(cwd) && !taken(cwd)) mounts.push(bind(cwd));
  const args = [...context.args];
  const index = args.findIndex((arg) => !arg.startsWith("-") && probe.isFile(resolve(cwd, arg)));
  const scriptArg = index < 0 ? undefined : args[index];
  if (scriptArg !== undefined) {
    const script = resolve(cwd, scriptArg);
    const dir = dirname(script);
    if (!mounts.some((mount) => covers(mount, script)) && !taken(script)) {
      if (isMountablePath(dir) && !taken(dir)) {
        // The script's directory contains the working directory: one mount serves both.
        const inner = mounts.findIndex((mount) => covers(bind(dir), mount.target));
        if (inner >= 0) mounts.splice(inner, 1);
        mounts.push(bind(dir));
      } else {
        mounts.push(bind(script));
      }
    }
  }
  const cwdMounted = mounts.some((mount) => covers(mount, cwd));
  if (!cwdMounted && scriptArg !== undefined && !scriptArg.startsWith("/")) {
    args[index] = resolve(cwd, scriptArg);
  }
  return { mounts, workdir: cwdMounted ? cwd : null, args };
}

/** `-v` text of a bind mount (sources and targets never hold ':' here: isMountablePath). */
export function volumeFlag(mount: BindMount): string {
  return `${mount.source}:${mount.target}:${mount.readonly ? "ro" : "rw"}`;
}

/** Whether a sandbox's mounts already give what this call needs (same source, target, mode). */
export function mountsCover(existing: BindMount[], needed: BindMount[]): boolean {
  return needed.every((need) =>
    existing.some((have) => {
      if (have.readonly !== need.readonly) return false;
      if (need.target === have.target) return need.source === have.source;
      if (!need.target.startsWith(`${have.target}/`)) return false;
      return need.source === have.source + need.target.slice(have.target.length);
    }),
  );
}
