// The pure parts of the library loader: search order, version parsing, and the libkrun symbol
// tables staying in step with the recording stand-in the contract tests compile.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LIBKRUN_CORE, LIBKRUN_GROUPS } from "../../ffi/libkrun.ts";
import { libraryCandidates, parseLibraryVersion, SYSTEM_LIB_DIRS } from "../../ffi/loader.ts";
import { STUB_PARAMS } from "../helpers/stub-libkrun.ts";

const scratch = mkdtempSync(join(tmpdir(), "msb-ffi-loader-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("libraryCandidates", () => {
  test("MSB_HOME/lib, then the env path, then system dirs, then the bare soname", () => {
    const candidates = libraryCandidates({
      soname: "libkrun.so.1",
      libDir: "/h/lib",
      envValue: "/opt/k/libkrun.so.1",
    });
    expect(candidates).toEqual([
      "/h/lib/libkrun.so.1",
      "/opt/k/libkrun.so.1",
      ...SYSTEM_LIB_DIRS.map((dir) => `${dir}/libkrun.so.1`),
      "libkrun.so.1",
    ]);
  });

  test("an env value naming a directory means the soname inside it", () => {
    const candidates = libraryCandidates({ soname: "libkrunfw.so.5", libDir: "/h/lib", envValue: scratch });
    expect(candidates[1]).toBe(join(scratch, "libkrunfw.so.5"));
  });

  test("an unset or blank env value adds nothing", () => {
    const unset = libraryCandidates({ soname: "libkrun.so.1", libDir: "/h/lib", envValue: undefined });
    const blank = libraryCandidates({ soname: "libkrun.so.1", libDir: "/h/lib", envValue: "  " });
    expect(unset).toEqual(blank);
    expect(unset).toHaveLength(SYSTEM_LIB_DIRS.length + 2);
  });
});

describe("parseLibraryVersion", () => {
  test.each([
    ["/usr/lib64/libkrun.so.1.19.7", "libkrun.so.1", "1.19.7"],
    ["libkrun.so.1.15", "libkrun.so.1", "1.15"],
    ["/usr/lib/x86_64-linux-gnu/libkrunfw.so.5.5.0", "libkrunfw.so.5", "5.5.0"],
    ["/opt/libkrun.so.2.0.0", "libkrun.so.1", "2.0.0"],
    ["/usr/lib64/libkrun.so.1", "libkrun.so.1", undefined],
    ["/usr/lib64/libkrun.so", "libkrun.so.1", undefined],
    ["/tmp/custom-build.so", "libkrun.so.1", undefined],
    ["/usr/lib64/libkrun-sev.so.1.19.0", "libkrun.so.1", undefined],
  ])("%s", (file, soname, version) => {
    expect(parseLibraryVersion(file, soname)).toBe(version);
  });
});

describe("libkrun symbol tables", () => {
  const tables = [LIBKRUN_CORE, ...Object.values(LIBKRUN_GROUPS)];

  test("every symbol returns int32_t and appears in one table only", () => {
    const names = tables.flatMap((table) => Object.keys(table));
    expect(new Set(names).size).toBe(names.length);
    for (const table of tables) {
      for (const signature of Object.values(table)) expect(signature.returns).toBe("i32");
    }
  });

  test("the recording stand-in declares the same C types for every symbol", () => {
    const pointerKinds = new Set(["str", "strv", "mac", "data"]);
    for (const table of tables) {
      for (const [name, signature] of Object.entries(table)) {
        const stubTypes = STUB_PARAMS[name]?.map((param) => (pointerKinds.has(param) ? "ptr" : param));
        expect({ name, args: stubTypes }).toEqual({ name, args: [...signature.args] });
      }
    }
  });

  test("the core never includes build-dependent symbols", () => {
    const core = Object.keys(LIBKRUN_CORE);
    for (const dependent of ["krun_add_disk", "krun_add_net_unixstream", "krun_has_feature"]) {
      expect(core).not.toContain(dependent);
    }
  });
});
