// Carries out the steps of a mount plan (mount-plan.ts) before the pivot: guest paths are
// resolved inside the new root, missing mount points are created, image files are attached
// to loop devices, read-only binds are remounted read-only.
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  statSync,
  symlinkSync,
  unlinkSync,
} from "node:fs";
import { posix } from "node:path";
import { MsbError } from "../errors.ts";
import { attachLoopDevice } from "./loop-device.ts";
import type { MountFlag, PlanPath, RootStep } from "./mount-plan.ts";
import { resolveInRoot } from "./resolve-in-root.ts";
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REMOUNT, mount } from "./syscalls.ts";

const FLAG_BITS: Record<MountFlag, number> = {
  rdonly: MS_RDONLY,
  nosuid: MS_NOSUID,
  nodev: MS_NODEV,
  noexec: MS_NOEXEC,
};

export function mountFlags(flags: MountFlag[]): number {
  return flags.reduce((bits, flag) => bits | FLAG_BITS[flag], 0);
}

/** Runs one step; `root` is the host path of the new root (guest paths resolve under it). */
export function runMountStep(step: Exclude<RootStep, { kind: "pivot" }>, root: string): void {
  switch (step.kind) {
    case "mkdir":
      mkdirSync(step.path, { recursive: true, mode: step.mode });
      return;
    case "mount":
      mountFilesystem(step, root);
      return;
    case "bind":
      bindMount(step, root);
      return;
    case "symlink": {
      const path = hostPath(step.path, root, { keepLastLink: true });
      if (existsOrIsLink(path)) unlinkSync(path);
      symlinkSync(step.linkTarget, path);
      return;
    }
  }
}

function mountFilesystem(step: Extract<RootStep, { kind: "mount" }>, root: string): void {
  const target = hostPath(step.target, root);
  if (!existsSync(target)) mkdirSync(target, { recursive: true, mode: 0o755 });
  if (!step.loop) {
    mount(step.source, target, step.fstype, mountFlags(step.flags), step.data);
    return;
  }
  const device = attachLoopDevice(step.source, step.loop === "ro");
  try {
    mount(device.path, target, step.fstype, mountFlags(step.flags), step.data);
  } finally {
    device.close();
  }
}

function bindMount(step: Extract<RootStep, { kind: "bind" }>, root: string): void {
  const source = hostPath(step.source, root);
  const target = hostPath(step.target, root);
  let sourceIsDir: boolean;
  try {
    sourceIsDir = statSync(source).isDirectory();
  } catch {
    if (step.optional) return;
    throw new MsbError(`bind mount source ${describe(step.source)} does not exist`, {
      code: "notFound",
      hint: "create it on the host, or fix the volume's host path",
    });
  }
  if (!existsSync(target)) {
    if (step.optional) return;
    createMountPoint(target, sourceIsDir);
  }
  mount(source, target, null, MS_BIND, null);
  const extra = mountFlags(step.flags) | (step.readonly ? MS_RDONLY : 0);
  // A bind ignores every flag but MS_BIND: read-only and the others need a remount.
  if (extra !== 0) mount(null, target, null, MS_REMOUNT | MS_BIND | extra, null);
}

function createMountPoint(target: string, directory: boolean): void {
  if (directory) {
    mkdirSync(target, { recursive: true, mode: 0o755 });
    return;
  }
  mkdirSync(posix.dirname(target), { recursive: true, mode: 0o755 });
  closeSync(openSync(target, "a", 0o644));
}

function hostPath(path: PlanPath, root: string, options: { keepLastLink?: boolean } = {}): string {
  if ("host" in path) return path.host;
  if (!options.keepLastLink) return resolveInRoot(root, path.guest);
  const parent = resolveInRoot(root, posix.dirname(path.guest));
  return posix.join(parent, posix.basename(path.guest));
}

function existsOrIsLink(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function describe(path: PlanPath): string {
  return "host" in path ? path.host : `${path.guest} (in the sandbox)`;
}
