// Typed wrappers over the libc calls the agent needs to build and tear down a sandbox root.
// Each checks the return code and throws a SyscallError naming the call, the errno and the path.
import { closeSync, openSync } from "node:fs";
import { ioctlIntArg, lastErrno, libcSymbols } from "../../ffi/libc.ts";
import { SyscallError } from "../errors.ts";

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;

export const MNT_DETACH = 0x2;

const EINTR = 4;

/** pivot_root has no glibc wrapper; its number differs per architecture. */
const SYS_PIVOT_ROOT: Record<string, number> = { x64: 155, arm64: 41 };

const PR_CAPBSET_DROP = 24;

function cString(text: string): Buffer {
  return Buffer.from(`${text}\0`);
}

function check(result: number, call: string, detail: string): number {
  if (result < 0) throw new SyscallError(call, lastErrno(), detail);
  return result;
}

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null,
): void {
  const result = libcSymbols().mount(
    source === null ? null : cString(source),
    cString(target),
    fstype === null ? null : cString(fstype),
    flags,
    data === null ? null : cString(data),
  );
  check(result, "mount", `${target} (${fstype ?? "bind"}${source === null ? "" : ` from ${source}`})`);
}

export function unmount(target: string, flags = 0): void {
  check(libcSymbols().umount2(cString(target), flags), "umount2", target);
}

export function pivotRoot(newRoot: string, putOld: string): void {
  const number = SYS_PIVOT_ROOT[process.arch];
  if (number === undefined)
    throw new SyscallError("pivot_root", 38, `(no syscall number for ${process.arch})`);
  check(libcSymbols().syscall(number, cString(newRoot), cString(putOld)), "pivot_root", newRoot);
}

export function chroot(path: string): void {
  check(libcSymbols().chroot(cString(path)), "chroot", path);
}

export function changeDirectoryTo(fd: number, detail: string): void {
  check(libcSymbols().fchdir(fd), "fchdir", detail);
}

export function setHostname(name: string): void {
  const bytes = Buffer.from(name);
  check(libcSymbols().sethostname(bytes, bytes.length), "sethostname", name);
}

/** ioctl with a struct (`Uint8Array`), an integer, or no argument; returns the call's result. */
export function ioctl(fd: number, request: number, arg: Uint8Array | number | null, detail: string): number {
  const pointer = typeof arg === "number" ? ioctlIntArg(arg) : arg;
  for (;;) {
    const result = libcSymbols().ioctl(fd, request, pointer);
    if (result >= 0) return result;
    const errno = lastErrno();
    if (errno !== EINTR) throw new SyscallError("ioctl", errno, detail);
  }
}

export function socket(domain: number, type: number, protocol: number): number {
  return check(libcSymbols().socket(domain, type, protocol), "socket", `(domain ${domain})`);
}

/**
 * Flushes the filesystem holding `path` (the sandbox's overlay root: its upper ext4). sync(2)
 * would flush every filesystem on the host, which can take seconds on a busy machine.
 */
export function syncFilesystem(path: string): void {
  const fd = openSync(path, "r");
  try {
    check(libcSymbols().syncfs(fd), "syncfs", path);
  } finally {
    closeSync(fd);
  }
}

/** Removes a capability from this thread's bounding set: programs it executes can never gain it. */
export function dropBoundingCapability(capability: number): void {
  check(
    libcSymbols().prctl(PR_CAPBSET_DROP, capability, 0, 0, 0),
    "prctl(PR_CAPBSET_DROP)",
    String(capability),
  );
}
