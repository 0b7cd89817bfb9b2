// The real DoctorProbe: reads this host's devices, /proc, /lib/modules, PATH and libraries.
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, statfsSync } from "node:fs";
import { release } from "node:os";
import { delimiter, join } from "node:path";
import { probeLibkrun, probeLibkrunfw } from "./library-probe.ts";
import type { DoctorProbe, ExecutableLocation } from "./types.ts";

const SBIN_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

export function hostProbe(env: Record<string, string | undefined> = process.env): DoctorProbe {
  return {
    uid: () => process.getuid?.() ?? -1,
    exists: existsSync,
    openReadWrite,
    readText,
    kernelModuleAvailable,
    findExecutable: (name) => findExecutable(name, env.PATH ?? ""),
    freeBytes,
    libkrun: (libDir) => probeLibkrun(libDir, env),
    libkrunfw: (libDir) => probeLibkrunfw(libDir, env),
  };
}

function openReadWrite(path: string): string | undefined {
  try {
    closeSync(openSync(path, constants.O_RDWR));
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? "EIO";
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Listed in modules.dep (loadable, possibly compressed .ko) or modules.builtin of this kernel. */
function kernelModuleAvailable(name: string): boolean {
  const dir = join("/lib/modules", release());
  const pattern = new RegExp(`(^|/)${name}\\.ko(\\.(xz|gz|zst))?:?(\\s|$)`, "m");
  return ["modules.dep", "modules.builtin"].some((file) => pattern.test(readText(join(dir, file)) ?? ""));
}

/** PATH first, then the sbin directories a non-root PATH often leaves out. */
function findExecutable(name: string, pathVariable: string): ExecutableLocation | undefined {
  const onPath = pathVariable.split(delimiter).filter((dir) => dir !== "");
  for (const dir of [...onPath, ...SBIN_DIRS]) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return { path: candidate, onPath: onPath.includes(dir) };
    } catch {}
  }
  return undefined;
}

function freeBytes(path: string): number | undefined {
  try {
    const stats = statfsSync(path);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}
