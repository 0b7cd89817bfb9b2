// Which VMM a host gets: a table of hosts (KVM, libkrun, qemu, MSB_VMM) and the choice or the
// error with its fix.
import { describe, expect, test } from "bun:test";
import type { DoctorCheck } from "../../src/doctor/types.ts";
import { selectVmm, type VmmChoice, type VmmFacts } from "../../src/vmm/select-vmm.ts";
import { qemuSystem, vmmFactsFromChecks } from "../../src/vmm/vmm-facts.ts";

const kvmOk = { usable: true, detail: "/dev/kvm is readable and writable" } as const;
const kvmDenied = {
  usable: false,
  reason: "/dev/kvm is not readable and writable by uid 1000",
  fix: "sudo usermod -aG kvm $USER",
} as const;
const krunOk = { usable: true, detail: "/usr/lib64/libkrun.so.1.19.7" } as const;
const krunMissing = { usable: false, reason: "libkrun.so.1 not found", fix: "install libkrun" } as const;
const qemuFound = {
  binary: "qemu-system-x86_64",
  package: "qemu-system-x86",
  path: "/usr/bin/qemu-system-x86_64",
};
const qemuAbsent = { ...qemuFound, path: undefined };

function host(overrides: Partial<VmmFacts>): VmmFacts {
  return { requested: undefined, kvm: kvmOk, libkrun: krunOk, qemu: qemuFound, ...overrides };
}

describe("selectVmm", () => {
  test.each<[string, Partial<VmmFacts>, Omit<VmmChoice, "reason">, string]>([
    [
      "KVM and libkrun: libkrun",
      {},
      { vmm: "libkrun", accel: "kvm" },
      "libkrun (/usr/lib64/libkrun.so.1.19.7) with KVM",
    ],
    ["libkrun without qemu", { qemu: qemuAbsent }, { vmm: "libkrun", accel: "kvm" }, "with KVM"],
    [
      "no libkrun, KVM: qemu with KVM",
      { libkrun: krunMissing },
      { vmm: "qemu", accel: "kvm" },
      "QEMU microvm (/usr/bin/qemu-system-x86_64) with KVM; not libkrun (libkrun: libkrun.so.1 not found)",
    ],
    [
      "no KVM: qemu under TCG, said to be slow",
      { kvm: kvmDenied },
      { vmm: "qemu", accel: "tcg" },
      "under TCG: slow, for testing (KVM: /dev/kvm is not readable",
    ],
    [
      "neither KVM nor libkrun: qemu TCG",
      { kvm: kvmDenied, libkrun: krunMissing },
      { vmm: "qemu", accel: "tcg" },
      "not libkrun (KVM:",
    ],
    [
      "MSB_VMM=qemu beats libkrun",
      { requested: "qemu" },
      { vmm: "qemu", accel: "kvm" },
      "MSB_VMM=qemu: QEMU microvm",
    ],
    [
      "MSB_VMM=qemu without KVM",
      { requested: "qemu", kvm: kvmDenied },
      { vmm: "qemu", accel: "tcg" },
      "TCG: slow",
    ],
    [
      "MSB_VMM=libkrun",
      { requested: "libkrun" },
      { vmm: "libkrun", accel: "kvm" },
      "MSB_VMM=libkrun: libkrun",
    ],
    [
      "an empty MSB_VMM chooses automatically",
      { requested: " " },
      { vmm: "libkrun", accel: "kvm" },
      "libkrun",
    ],
  ])("%s", (_, facts, choice, reason) => {
    const result = selectVmm(host(facts));
    expect(result).toMatchObject(choice);
    expect(result.reason).toContain(reason);
  });

  test.each<[string, Partial<VmmFacts>, string, string, string]>([
    [
      "an unknown MSB_VMM",
      { requested: "firecracker" },
      "usage",
      "MSB_VMM=firecracker is not a VMM",
      "libkrun or qemu",
    ],
    [
      "MSB_VMM=libkrun without KVM",
      { requested: "libkrun", kvm: kvmDenied },
      "unavailable",
      "MSB_VMM=libkrun needs KVM: /dev/kvm",
      "usermod -aG kvm",
    ],
    [
      "MSB_VMM=libkrun without libkrun",
      { requested: "libkrun", libkrun: krunMissing },
      "unavailable",
      "MSB_VMM=libkrun, but libkrun.so.1 not found",
      "install libkrun",
    ],
    [
      "MSB_VMM=qemu without qemu",
      { requested: "qemu", qemu: qemuAbsent },
      "unavailable",
      "qemu-system-x86_64 was not found",
      "apt install qemu-system-x86",
    ],
    [
      "no libkrun and no qemu",
      { libkrun: krunMissing, qemu: qemuAbsent },
      "unavailable",
      "no VMM can run here (libkrun: libkrun.so.1 not found; qemu-system-x86_64 not found)",
      "install libkrun; or install QEMU (apt install qemu-system-x86)",
    ],
    [
      "no KVM and no qemu: KVM named first",
      { kvm: kvmDenied, libkrun: krunMissing, qemu: qemuAbsent },
      "unavailable",
      "(KVM: /dev/kvm",
      "usermod",
    ],
  ])("refuses %s", (_, facts, code, message, hint) => {
    let error: unknown;
    try {
      selectVmm(host(facts));
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code });
    expect((error as Error).message).toContain(message);
    expect((error as { hint: string }).hint).toContain(hint);
  });
});

describe("vmmFactsFromChecks", () => {
  const check = (id: string, ok: boolean, detail: string, fix?: string): DoctorCheck => ({
    id,
    label: id,
    ok,
    detail,
    fix,
    required: "vm",
  });
  const qemu = { ...qemuSystem("x64"), path: undefined };

  test("libkrun is usable only with a usable libkrunfw", () => {
    const facts = vmmFactsFromChecks({
      requested: "qemu",
      kvm: check("kvm", true, "ok"),
      libkrun: check("libkrun", true, "/lib/libkrun.so.1"),
      libkrunfw: check("libkrunfw", false, "libkrunfw.so.5 not found", "install libkrunfw5"),
      qemu,
    });
    expect(facts).toEqual({
      requested: "qemu",
      kvm: { usable: true, detail: "ok" },
      libkrun: { usable: false, reason: "libkrunfw: libkrunfw.so.5 not found", fix: "install libkrunfw5" },
      qemu,
    });
  });

  test("a libkrun problem is reported before libkrunfw's", () => {
    const facts = vmmFactsFromChecks({
      requested: undefined,
      kvm: check("kvm", false, "no /dev/kvm", "modprobe kvm"),
      libkrun: check("libkrun", false, "lacks NET", "rebuild"),
      libkrunfw: check("libkrunfw", false, "missing", "install"),
      qemu,
    });
    expect(facts.libkrun).toEqual({ usable: false, reason: "lacks NET", fix: "rebuild" });
    expect(facts.kvm).toEqual({ usable: false, reason: "no /dev/kvm", fix: "modprobe kvm" });
  });

  test.each([
    ["x64", "qemu-system-x86_64", "qemu-system-x86"],
    ["arm64", "qemu-system-aarch64", "qemu-system-arm"],
  ])("qemu binary on %s", (machine, binary, pkg) => {
    expect(qemuSystem(machine)).toEqual({ binary, package: pkg });
  });
});
