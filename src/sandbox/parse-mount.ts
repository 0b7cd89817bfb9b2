// `-v SRC:DST[:ro|:rw]` and `--tmpfs PATH[:SIZE]`. A SRC that is a path (absolute, `./`, `../`,
// `~/`) is a host directory resolved now; a bare word is a named volume, returned as its own
// kind so the caller decides what to do with it.
import { statSync } from "node:fs";
import { isAbsolute, join, posix, resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { validateVolumeName } from "../volume/volume-options.ts";
import { isValidSandboxName } from "./names.ts";
import { MIN_TMPFS_BYTES, parseSize } from "./parse-size.ts";
import type { BindMount, NamedVolumeMount, TmpfsMount } from "./spec.ts";

export type VolumeMount = BindMount | NamedVolumeMount;

export interface HostPathContext {
  cwd: string;
  home: string;
}

/** Guest paths a mount must not hide: the kernel's filesystems and msb's own boot files. */
const RESERVED_GUEST_PATHS = ["/proc", "/sys", "/dev", "/.msb"];

export function parseVolume(spec: string, context: HostPathContext): VolumeMount {
  const parts = spec.split(":");
  const [source = "", target = "", mode] = parts;
  if (parts.length < 2 || parts.length > 3 || source === "" || target === "") {
    throw new UsageError(`invalid volume '${spec}': use -v SRC:DST[:ro|:rw], e.g. -v ./data:/data:ro`);
  }
  if (mode !== undefined && mode !== "ro" && mode !== "rw") {
    throw new UsageError(`invalid mode '${mode}' in volume '${spec}': use ro or rw, e.g. -v ./data:/data:ro`);
  }
  const guestPath = validateGuestPath(target, `volume '${spec}'`);
  const readonly = mode === "ro";
  if (!isHostPath(source)) {
    if (!isValidSandboxName(source)) {
      throw new UsageError(
        `invalid volume source '${source}' in '${spec}': host paths start with /, ./, ../ or ~/; volume names are letters, digits, '_', '.' and '-'`,
      );
    }
    return { kind: "volume", name: validateVolumeName(source), target: guestPath, readonly };
  }
  return {
    kind: "bind",
    source: resolveHostPath(source, context, `volume '${spec}'`),
    target: guestPath,
    readonly,
  };
}

export function parseTmpfs(spec: string): TmpfsMount {
  const colon = spec.indexOf(":");
  const path = colon < 0 ? spec : spec.slice(0, colon);
  const target = validateGuestPath(path, `--tmpfs '${spec}'`);
  const sizeBytes = colon < 0 ? null : parseSize(spec.slice(colon + 1), "--tmpfs", MIN_TMPFS_BYTES);
  return { kind: "tmpfs", target, sizeBytes };
}

/** A normalized absolute guest path that is not `/`, has no `..` and is not a reserved path. */
export function validateGuestPath(path: string, what: string): string {
  if (!path.startsWith("/")) {
    throw new UsageError(`guest path '${path}' in ${what} must be absolute, e.g. /data`);
  }
  if (path.split("/").includes("..")) {
    throw new UsageError(`guest path '${path}' in ${what} must not contain '..'`);
  }
  const normalized = posix.normalize(path).replace(/\/+$/, "");
  if (normalized === "") throw new UsageError(`${what} cannot mount over the guest's root directory /`);
  const reserved = RESERVED_GUEST_PATHS.find(
    (root) => normalized === root || normalized.startsWith(`${root}/`),
  );
  if (reserved) {
    throw new UsageError(`${what} cannot mount at ${normalized}: ${reserved} is reserved inside the sandbox`);
  }
  return normalized;
}

/** An existing host path, resolved against the working directory or the home directory. */
export function resolveHostPath(path: string, context: HostPathContext, what: string): string {
  const resolved =
    path === "~" || path.startsWith("~/") ? join(context.home, path.slice(1)) : resolve(context.cwd, path);
  try {
    statSync(resolved);
  } catch {
    throw new UsageError(`host path ${resolved} in ${what} does not exist`);
  }
  return resolved;
}

function isHostPath(source: string): boolean {
  return (
    isAbsolute(source) ||
    ["./", "../", "~/"].some((prefix) => source.startsWith(prefix)) ||
    [".", "..", "~"].includes(source)
  );
}
