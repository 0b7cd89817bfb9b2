// The libkrun/libkrunfw loaders against recording stand-ins compiled from C: a full build (every
// optional group, krun_has_feature saying NET and BLK) and a minimal one (core symbols only).

import { ptr } from "bun:ffi";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KRUN_FEATURE, LIBKRUN_GROUPS, loadLibkrun } from "../../ffi/libkrun.ts";
import { loadLibkrunfw } from "../../ffi/libkrunfw.ts";
import { LibraryNotFoundError, requireGroup } from "../../ffi/loader.ts";
import { probeLibkrun, probeLibkrunfw } from "../../src/doctor/library-probe.ts";
import { announceSkip } from "../helpers/skip.ts";
import {
  compileSharedLibrary,
  compileStubLibkrun,
  compileStubLibkrunfw,
  findCCompiler,
  readStubCalls,
  stubLibkrunSource,
} from "../helpers/stub-libkrun.ts";

const compiler = findCCompiler();
const skipReason = announceSkip(
  "libkrun loader contract",
  compiler === undefined ? "no C compiler (cc, gcc or clang) to build the stand-in libkrun" : undefined,
);

const root = mkdtempSync(join(tmpdir(), "msb-libkrun-contract-"));
const dirs = {
  full: join(root, "full"),
  minimal: join(root, "minimal"),
  other: join(root, "other"),
  v2: join(root, "v2"),
  empty: join(root, "empty"),
};
const logs = { full: join(root, "full.jsonl"), minimal: join(root, "minimal.jsonl") };
const noEnv = {};

