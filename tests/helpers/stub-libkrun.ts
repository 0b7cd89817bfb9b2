// A recording stand-in for libkrun.so.1 (and libkrunfw.so.5), generated as C and compiled with the
// host's cc. Every function appends one JSON line {"fn": name, "args": [...]} to a log file whose
// path is compiled in, so contract tests can check each argument the FFI layer passes without
// KVM. Extend STUB_PARAMS when ffi/libkrun.ts grows; stubLibkrunSource refuses unknown symbols.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LIBKRUN_CORE, LIBKRUN_GROUPS, type LibkrunGroup } from "../../ffi/libkrun.ts";

/** How the stub logs a parameter: numbers as JSON numbers, strings and string arrays as JSON. */
export type StubParam = "u8" | "u32" | "i32" | "u64" | "usize" | "bool" | "str" | "strv" | "mac" | "data";

const C_TYPES: Record<StubParam, string> = {
  u8: "uint8_t",
  u32: "uint32_t",
  i32: "int32_t",
  u64: "uint64_t",
  usize: "size_t",
  bool: "bool",
  str: "const char *",
  strv: "const char *const *",
  mac: "const uint8_t *",
  data: "const uint8_t *",
};

export const STUB_PARAMS: Record<string, StubParam[]> = {
  krun_set_log_level: ["u32"],
  krun_init_log: ["i32", "u32", "u32", "u32"],
  krun_create_ctx: [],
  krun_free_ctx: ["u32"],
  krun_set_vm_config: ["u32", "u8", "u32"],
  krun_set_root: ["u32", "str"],
  krun_add_virtiofs: ["u32", "str", "str"],
  krun_add_virtiofs2: ["u32", "str", "str", "u64"],
  krun_set_exec: ["u32", "str", "strv", "strv"],
  krun_set_env: ["u32", "strv"],
  krun_set_workdir: ["u32", "str"],
  krun_set_rlimits: ["u32", "strv"],
  krun_set_port_map: ["u32", "strv"],
  krun_add_vsock_port: ["u32", "u32", "str"],
  krun_add_vsock_port2: ["u32", "u32", "str", "bool"],
  krun_set_console_output: ["u32", "str"],
  krun_set_kernel: ["u32", "str", "u32", "str", "str"],
  krun_setuid: ["u32", "u32"],
  krun_setgid: ["u32", "u32"],
  krun_start_enter: ["u32"],
  krun_add_disk: ["u32", "str", "str", "bool"],
  krun_add_disk2: ["u32", "str", "str", "u32", "bool"],
  krun_add_disk3: ["u32", "str", "str", "u32", "bool", "bool", "u32"],
  krun_add_net_unixstream: ["u32", "str", "i32", "mac", "u32", "u32"],
  krun_add_net_unixgram: ["u32", "str", "i32", "mac", "u32", "u32"],
  krun_disable_implicit_console: ["u32"],
  krun_add_virtio_console_default: ["u32", "i32", "i32", "i32"],
  krun_set_kernel_console: ["u32", "str"],
  krun_add_virtio_console_multiport: ["u32"],
  krun_add_console_port_inout: ["u32", "u32", "str", "i32", "i32"],
  krun_add_console_port_tty: ["u32", "u32", "str", "i32"],
  krun_disable_implicit_vsock: ["u32"],
  krun_add_vsock: ["u32", "u32"],
  krun_has_feature: ["u64"],
  krun_add_virtiofs3: ["u32", "str", "str", "u64", "bool"],
  krun_fs_add_overlay_file: ["u32", "str", "str", "data", "usize", "u32", "bool"],
  krun_fs_add_overlay_dir: ["u32", "str", "str", "u32"],
  krun_disable_implicit_init: ["u32"],
};

