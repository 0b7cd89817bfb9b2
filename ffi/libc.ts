// libc symbols msb needs that Bun does not expose (advisory file locks). Symbol table and
// loader only: the typed wrappers that check return codes live in src/.
import { dlopen, FFIType, read } from "bun:ffi";

const LIBC_CANDIDATES = ["libc.so.6", "libc.so"];

function openLibc() {
  let lastError: unknown;
  for (const name of LIBC_CANDIDATES) {
    try {
      return dlopen(name, {
        flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
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
