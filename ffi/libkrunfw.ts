// Symbol table and loader for libkrunfw, the library that carries libkrun's guest kernel. libkrun
// ≥1.17 dlopens it by soname (libkrunfw.so.5) inside krun_create_ctx, so msb opens it first by
// path: once a library with that soname is loaded, the dynamic loader reuses it.
import type { LibraryLocation } from "./libkrun.ts";
import { type OpenedLibrary, openLibrary } from "./loader.ts";

/** The ABI number in the soname; libkrun ≥1.17 needs exactly this one. */
export const LIBKRUNFW_ABI = 5;
export const LIBKRUNFW_SONAME = `libkrunfw.so.${LIBKRUNFW_ABI}`;

export const LIBKRUNFW_CORE = {
  /** int krunfw_get_version(void): the ABI number. */
  krunfw_get_version: { args: [], returns: "i32" },
  /** char *krunfw_get_kernel(size_t *load_addr, size_t *entry_addr, size_t *size). */
  krunfw_get_kernel: { args: ["ptr", "ptr", "ptr"], returns: "ptr" },
} as const;

export type Libkrunfw = OpenedLibrary<typeof LIBKRUNFW_CORE, Record<never, never>>;

export const LIBKRUNFW_HINT =
  "put libkrunfw.so.5 in $MSB_HOME/lib (bash scripts/setup.sh copies an installed one there), " +
  "or set MSB_LIBKRUNFW=/path/libkrunfw.so.5; without it use --isolation namespace";

/** Opens libkrunfw ABI 5; throws an MsbError (code "unavailable") naming where it looked. */
export function loadLibkrunfw(location: LibraryLocation): Libkrunfw {
  return openLibrary({
    name: "libkrunfw",
    soname: LIBKRUNFW_SONAME,
    libDir: location.libDir,
    envVar: "MSB_LIBKRUNFW",
    envValue: (location.env ?? process.env).MSB_LIBKRUNFW,
    core: LIBKRUNFW_CORE,
    groups: {},
    hint: LIBKRUNFW_HINT,
  });
}