export interface StubLibkrunOptions {
  /** File the stub appends its JSON lines to. */
  logPath: string;
  /** Optional groups to export besides the core; "all" for every group in ffi/libkrun.ts. */
  groups: LibkrunGroup[] | "all";
  /** krun_has_feature results by feature number; others return -EINVAL (-22). */
  features?: Record<number, number>;
  /** Fixed return values by symbol (default 0; krun_create_ctx counts up from 0). */
  returns?: Record<string, number>;
  /**
   * krun_start_enter never returns in libkrun: the stub _exits with this status, unless `returns`
   * gives krun_start_enter a value (a refusal to start).
   */
  startExitCode?: number;
  /** Symbols left out of the build, as an older or smaller libkrun would lack them. */
  omit?: string[];
  /**
   * krun_create_ctx dlopens libkrunfw.so.5 by soname, as libkrun ≥1.17 does, and logs
   * {"fn": "dlopen(libkrunfw.so.5)", "args": [krunfw_get_version() or -1]}.
   */
  firmwareBySoname?: boolean;
  /**
   * krun_start_enter first logs what it can see, as libkrun's devices would at run time: "fs:root"
   * (the entries of `/`), "fs:cwd" (of `.`, and the errno of creating a file there), "fs:proc"
   * (errno of access("/proc/self/fd"), 0 if there), "fs:marker" (errno of access(marker) and of access("." + marker)) and, for every path
   * given to krun_add_virtiofs3 and krun_add_disk*, "fs:path": [path, errno of access, errno of a
   * write (creating a file in a folder, opening a disk O_WRONLY), entries of the top folder
   * reached by 64 lookups of ".." from a folder (null for a disk)], and "fs:list" [path, entries]
   * for each of `list`.
   */
  probe?: { marker: string; list?: string[] };
}

export interface StubCall {
  fn: string;
  args: (number | boolean | string | string[] | null)[];
}

export function stubLibkrunSource(options: StubLibkrunOptions): string {
  const groups = options.groups === "all" ? (Object.keys(LIBKRUN_GROUPS) as LibkrunGroup[]) : options.groups;
  const symbols = [LIBKRUN_CORE, ...groups.map((group) => LIBKRUN_GROUPS[group])]
    .flatMap((table) => Object.keys(table))
    .filter((symbol) => !options.omit?.includes(symbol));
  const functions = symbols.map((symbol) => stubFunction(symbol, options));
  return [C_PRELUDE.replace("@LOG@", JSON.stringify(options.logPath)), ...functions].join("\n");
}

function stubFunction(symbol: string, options: StubLibkrunOptions): string {
  const params = STUB_PARAMS[symbol];
  if (params === undefined) throw new Error(`stub-libkrun: no STUB_PARAMS entry for ${symbol}`);
  const declared = params.map((param, index) => `${C_TYPES[param]} a${index}`).join(", ") || "void";
  const logged = params.map((param, index) => `  put_${param}(f, a${index});`).join("\n  fputc(',', f);\n");
  const fixed = options.returns?.[symbol];
  let result = `return ${fixed ?? 0};`;
  if (fixed === undefined && symbol === "krun_create_ctx") result = "return next_ctx++;";
  if (symbol === "krun_has_feature") result = featureSwitch(options.features ?? {});
  if (symbol === "krun_start_enter" && fixed === undefined) result = `_exit(${options.startExitCode ?? 0});`;
  // Proves the port's fds are a live connection: the far end (the test) reads the port name.
  let effect = symbol === "krun_add_console_port_inout" ? 'if (a4 >= 0) dprintf(a4, "%s\\n", a2);' : "";
  if (symbol === "krun_create_ctx" && options.firmwareBySoname) effect = FIRMWARE_BY_SONAME;
  if (options.probe && PROBED_PATHS[symbol] !== undefined) effect = `remember(a2, ${PROBED_PATHS[symbol]});`;
  if (options.probe && symbol === "krun_start_enter") effect = probeCall(options.probe);
  return `int32_t ${symbol}(${declared}) {
  FILE *f = open_log("${symbol}");
${logged}
  close_log(f);
  ${effect}
  ${result}
}`;
}

function featureSwitch(features: Record<number, number>): string {
  const cases = Object.entries(features).map(([feature, value]) => `case ${feature}: return ${value};`);
  return `switch (a0) { ${cases.join(" ")} default: return -22; }`;
}

