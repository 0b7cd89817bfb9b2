// The doctor report as text: marks, fix lines under failures and warnings only, summary lines.
import { describe, expect, test } from "bun:test";
import { stripVTControlCharacters } from "node:util";
import { renderDoctorReport } from "../../src/doctor/render.ts";
import type { DoctorCheck, DoctorReport } from "../../src/doctor/types.ts";

const KVM_OK: DoctorCheck = {
  id: "kvm",
  label: "KVM",
  ok: true,
  detail: "/dev/kvm is readable and writable",
  required: "vm",
};
const LIBKRUN_MISSING: DoctorCheck = {
  id: "libkrun",
  label: "libkrun",
  ok: false,
  detail: "libkrun.so.1 not found",
  fix: "set MSB_LIBKRUN",
  required: "vm",
};
const LOW_DISK: DoctorCheck = {
  id: "disk",
  label: "free disk",
  ok: true,
  warning: true,
  detail: "only 1.0 GiB free",
  fix: "free some space",
  required: "all",
};
const ROOT_OK: DoctorCheck = {
  id: "root",
  label: "root",
  ok: true,
  detail: "running as root",
  fix: "unused",
  required: "namespace",
};

function render(report: DoctorReport): string[] {
  return stripVTControlCharacters(renderDoctorReport(report)).split("\n");
}

describe("renderDoctorReport", () => {
  test("marks, fixes and summaries when only the namespace backend can run", () => {
    const lines = render({
      home: "/h",
      checks: [KVM_OK, LIBKRUN_MISSING, LOW_DISK, ROOT_OK],
      vmm: null,
      vmReady: false,
      namespaceReady: true,
    });
    expect(lines).toEqual([
      "✓ KVM                 /dev/kvm is readable and writable",
      "✗ libkrun             libkrun.so.1 not found",
      "                      fix: set MSB_LIBKRUN",
      "! free disk           only 1.0 GiB free",
      "                      fix: free some space",
      "✓ root                running as root",
      "",
      "✗ VM sandboxes cannot run here (needs libkrun).",
      "✓ The namespace backend can run here (--isolation namespace).",
    ]);
  });

  test("both backends ready", () => {
    const vmm = { vmm: "libkrun", accel: "kvm", reason: "libkrun with KVM" } as const;
    const lines = render({ home: "/h", checks: [KVM_OK], vmm, vmReady: true, namespaceReady: true });
    expect(lines.slice(-2)).toEqual([
      "✓ VM sandboxes can run here (libkrun).",
      "✓ The namespace backend can run here (--isolation namespace).",
    ]);
  });

  test("the namespace summary names what it lacks", () => {
    const notRoot: DoctorCheck = { ...ROOT_OK, ok: false, detail: "running as uid 1000" };
    const lines = render({
      home: "/h",
      checks: [KVM_OK, notRoot],
      vmm: null,
      vmReady: true,
      namespaceReady: false,
    });
    expect(lines.at(-1)).toBe(
      "✗ The namespace backend (--isolation namespace) cannot run here (needs root).",
    );
  });

  test("a missing fact that only narrows the VMM choice is marked !, and QEMU under TCG is named", () => {
    const noLibkrun: DoctorCheck = { ...LIBKRUN_MISSING, required: "info" };
    const vmm = { vmm: "qemu", accel: "tcg", reason: "QEMU under TCG" } as const;
    const lines = render({ home: "/h", checks: [noLibkrun], vmm, vmReady: true, namespaceReady: true });
    expect(lines.slice(0, 2)).toEqual([
      "! libkrun             libkrun.so.1 not found",
      "                      fix: set MSB_LIBKRUN",
    ]);
    expect(lines.at(-2)).toBe("✓ VM sandboxes can run here (QEMU, TCG: slow).");
  });
});
