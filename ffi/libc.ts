// libc symbols msb needs that Bun does not expose (advisory file locks; mounts, loop devices and
// hostname for the sandbox agent). Symbol table and loader only: the typed wrappers that check
// return codes live in src/.
import { dlopen, FFIType, type Pointer, read } from "bun:ffi";

const LIBC_CANDIDATES = ["libc.so.6", "libc.so"];

function openLibc() {
  let lastError: unknown;
  for (const name of LIBC_CANDIDATES) {
    try {
      return dlopen(name, {
        flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
        // Root assembly and shutdown of the sandbox agent (PID 1).
        mount: {
          args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr],
          returns: FFIType.i32,
        },
        umount2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
        /** Only for calls glibc has no wrapper for (pivot_root): number, then two pointers. */
        syscall: { args: [FFIType.i64, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
        chroot: { args: [FFIType.ptr], returns: FFIType.i32 },
        /** The libkrun vmm's way back to its namespace root after chrooting away from it. */
        fchdir: { args: [FFIType.i32], returns: FFIType.i32 },
        sethostname: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
        /** The third argument is a pointer to the request's struct, or an integer cast to one. */
        ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
        socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        /** The vmm's agent channel: (fd, struct sockaddr_un *, socklen_t). */
        connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
        prctl: {
          args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64],
          returns: FFIType.i32,
        },
        sync: { args: [], returns: FFIType.void },
        /** The VM agent (PID 1) ends the guest with a reset (RB_AUTOBOOT). */
        reboot: { args: [FFIType.i32], returns: FFIType.i32 },
        syncfs: { args: [FFIType.i32], returns: FFIType.i32 },
        __errno_location: { args: [], returns: FFIType.ptr },
      });
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`cannot load the C library (${LIBC_CANDIDATES.join(", ")})`, { cause: lastError });
}

let libc: ReturnType<typeof openLibc> | undefined;

export function libcSymbols() {
  libc ??= openLibc();
  return libc.symbols;
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** errno of the calling thread right after a failed call. */
export function lastErrno(): number {
  const location = libcSymbols().__errno_location();
  if (location === null) return 0;
  return read.i32(location, 0);
}

/** An integer ioctl argument (e.g. LOOP_SET_FD's file descriptor) passed where a pointer goes. */
export function ioctlIntArg(value: number): Pointer {
  return value as Pointer;
}
