// Resolves a guest path to a host path under the new root as if the root were `/`: symlinks
// in the image are followed inside the root, never out of it. Without this, an image whose
// /data is a symlink to `/` would have a bind mount for /data land on the host's root (before
// the pivot, the agent still sees the host).
import { lstatSync, readlinkSync } from "node:fs";
import { MsbError } from "../errors.ts";

/** Symlink hops allowed while resolving one path (the kernel's own limit). */
const MAX_SYMLINK_HOPS = 40;

/** The link's target when `hostPath` is a symlink, otherwise (or when it does not exist) null. */
export type ReadLink = (hostPath: string) => string | null;

export function readLinkIfSymlink(hostPath: string): string | null {
  try {
    return lstatSync(hostPath).isSymbolicLink() ? readlinkSync(hostPath) : null;
  } catch {
    return null;
  }
}

export function resolveInRoot(
  root: string,
  guestPath: string,
  readLink: ReadLink = readLinkIfSymlink,
): string {
  const resolved: string[] = [];
  const pending = guestPath.split("/");
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const link = readLink(hostPathOf(root, [...resolved, part]));
    if (link === null) {
      resolved.push(part);
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) {
      throw new MsbError(`too many symlinks while resolving ${guestPath} in the sandbox root`);
    }
    if (link.startsWith("/")) resolved.length = 0;
    pending.unshift(...link.split("/"));
  }
  return hostPathOf(root, resolved);
}

function hostPathOf(root: string, parts: string[]): string {
  const base = root.endsWith("/") ? root.slice(0, -1) : root;
  return parts.length === 0 ? base || "/" : `${base}/${parts.join("/")}`;
}
