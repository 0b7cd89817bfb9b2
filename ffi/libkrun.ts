// Symbol tables and loader for libkrun's 1.x C API (libkrun.so.1, never the 2.0 header). The core
// table is what every 1.x build (≥1.13) exports; build-dependent and newer functions sit in
// optional groups that are probed one by one. C types follow include/libkrun.h: uint32_t ctx ids,
// uint8_t vcpus, int32_t returns (negative errno); `ptr` arguments are NUL-terminated strings or
// NULL-terminated `char *` arrays (BigUint64Array of pointers ending in 0n).
import { ptr } from "bun:ffi";
import { type OpenedLibrary, openLibrary } from "./loader.ts";

export const LIBKRUN_SONAME = "libkrun.so.1";

export const LIBKRUN_CORE = {
  krun_set_log_level: { args: ["u32"], returns: "i32" },
  krun_init_log: { args: ["i32", "u32", "u32", "u32"], returns: "i32" },
  krun_create_ctx: { args: [], returns: "i32" },
  krun_free_ctx: { args: ["u32"], returns: "i32" },
  krun_set_vm_config: { args: ["u32", "u8", "u32"], returns: "i32" },
  krun_set_root: { args: ["u32", "ptr"], returns: "i32" },
  krun_add_virtiofs: { args: ["u32", "ptr", "ptr"], returns: "i32" },
  krun_add_virtiofs2: { args: ["u32", "ptr", "ptr", "u64"], returns: "i32" },
  krun_set_exec: { args: ["u32", "ptr", "ptr", "ptr"], returns: "i32" },
  krun_set_env: { args: ["u32", "ptr"], returns: "i32" },
  krun_set_workdir: { args: ["u32", "ptr"], returns: "i32" },
  krun_set_rlimits: { args: ["u32", "ptr"], returns: "i32" },
  krun_set_port_map: { args: ["u32", "ptr"], returns: "i32" },
  krun_add_vsock_port: { args: ["u32", "u32", "ptr"], returns: "i32" },
  krun_add_vsock_port2: { args: ["u32", "u32", "ptr", "bool"], returns: "i32" },
  krun_set_console_output: { args: ["u32", "ptr"], returns: "i32" },
  krun_set_kernel: { args: ["u32", "ptr", "u32", "ptr", "ptr"], returns: "i32" },
  krun_setuid: { args: ["u32", "u32"], returns: "i32" },
  krun_setgid: { args: ["u32", "u32"], returns: "i32" },
  krun_start_enter: { args: ["u32"], returns: "i32" },
} as const;

/** Functions that exist only in some builds (BLK=1, NET=1) or newer releases (version noted). */
export const LIBKRUN_GROUPS = {
  /** BLK=1 builds, ≥1.10. */
  block: {
    krun_add_disk: { args: ["u32", "ptr", "ptr", "bool"], returns: "i32" },
    krun_add_disk2: { args: ["u32", "ptr", "ptr", "u32", "bool"], returns: "i32" },
  },
  /** BLK=1 builds, ≥1.17: direct I/O and sync mode per disk. */
  blockOptions: {
    krun_add_disk3: { args: ["u32", "ptr", "ptr", "u32", "bool", "bool", "u32"], returns: "i32" },
  },
  /** NET=1 builds, ≥1.15: (ctx, path, fd, mac, features, flags). */
  net: {
    krun_add_net_unixstream: { args: ["u32", "ptr", "i32", "ptr", "u32", "u32"], returns: "i32" },
    krun_add_net_unixgram: { args: ["u32", "ptr", "i32", "ptr", "u32", "u32"], returns: "i32" },
  },
  /** ≥1.16: explicit consoles. */
  console: {
    krun_disable_implicit_console: { args: ["u32"], returns: "i32" },
    krun_add_virtio_console_default: { args: ["u32", "i32", "i32", "i32"], returns: "i32" },
    krun_set_kernel_console: { args: ["u32", "ptr"], returns: "i32" },
  },
  /** ≥1.17: named virtio-console ports (the agent channel). */
  consolePorts: {
    krun_add_virtio_console_multiport: { args: ["u32"], returns: "i32" },
    krun_add_console_port_inout: { args: ["u32", "u32", "ptr", "i32", "i32"], returns: "i32" },
    krun_add_console_port_tty: { args: ["u32", "u32", "ptr", "i32"], returns: "i32" },
  },
  /** ≥1.17: turning off the implicit TSI vsock (--no-network). */
  vsock: {
    krun_disable_implicit_vsock: { args: ["u32"], returns: "i32" },
    krun_add_vsock: { args: ["u32", "u32"], returns: "i32" },
  },
  /** ≥1.17.3. */
  features: {
    krun_has_feature: { args: ["u64"], returns: "i32" },
  },
  /** ≥1.18: read-only shares. */
  virtiofs3: {
    krun_add_virtiofs3: { args: ["u32", "ptr", "ptr", "u64", "bool"], returns: "i32" },
  },
  /** ≥1.19: memory-backed files in a share (data is kept, not copied) and a custom init. */
  overlay: {
    krun_fs_add_overlay_file: { args: ["u32", "ptr", "ptr", "ptr", "usize", "u32", "bool"], returns: "i32" },
    krun_fs_add_overlay_dir: { args: ["u32", "ptr", "ptr", "u32"], returns: "i32" },
    krun_disable_implicit_init: { args: ["u32"], returns: "i32" },
  },
} as const;

