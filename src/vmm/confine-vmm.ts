// Carries out a VmmConfinementPlan (confine-plan.ts says why and what) in the running vmm, which
// the supervisor started in a mount namespace of its own. Bun's threads share one fs_struct, so
// the pivot_root and chroot done here move every thread, libkrun's later ones included. Each step
// that fails names itself and its path; the vmm then exits VMM_START_FAILED.
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readlinkSync,
  rmdirSync,
  statSync,
} from "node:fs";
import { dirname } from "node:path";
import {
  changeDirectoryTo,
  chroot,
  MNT_DETACH,
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  mount,
  pivotRoot,
  unmount,
} from "../agent/syscalls.ts";
import { MsbError } from "../errors.ts";
import type { ConfineBind, VmmConfinementPlan } from "./confine-plan.ts";

/** Whether this vmm confines itself: only root can make the namespace (and only root needs it). */
export function vmmConfines(): boolean {
  return process.getuid?.() === 0;
}

/** util-linux unshare for the supervisor to start a confining vmm with; null when it does not confine. */
export function vmmUnshare(): string | null {
  if (!vmmConfines()) return null;
  const unshare = Bun.which("unshare", { PATH: `${process.env.PATH ?? ""}:/usr/bin:/bin` });
  if (unshare === null) {
    throw new MsbError("unshare not found: the libkrun VMM gets its own mount namespace from it", {
      code: "unavailable",
      hint: "install util-linux (apt-get install util-linux)",
    });
  }
  return unshare;
}

/**
 * A confining vmm never mounts in the host's namespace: it refuses to run in its parent's (the
 * supervisor's, or a shell's) at all. The parent, not PID 1: same user, so always readable.
 */
export function requireOwnMountNamespace(): void {
  const own = readlinkSync("/proc/self/ns/mnt");
  if (own !== readlinkSync(`/proc/${process.ppid}/ns/mnt`)) return;
  throw new MsbError("msb vmm runs as root in the host's mount namespace; it only runs confined", {
    code: "usage",
    hint: "let the sandbox supervisor start it, or run it as: unshare --mount --propagation private -- msb vmm vm.json",
  });
}

export function confineVmm(plan: VmmConfinementPlan): void {
  const root = plan.namespaceRoot;
  const hidden = `${root}/${plan.hiddenRoot}`;
  step("make the vmm's mounts private", "/", () => mount(null, "/", null, MS_REC | MS_PRIVATE, null));
  step("mount the VM's root", root, () => {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755");
  });
  for (const bind of plan.binds) {
    step(bind.kind === "dir" ? "bind the shared folder" : "bind the disk", bind.path, () =>
      bindInto(root, bind),
    );
  }
  step("build the vmm's own root", hidden, () => buildHiddenRoot(hidden, plan.devices));
  const oldRoot = `/${plan.hiddenRoot}/old`;
  step("pivot into the VM's root", root, () => {
    mkdirSync(`${hidden}/old`);
    pivotRoot(root, `${hidden}/old`);
    process.chdir("/");
    unmount(oldRoot, MNT_DETACH);
    rmdirSync(oldRoot);
  });
  // A guest that climbs out of its shares must not fill the host's memory with files here.
  step("make the VM's root read-only", "/", () =>
    mount(null, "/", null, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, null),
  );
  const top = openSync("/", constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    step("enter the vmm's own root", `/${plan.hiddenRoot}`, () => {
      process.chdir(`/${plan.hiddenRoot}`);
      chroot(".");
    });
    // Seen from the VM's root (all a share can reach), the vmm's own root is now an empty folder.
    step("cover the vmm's own root", `/${plan.hiddenRoot}`, () =>
      mount(
        "tmpfs",
        `/proc/self/fd/${top}/${plan.hiddenRoot}`,
        "tmpfs",
        MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
        "mode=0555",
      ),
    );
    step("return to the VM's root", "/", () => changeDirectoryTo(top, "(the VM's root)"));
  } finally {
    closeSync(top);
  }
}

function step(what: string, path: string, action: () => void): void {
  try {
    action();
  } catch (error) {
    const inner = error instanceof MsbError ? error : undefined;
    throw new MsbError(`cannot confine the VM: ${what} ${path}: ${(error as Error).message}`, {
      code: inner?.code ?? "runtime",
      hint: inner?.hint ?? "the libkrun VMM needs root and a kernel with mount namespaces",
      cause: error,
    });
  }
}

/**
 * A bind at the same path inside `root`. Read-write folders bring their submounts along, as the
 * host path would; read-only ones do not, since remounting read-only covers only the top mount.
 */
function bindInto(root: string, bind: ConfineBind): void {
  const stat = statSync(bind.path);
  if (stat.isDirectory() !== (bind.kind === "dir")) {
    throw new MsbError(`expected ${bind.kind === "dir" ? "a folder" : "a file"}`, { code: "usage" });
  }
  const target = `${root}${bind.path}`;
  if (bind.kind === "dir") mkdirSync(target, { recursive: true });
  else if (!existsSync(target)) {
    mkdirSync(dirname(target), { recursive: true });
    // O_APPEND, never O_TRUNC: inside a parent bind this is the host's own file.
    closeSync(openSync(target, "a", 0o600));
  }
  const recursive = bind.kind === "dir" && !bind.readOnly ? MS_REC : 0;
  mount(bind.path, target, null, MS_BIND | recursive, null);
  const flags = (bind.readOnly ? MS_RDONLY : 0) | (bind.kind === "dir" ? MS_NOSUID | MS_NODEV : 0);
  if (flags !== 0) mount(null, target, null, MS_BIND | MS_REMOUNT | flags, null);
}

/** /proc (for /proc/self/fd) and the device nodes libkrun opens by absolute path. */
function buildHiddenRoot(hidden: string, devices: string[]): void {
  mkdirSync(hidden);
  mount("tmpfs", hidden, "tmpfs", MS_NOSUID, "mode=0755");
  mkdirSync(`${hidden}/proc`);
  mount("proc", `${hidden}/proc`, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
  for (const device of devices) {
    if (!existsSync(device)) continue;
    const target = `${hidden}${device}`;
    mkdirSync(dirname(target), { recursive: true });
    closeSync(openSync(target, "a", 0o600));
    mount(device, target, null, MS_BIND, null);
  }
}