function probeCall(probe: NonNullable<StubLibkrunOptions["probe"]>): string {
  const lists = (probe.list ?? []).map((path) => `list_dir(${JSON.stringify(path)});`);
  return [`probe_fs(${JSON.stringify(probe.marker)});`, ...lists].join("\n  ");
}

/** Calls whose third argument is a path libkrun opens at run time: 1 a folder, 0 a disk. */
const PROBED_PATHS: Record<string, number> = { krun_add_virtiofs3: 1, krun_add_disk2: 0, krun_add_disk3: 0 };

const FIRMWARE_BY_SONAME = `void *fw = dlopen("libkrunfw.so.5", RTLD_NOW);
  int (*version)(void) = fw ? (int (*)(void))dlsym(fw, "krunfw_get_version") : 0;
  FILE *g = open_log("dlopen(libkrunfw.so.5)");
  put_i32(g, version ? version() : -1);
  close_log(g);`;

const C_PRELUDE = `#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int32_t next_ctx = 0;
/* Opened at the first call and kept: once the vmm confines itself, the log's path is gone. */
static FILE *log_file = 0;

static FILE *open_log(const char *fn) {
  if (!log_file) log_file = fopen(@LOG@, "a");
  fprintf(log_file, "{\\"fn\\":\\"%s\\",\\"args\\":[", fn);
  return log_file;
}
static void close_log(FILE *f) { fputs("]}\\n", f); fflush(f); }
static void put_u8(FILE *f, uint8_t v) { fprintf(f, "%u", (unsigned)v); }
static void put_u32(FILE *f, uint32_t v) { fprintf(f, "%u", v); }
static void put_i32(FILE *f, int32_t v) { fprintf(f, "%d", v); }
static void put_u64(FILE *f, uint64_t v) { fprintf(f, "%llu", (unsigned long long)v); }
static void put_usize(FILE *f, size_t v) { fprintf(f, "%zu", v); }
static void put_bool(FILE *f, bool v) { fputs(v ? "true" : "false", f); }
static void put_str(FILE *f, const char *s) {
  if (!s) { fputs("null", f); return; }
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\\\') fprintf(f, "\\\\%c", c);
    else if (c < 0x20) fprintf(f, "\\\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}
static void put_strv(FILE *f, const char *const *v) {
  if (!v) { fputs("null", f); return; }
  fputc('[', f);
  for (int i = 0; v[i] && i < 4096; i++) { if (i) fputc(',', f); put_str(f, v[i]); }
  fputc(']', f);
}
static void put_mac(FILE *f, const uint8_t *m) {
  if (!m) { fputs("null", f); return; }
  fprintf(f, "\\"%02x:%02x:%02x:%02x:%02x:%02x\\"", m[0], m[1], m[2], m[3], m[4], m[5]);
}
static void put_data(FILE *f, const uint8_t *d) { fputs(d ? "\\"data\\"" : "null", f); }
static int err_of(int result) { return result < 0 ? errno : 0; }

static const char *probed[64];
static int probed_dir[64];
static int probed_count = 0;
static void remember(const char *path, int dir) {
  if (!path || probed_count == 64) return;
  probed[probed_count] = strdup(path);
  probed_dir[probed_count++] = dir;
}
/* The entries of an open directory (consumed), without . and .. */
static void put_entries(FILE *f, DIR *d) {
  if (!d) { fputs("null", f); return; }
  fputc('[', f);
  int first = 1;
  for (struct dirent *e; (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (!first) fputc(',', f);
    first = 0;
    put_str(f, e->d_name);
  }
  fputc(']', f);
  closedir(d);
}
static int try_write(const char *path, int dir) {
  if (!dir) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    close(fd);
    return 0;
  }
  char file[4096];
  snprintf(file, sizeof file, "%s/.stub-probe", path);
  int fd = open(file, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  close(fd);
  unlink(file);
  return 0;
}
/* What a virtio-fs server reaches from a share: lookups of ".." until they stop moving. */
static void put_top(FILE *f, const char *path) {
  int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  for (int i = 0; fd >= 0 && i < 64; i++) {
    int up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    close(fd);
    fd = up;
  }
  if (fd < 0) { fputs("null", f); return; }
  int list = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  close(fd);
  put_entries(f, list < 0 ? 0 : fdopendir(list));
}
static void list_dir(const char *path) {
  FILE *f = open_log("fs:list");
  put_str(f, path);
  fputc(',', f);
  put_entries(f, opendir(path));
  close_log(f);
}
static void probe_fs(const char *marker) {
  FILE *f = open_log("fs:root");
  put_entries(f, opendir("/"));
  close_log(f);
  f = open_log("fs:cwd");
  put_entries(f, opendir("."));
  fputc(',', f);
  put_i32(f, try_write(".", 1));
  close_log(f);
  f = open_log("fs:proc");
  put_i32(f, err_of(access("/proc/self/fd", F_OK)));
  close_log(f);
  char relative[4096];
  snprintf(relative, sizeof relative, ".%s", marker);
  f = open_log("fs:marker");
  put_i32(f, err_of(access(marker, F_OK)));
  fputc(',', f);
  put_i32(f, err_of(access(relative, F_OK)));
  close_log(f);
  for (int i = 0; i < probed_count; i++) {
    f = open_log("fs:path");
    put_str(f, probed[i]);
    fputc(',', f);
    put_i32(f, err_of(access(probed[i], F_OK)));
    fputc(',', f);
    put_i32(f, try_write(probed[i], probed_dir[i]));
    fputc(',', f);
    if (probed_dir[i]) put_top(f, probed[i]);
    else fputs("null", f);
    close_log(f);
  }
}
`;

