// `msb doctor` as a process, with stand-in libraries in $MSB_HOME/lib: the report reads the
// libraries through the real FFI loader, and the exit status says whether a VM can run.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DoctorReport } from "../../src/doctor/types.ts";
import { announceSkip } from "../helpers/skip.ts";
import {
  compileSharedLibrary,
  compileStubLibkrun,
  compileStubLibkrunfw,
  findCCompiler,
  stubLibkrunfwSource,
} from "../helpers/stub-libkrun.ts";

const MAIN = join(import.meta.dir, "../../src/main.ts");
const compiler = findCCompiler();
const skipReason = announceSkip(
  "msb doctor contract",
  compiler === undefined ? "no C compiler (cc, gcc or clang) to build the stand-in libkrun" : undefined,
);
const root = mkdtempSync(join(tmpdir(), "msb-doctor-contract-"));
const homes = { full: join(root, "full"), minimal: join(root, "minimal") };

beforeAll(async () => {
  if (compiler === undefined) return;
  const features = { 0: 1, 1: 1 };
  await compileStubLibkrun(compiler, join(homes.full, "lib"), {
    logPath: join(root, "full.jsonl"),
    groups: "all",
    features,
  });
  await compileStubLibkrunfw(compiler, join(homes.full, "lib"));
  await compileStubLibkrun(compiler, join(homes.minimal, "lib"), {
    logPath: join(root, "minimal.jsonl"),
    groups: [],
  });
  const wrongAbi = stubLibkrunfwSource(4);
  await compileSharedLibrary(
    compiler,
    join(homes.minimal, "lib"),
    "libkrunfw.so.5",
    "libkrunfw.so.5.4.0",
    wrongAbi,
  );
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function doctor(home: string, format: "json" | "table") {
  const child = Bun.spawnSync([process.execPath, MAIN, "doctor", "--format", format], {
    env: { ...process.env, MSB_HOME: home, MSB_LIBKRUN: "", MSB_LIBKRUNFW: "", NO_COLOR: "1" },
  });
  return { exitCode: child.exitCode, stdout: child.stdout.toString() };
}

function check(report: DoctorReport, id: string) {
  return report.checks.find((entry) => entry.id === id);
}

describe.skipIf(skipReason !== undefined)("msb doctor contract", () => {
  test("full libraries in $MSB_HOME/lib pass; the exit status follows vmReady", () => {
    const { exitCode, stdout } = doctor(homes.full, "json");
    const report = JSON.parse(stdout) as DoctorReport;
    expect(check(report, "libkrun")).toMatchObject({
      ok: true,
      detail: `${homes.full}/lib/libkrun.so.1.19.7, version 1.19.7, features NET BLK (krun_has_feature)`,
    });
    expect(check(report, "libkrunfw")).toMatchObject({ ok: true, detail: expect.stringContaining("ABI 5") });
    expect(report.vmReady).toBe(check(report, "vmm")?.ok === true && check(report, "mkfs-ext4")?.ok === true);
    expect(exitCode).toBe(report.vmReady ? 0 : 1);
    // With KVM the full libkrun is the choice; without it QEMU (if any) under TCG.
    if (check(report, "kvm")?.ok) expect(report.vmm).toMatchObject({ vmm: "libkrun", accel: "kvm" });
    else expect(report.vmm?.vmm ?? "none").not.toBe("libkrun");
  });

  test("a core-only libkrun and an ABI 4 libkrunfw fail with reasons; only QEMU can be chosen", () => {
    const { exitCode, stdout } = doctor(homes.minimal, "json");
    const report = JSON.parse(stdout) as DoctorReport;
    expect(check(report, "libkrun")).toMatchObject({
      ok: false,
      detail:
        `${homes.minimal}/lib/libkrun.so.1.19.7, version 1.19.7 lacks BLK (virtio-blk disks), NET (virtio-net), ` +
        "explicit consoles (krun_disable_implicit_console, libkrun ≥1.16), " +
        "console ports (krun_add_virtio_console_multiport, libkrun ≥1.17), " +
        "turning off TSI (krun_disable_implicit_vsock, libkrun ≥1.17), " +
        "read-only shares (krun_add_virtiofs3, libkrun ≥1.18)",
    });
    expect(check(report, "libkrunfw")).toMatchObject({
      ok: false,
      detail: `${homes.minimal}/lib/libkrunfw.so.5.4.0, version 5.4.0 has ABI 4; libkrun ≥1.17 needs ABI 5`,
    });
    expect(report.vmm?.vmm ?? "none").not.toBe("libkrun");
    expect(report.vmReady).toBe(report.vmm !== null && check(report, "mkfs-ext4")?.ok === true);
    expect(exitCode).toBe(report.vmReady ? 0 : 1);
  });

  test("the table names each check and ends with both summaries", () => {
    const { stdout } = doctor(homes.minimal, "table");
    expect(stdout).toContain("! libkrun ");
    expect(stdout).toContain("fix: install a libkrun ≥1.18 built with BLK=1 NET=1");
    expect(stdout).toMatch(/[✓!✗] VMM {17}\S/);
    expect(stdout).toMatch(/VM sandboxes (can|cannot) run here/);
    expect(stdout).toMatch(/The namespace backend .*(can|cannot) run here/);
  });
});