beforeAll(async () => {
  if (compiler === undefined) return;
  await compileStubLibkrun(compiler, dirs.full, {
    logPath: logs.full,
    groups: "all",
    features: { 0: 1, 1: 1 },
  });
  await compileStubLibkrunfw(compiler, dirs.full);
  await compileStubLibkrun(compiler, dirs.minimal, { logPath: logs.minimal, groups: [] });
  await compileSharedLibrary(
    compiler,
    dirs.other,
    "libkrun.so.1",
    "libkrun.so.1.0.0",
    "int krun_create_ctx(void) { return 0; }\n",
  );
  const v2Source = stubLibkrunSource({ logPath: join(root, "v2.jsonl"), groups: "all" });
  await compileSharedLibrary(compiler, dirs.v2, "libkrun.so.1", "libkrun.so.2.0.0", v2Source);
  mkdirSync(dirs.empty);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.skipIf(skipReason !== undefined)("libkrun loader contract", () => {
  test("a full build: every group present, version from the real file name", () => {
    const libkrun = loadLibkrun({ libDir: dirs.full, env: noEnv });
    try {
      expect(libkrun.path).toBe(join(dirs.full, "libkrun.so.1"));
      expect(libkrun.realPath).toBe(join(dirs.full, "libkrun.so.1.19.7"));
      expect(libkrun.version).toBe("1.19.7");
      expect(libkrun.rejected).toEqual([]);
      for (const group of Object.keys(LIBKRUN_GROUPS))
        expect({ group, present: libkrun.groups[group as keyof typeof LIBKRUN_GROUPS] }).toEqual({
          group,
          present: true,
        });
      expect(libkrun.missing).toEqual({});
    } finally {
      libkrun.close();
    }
  });

  test("doctor's probe asks krun_has_feature for NET (0) and BLK (1) as uint64", () => {
    rmSync(logs.full, { force: true });
    const facts = probeLibkrun(dirs.full, noEnv);
    expect(facts).toMatchObject({ found: true, version: "1.19.7", features: { net: true, blk: true } });
    expect(readStubCalls(logs.full)).toEqual([
      { fn: "krun_has_feature", args: [Number(KRUN_FEATURE.net)] },
      { fn: "krun_has_feature", args: [Number(KRUN_FEATURE.blk)] },
    ]);
  });

  test("a uint64 feature number above 32 bits reaches C intact", () => {
    rmSync(logs.full, { force: true });
    const libkrun = loadLibkrun({ libDir: dirs.full, env: noEnv });
    try {
      expect(libkrun.optional.features?.krun_has_feature(0x1_0000_0001n)).toBe(-22);
      expect(readStubCalls(logs.full)).toEqual([{ fn: "krun_has_feature", args: [0x1_0000_0001] }]);
    } finally {
      libkrun.close();
    }
  });

  test("core arguments arrive with their C types (uint8_t vcpus, string arrays)", () => {
    rmSync(logs.full, { force: true });
    const libkrun = loadLibkrun({ libDir: dirs.full, env: noEnv });
    try {
      const ctx = libkrun.symbols.krun_create_ctx();
      expect(libkrun.symbols.krun_set_vm_config(ctx, 4, 2048)).toBe(0);
      const env = [Buffer.from("HOME=/root\0"), Buffer.from("TERM=xterm\0")];
      const envp = new BigUint64Array([...env.map((item) => BigInt(ptr(item))), 0n]);
      expect(libkrun.symbols.krun_set_env(ctx, envp)).toBe(0);
      expect(readStubCalls(logs.full)).toEqual([
        { fn: "krun_create_ctx", args: [] },
        { fn: "krun_set_vm_config", args: [ctx, 4, 2048] },
        { fn: "krun_set_env", args: [ctx, ["HOME=/root", "TERM=xterm"]] },
      ]);
    } finally {
      libkrun.close();
    }
  });

  test("a minimal build loads, reports each missing group and names its first symbol", () => {
    const libkrun = loadLibkrun({ libDir: dirs.minimal, env: noEnv });
    try {
      expect(Object.values(libkrun.groups).every((present) => present === false)).toBe(true);
      expect(libkrun.missing.block).toBe("krun_add_disk");
      expect(libkrun.missing.net).toBe("krun_add_net_unixstream");
      expect(libkrun.missing.features).toBe("krun_has_feature");
      expect(libkrun.optional.net).toBeUndefined();
      expect(() => requireGroup(libkrun, "net", "needs NET=1")).toThrow(
        `libkrun at ${join(dirs.minimal, "libkrun.so.1.19.7")} lacks net (krun_add_net_unixstream)`,
      );
    } finally {
      libkrun.close();
    }
  });

  test("without krun_has_feature doctor's probe reports no feature answer and never calls it", () => {
    rmSync(logs.minimal, { force: true });
    const facts = probeLibkrun(dirs.minimal, noEnv);
    expect(facts).toMatchObject({ found: true, features: undefined, groups: { block: false, net: false } });
    expect(readStubCalls(logs.minimal)).toEqual([]);
  });

  test("MSB_LIBKRUN is used when $MSB_HOME/lib has no libkrun", () => {
    const libkrun = loadLibkrun({
      libDir: dirs.empty,
      env: { MSB_LIBKRUN: join(dirs.minimal, "libkrun.so.1") },
    });
    try {
      expect(libkrun.path).toBe(join(dirs.minimal, "libkrun.so.1"));
    } finally {
      libkrun.close();
    }
  });

  test("found by soname through the dynamic loader, the mapped file gives realPath and version", () => {
    const script = `
      const { loadLibkrun } = await import(${JSON.stringify(join(import.meta.dir, "../../ffi/libkrun.ts"))});
      const libkrun = loadLibkrun({ libDir: ${JSON.stringify(dirs.empty)}, env: {} });
      console.log(JSON.stringify({ path: libkrun.path, realPath: libkrun.realPath, version: libkrun.version }));
    `;
    const child = Bun.spawnSync([process.execPath, "-e", script], {
      env: { ...process.env, LD_LIBRARY_PATH: dirs.minimal },
    });
    expect(child.stderr.toString()).toBe("");
    expect(JSON.parse(child.stdout.toString())).toEqual({
      path: "libkrun.so.1",
      realPath: join(dirs.minimal, "libkrun.so.1.19.7"),
      version: "1.19.7",
    });
  });

  test("a library lacking a core symbol is refused with the symbol named", () => {
    const attempt = () => loadLibkrun({ libDir: dirs.other, env: noEnv });
    expect(attempt).toThrow(LibraryNotFoundError);
    expect(attempt).toThrow(`${join(dirs.other, "libkrun.so.1")}: lacks core (krun_set_log_level)`);
  });

  test("a libkrun 2.x file is refused even when MSB_LIBKRUN names it", () => {
    const v2 = join(dirs.v2, "libkrun.so.1");
    const facts = probeLibkrun(dirs.empty, { MSB_LIBKRUN: v2 });
    expect(facts).toEqual({
      found: false,
      rejected: [{ path: v2, reason: "is version 2.0.0; msb binds the 1.x ABI (libkrun.so.1)" }],
    });
  });

  test("MSB_LIBKRUN naming a missing file is reported", () => {
    const missing = join(root, "nowhere", "libkrun.so.1");
    const facts = probeLibkrun(dirs.empty, { MSB_LIBKRUN: missing });
    expect(facts).toEqual({
      found: false,
      rejected: [{ path: missing, reason: "MSB_LIBKRUN names a missing file" }],
    });
  });

  test("libkrunfw: ABI from krunfw_get_version, version from the file name", () => {
    const libkrunfw = loadLibkrunfw({ libDir: dirs.full, env: noEnv });
    try {
      expect(libkrunfw.realPath).toBe(join(dirs.full, "libkrunfw.so.5.4.0"));
      expect(libkrunfw.version).toBe("5.4.0");
      expect(libkrunfw.symbols.krunfw_get_version()).toBe(5);
    } finally {
      libkrunfw.close();
    }
    expect(probeLibkrunfw(dirs.full, noEnv)).toMatchObject({ found: true, abi: 5 });
  });
});