const LIBKRUNFW_SOURCE = `#include <stddef.h>
static char kernel[4096] __attribute__((aligned(4096)));
int krunfw_get_version(void) { return @ABI@; }
char *krunfw_get_kernel(size_t *load_addr, size_t *entry_addr, size_t *size) {
  *load_addr = 0x1000000; *entry_addr = 0x1000000; *size = sizeof(kernel);
  return kernel;
}
`;

/** The C compiler to use, or undefined (then contract tests skip with a printed reason). */
export function findCCompiler(): string | undefined {
  return ["cc", "gcc", "clang"].map((name) => Bun.which(name)).find((path) => path !== null) ?? undefined;
}

/**
 * Compiles `source` into dir/<realName> with soname `soname`, plus the `soname` symlink, the way
 * distributions install libraries. Returns the symlink path.
 */
export async function compileSharedLibrary(
  compiler: string,
  dir: string,
  soname: string,
  realName: string,
  source: string,
): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const sourcePath = join(dir, `${realName}.c`);
  writeFileSync(sourcePath, source);
  const output = join(dir, realName);
  const build = Bun.spawnSync([
    compiler,
    "-shared",
    "-fPIC",
    `-Wl,-soname,${soname}`,
    "-o",
    output,
    sourcePath,
    "-ldl",
  ]);
  if (build.exitCode !== 0) throw new Error(`${compiler} failed: ${build.stderr.toString()}`);
  if (realName !== soname) symlinkSync(realName, join(dir, soname));
  return join(dir, soname);
}

/** Builds the stub libkrun as dir/libkrun.so.1.19.7 with the libkrun.so.1 symlink. */
export function compileStubLibkrun(
  compiler: string,
  dir: string,
  options: StubLibkrunOptions,
): Promise<string> {
  return compileSharedLibrary(compiler, dir, "libkrun.so.1", "libkrun.so.1.19.7", stubLibkrunSource(options));
}

/** A libkrunfw stand-in whose krunfw_get_version returns `abi`. */
export function stubLibkrunfwSource(abi: number): string {
  return LIBKRUNFW_SOURCE.replace("@ABI@", String(abi));
}

/** Builds dir/libkrunfw.so.5.4.0 with the libkrunfw.so.5 symlink. */
export function compileStubLibkrunfw(compiler: string, dir: string): Promise<string> {
  return compileSharedLibrary(compiler, dir, "libkrunfw.so.5", "libkrunfw.so.5.4.0", stubLibkrunfwSource(5));
}

export function readStubCalls(logPath: string): StubCall[] {
  let text: string;
  try {
    text = readFileSync(logPath, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as StubCall);
}
