// What the libkrun vmm confines itself to (pure; confine-vmm.ts acts on it). libkrun's virtio-fs
// server runs in the vmm, as root, and serves a guest lookup of ".." from a share's root like any
// other name, so a guest kernel can walk from any share to the process's root. The vmm therefore
// runs in a mount namespace of its own (`unshare --mount`, the argv below) whose root is a tmpfs
// holding only the boot root, the shares and the disks, bind-mounted at their host paths (read-only
// ones read-only, share folders nosuid,nodev so a guest-made device node never opens on the host).
// libkrun also opens two absolute paths at run time, /proc/self/fd (each virtio-fs device, when the
// guest activates it) and /dev/kvm; a /proc reachable from a share would hand the guest the host
// (/proc/sys, /proc/1/mem), so those live in a second tmpfs that becomes the process's root
// (chroot) while its mount point in the namespace root is covered by an empty read-only tmpfs.
// libkrun then gets the share and disk paths relative to the working directory, the namespace root:
// what it serves and opens is resolved there, what it opens by absolute path in the hidden root.
import { isAbsolute, normalize } from "node:path";
import { MsbError } from "../errors.ts";
import type { LibkrunBoot } from "./libkrun-boot.ts";

/** A host file or folder bound into the namespace root at its own path. */
export interface ConfineBind {
  path: string;
  kind: "dir" | "file";
  readOnly: boolean;
}

export interface VmmConfinementPlan {
  /** Mount point (on the host, inside the vmm's namespace) of the tmpfs that becomes `/`. */
  namespaceRoot: string;
  /** Name, in the namespace root, of the hidden process root (covered once the vmm is in it). */
  hiddenRoot: string;
  /** Parents before children, so a nested bind lands on top of its parent's. */
  binds: ConfineBind[];
  /** Device nodes libkrun opens by absolute path, bound into the hidden root when the host has them. */
  devices: string[];
}

export const HIDDEN_ROOT_NAME = ".msb-vmm";
export const VMM_DEVICES = ["/dev/kvm"];

/** Where the vmm stages its roots: beside vm.json, in the sandbox's runtime folder. */
export function planVmmConfinement(
  boot: LibkrunBoot,
  stageDir: string,
  devices: string[] = VMM_DEVICES,
): VmmConfinementPlan {
  const uses: ConfineBind[] = [
    { path: boot.root, kind: "dir", readOnly: true },
    ...boot.vm.shares.map((share) => ({ path: share.path, kind: "dir" as const, readOnly: share.readOnly })),
    ...boot.vm.disks.map((disk) => ({ path: disk.path, kind: "file" as const, readOnly: disk.readOnly })),
  ];
  const byPath = new Map<string, ConfineBind>();
  for (const use of uses) {
    checkConfinablePath(use.path);
    const seen = byPath.get(use.path);
    if (seen === undefined) {
      byPath.set(use.path, { ...use });
      continue;
    }
    if (seen.kind !== use.kind) {
      throw new MsbError(`${use.path} is both a shared folder and a disk of the VM`, {
        code: "usage",
        hint: "share a folder and attach a disk image at different paths",
      });
    }
    // A path used read-write anywhere is bound read-write: the guest may write it through that use.
    seen.readOnly &&= use.readOnly;
  }
  const binds = [...byPath.values()].sort(
    (a, b) => depth(a.path) - depth(b.path) || a.path.localeCompare(b.path),
  );
  return { namespaceRoot: `${stageDir}/root`, hiddenRoot: HIDDEN_ROOT_NAME, binds, devices };
}

function checkConfinablePath(path: string): void {
  if (!isAbsolute(path) || normalize(path) !== path || path === "/" || path.endsWith("/")) {
    throw new MsbError(`the VM cannot be confined to ${JSON.stringify(path)}: not a plain absolute path`, {
      code: "usage",
      hint: "share folders and disks by absolute paths other than /",
    });
  }
  if (path.split("/")[1] === HIDDEN_ROOT_NAME) {
    throw new MsbError(`the VM cannot be confined to ${path}: /${HIDDEN_ROOT_NAME} is the vmm's own`, {
      code: "usage",
    });
  }
}

function depth(path: string): number {
  return path.split("/").length;
}

/** A host path as libkrun must name it once confined: relative to the namespace root (the cwd). */
export function confinedPath(path: string): string {
  return `.${path}`;
}

/** `boot` with every path libkrun resolves at run time made relative to the namespace root. */
export function confinedBoot(boot: LibkrunBoot): LibkrunBoot {
  const { vm } = boot;
  return {
    ...boot,
    root: confinedPath(boot.root),
    vm: {
      ...vm,
      disks: vm.disks.map((disk) => ({ ...disk, path: confinedPath(disk.path) })),
      shares: vm.shares.map((share) => ({ ...share, path: confinedPath(share.path) })),
    },
  };
}

/** The flags that give the vmm a mount namespace of its own, all mounts private. */
export const VMM_UNSHARE_FLAGS = ["--mount", "--propagation", "private"];

/**
 * How the supervisor starts `msb vmm vm.json`: under util-linux unshare when it runs as root (then
 * the vmm confines itself and refuses to run in the host's namespace), as is otherwise: without
 * CAP_SYS_ADMIN there is no namespace to make, and the vmm can reach only what its user can.
 */
export function buildVmmArgv(vmmCommand: string[], unshare: string | null): string[] {
  return unshare === null ? vmmCommand : [unshare, ...VMM_UNSHARE_FLAGS, "--", ...vmmCommand];
}