export type LibkrunGroup = keyof typeof LIBKRUN_GROUPS;

/** Arguments of krun_has_feature (uint64_t), from libkrun.h. */
export const KRUN_FEATURE = {
  net: 0n,
  blk: 1n,
  gpu: 2n,
  snd: 3n,
  input: 4n,
  efi: 5n,
  tee: 6n,
  amdSev: 7n,
  intelTdx: 8n,
  awsNitro: 9n,
  virglResourceMap2: 10n,
  initBlob: 11n,
} as const;

/** Constants of libkrun.h (1.x); the header's macros are unparenthesised, so they are spelled out. */
export const KRUN = {
  /** krun_add_disk2/3 disk_format. */
  diskFormatRaw: 0,
  /** krun_add_disk3 sync_mode: honour the guest's flushes with fsync (Linux). */
  syncFull: 2,
  /** krun_init_log levels, style and option. */
  logOff: 0,
  logError: 1,
  logWarn: 2,
  logInfo: 3,
  logDebug: 4,
  logTrace: 5,
  logStyleNever: 2,
  logOptionNoEnv: 1,
  /** The virtio-fs tag the guest kernel mounts as `/` (krun_add_virtiofs3 with it replaces krun_set_root). */
  rootTag: "/dev/root",
} as const;

/** A NUL-terminated copy of `text` for a `const char *` argument. */
export function cString(text: string): Buffer {
  return Buffer.from(`${text}\0`, "utf8");
}

/**
 * A NULL-terminated `const char *const[]`: the pointer array plus the strings it points into.
 * Whoever passes `pointers` to C keeps this object alive for as long as C may read them.
 */
export interface CStringArray {
  pointers: BigUint64Array;
  strings: Buffer[];
}

export function cStringArray(items: readonly string[]): CStringArray {
  const strings = items.map(cString);
  const pointers = new BigUint64Array(strings.length + 1);
  strings.forEach((buffer, index) => {
    pointers[index] = BigInt(ptr(buffer));
  });
  return { pointers, strings };
}

export type Libkrun = OpenedLibrary<typeof LIBKRUN_CORE, typeof LIBKRUN_GROUPS>;

export const LIBKRUN_HINT =
  "put libkrun.so.1 in $MSB_HOME/lib (bash scripts/setup.sh copies an installed one there), " +
  "or set MSB_LIBKRUN=/path/libkrun.so.1; without it use --isolation namespace";

export interface LibraryLocation {
  /** $MSB_HOME/lib */
  libDir: string;
  env?: Record<string, string | undefined>;
}

/** Opens libkrun 1.x; throws an MsbError (code "unavailable") naming where it looked. */
export function loadLibkrun(location: LibraryLocation): Libkrun {
  return openLibrary({
    name: "libkrun",
    soname: LIBKRUN_SONAME,
    libDir: location.libDir,
    envVar: "MSB_LIBKRUN",
    envValue: (location.env ?? process.env).MSB_LIBKRUN,
    core: LIBKRUN_CORE,
    groups: LIBKRUN_GROUPS,
    hint: LIBKRUN_HINT,
  });
}
