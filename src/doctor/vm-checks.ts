// Checks for the VM backend: KVM access, libkrun with the features msb drives (virtio-blk for the
// image and upper disks, virtio-net for net.sock, named console ports for the agent channel, no
// implicit vsock, a read-only boot share), libkrunfw with the ABI libkrun ≥1.17 loads, and QEMU.
// Each is a fact ("info"); the "vmm" check says which VMM those facts select and blocks VMs
// only when none can run.
import { LIBKRUNFW_ABI } from "../../ffi/libkrunfw.ts";
import { MsbError } from "../errors.ts";
import { selectVmm, type VmmChoice, type VmmFacts } from "../vmm/select-vmm.ts";
import type { DoctorCheck, DoctorProbe, LibkrunFacts, LibkrunfwFacts, RejectedLibrary } from "./types.ts";

const KVM = "/dev/kvm";

export function checkKvm(probe: DoctorProbe): DoctorCheck {
  const base = { id: "kvm", label: "KVM", required: "info" } as const;
  const failure = probe.openReadWrite(KVM);
  if (failure === undefined) return { ...base, ok: true, detail: `${KVM} is readable and writable` };
  if (failure === "ENOENT") {
    return {
      ...base,
      ok: false,
      detail: `${KVM} does not exist`,
      fix:
        "load the KVM module (modprobe kvm_intel or kvm_amd) and enable virtualization (VT-x/AMD-V, " +
        "or nested virtualization on a cloud VM); without KVM use --isolation namespace",
    };
  }
  if (failure === "EACCES" || failure === "EPERM") {
    return {
      ...base,
      ok: false,
      detail: `${KVM} is not readable and writable by uid ${probe.uid()}`,
      fix: "sudo usermod -aG kvm $USER, then log in again",
    };
  }
  return {
    ...base,
    ok: false,
    detail: `cannot open ${KVM} (${failure})`,
    fix: "check that KVM works on this host",
  };
}

export function checkLibkrun(probe: DoctorProbe, libDir: string): DoctorCheck {
  const base = { id: "libkrun", label: "libkrun", required: "info" } as const;
  const facts = probe.libkrun(libDir);
  if (!facts.found) {
    return {
      ...base,
      ok: false,
      detail: notFoundDetail("libkrun.so.1", libDir, "MSB_LIBKRUN", facts.rejected),
      fix:
        "install libkrun ≥1.18 built with BLK=1 NET=1, then run bash scripts/setup.sh " +
        `(copies it into ${libDir}) or set MSB_LIBKRUN=/path/libkrun.so.1`,
    };
  }
  const { features, source } = libkrunFeatures(facts);
  const lacking: string[] = [];
  if (!features.blk) lacking.push("BLK (virtio-blk disks)");
  if (!features.net) lacking.push("NET (virtio-net)");
  for (const [group, what] of REQUIRED_GROUPS) {
    if (!facts.groups[group])
      lacking.push(`${what} (${facts.missing[group] ?? group}, ${VERSION_OF[group]})`);
  }
  const where = `${facts.realPath}${facts.version ? `, version ${facts.version}` : ""}`;
  if (lacking.length === 0) {
    return { ...base, ok: true, detail: `${where}, features NET BLK (${source})` };
  }
  return {
    ...base,
    ok: false,
    detail: `${where} lacks ${lacking.join(", ")}`,
    fix:
      "install a libkrun ≥1.18 built with BLK=1 NET=1 and point MSB_LIBKRUN at it " +
      `(or copy it into ${libDir} with bash scripts/setup.sh)`,
  };
}

/** Symbol groups of ffi/libkrun.ts the vmm calls on every boot, and what each is for. */
const REQUIRED_GROUPS: [string, string][] = [
  ["console", "explicit consoles"],
  ["consolePorts", "console ports"],
  ["vsock", "turning off TSI"],
  ["virtiofs3", "read-only shares"],
];

const VERSION_OF: Record<string, string> = {
  console: "libkrun ≥1.16",
  consolePorts: "libkrun ≥1.17",
  vsock: "libkrun ≥1.17",
  virtiofs3: "libkrun ≥1.18",
};

function libkrunFeatures(facts: Extract<LibkrunFacts, { found: true }>) {
  if (facts.features !== undefined) return { features: facts.features, source: "krun_has_feature" };
  return {
    features: { net: facts.groups.net === true, blk: facts.groups.block === true },
    source: "from exported symbols",
  };
}

export function checkLibkrunfw(probe: DoctorProbe, libDir: string): DoctorCheck {
  const base = { id: "libkrunfw", label: "libkrunfw", required: "info" } as const;
  const facts: LibkrunfwFacts = probe.libkrunfw(libDir);
  if (!facts.found) {
    return {
      ...base,
      ok: false,
      detail: notFoundDetail("libkrunfw.so.5", libDir, "MSB_LIBKRUNFW", facts.rejected),
      fix:
        "install libkrunfw 5.x (Debian/Ubuntu package libkrunfw5), then run bash scripts/setup.sh " +
        `(copies it into ${libDir}) or set MSB_LIBKRUNFW=/path/libkrunfw.so.5`,
    };
  }
  const where = `${facts.realPath}${facts.version ? `, version ${facts.version}` : ""}`;
  if (facts.abi === LIBKRUNFW_ABI) return { ...base, ok: true, detail: `${where}, ABI ${facts.abi}` };
  return {
    ...base,
    ok: false,
    detail: `${where} has ABI ${facts.abi}; libkrun ≥1.17 needs ABI ${LIBKRUNFW_ABI}`,
    fix: "install libkrunfw ≥5.0 and point MSB_LIBKRUNFW at its libkrunfw.so.5",
  };
}

function notFoundDetail(soname: string, libDir: string, envVar: string, rejected: RejectedLibrary[]): string {
  const refused = rejected.map((entry) => `; ${entry.path}: ${entry.reason}`).join("");
  return `${soname} not found in ${libDir}, ${envVar} or the system library paths${refused}`;
}

export interface QemuLocation {
  binary: string;
  package: string;
  path: string | undefined;
}

export function checkQemu(qemu: QemuLocation): DoctorCheck {
  const base = { id: "qemu", label: "QEMU", required: "info" } as const;
  if (qemu.path !== undefined) return { ...base, ok: true, detail: qemu.path };
  return {
    ...base,
    ok: false,
    detail: `${qemu.binary} not found (the VMM for hosts without libkrun or KVM)`,
    fix: `apt install ${qemu.package}`,
  };
}

/** Which VMM `msb run --isolation vm` will use and why; fails when none can run. */
export async function checkVmm(
  facts: VmmFacts,
  /** The last word on the accelerator (a QEMU KVM probe); the identity by default. */
  refine: (choice: VmmChoice) => Promise<VmmChoice> = async (choice) => choice,
): Promise<{ check: DoctorCheck; choice: VmmChoice | null }> {
  const base = { id: "vmm", label: "VMM", required: "vm" } as const;
  let choice: VmmChoice;
  try {
    choice = await refine(selectVmm(facts));
  } catch (error) {
    if (!(error instanceof MsbError)) throw error;
    return {
      check: { ...base, ok: false, detail: error.message, fix: error.hint ?? "run msb doctor" },
      choice: null,
    };
  }
  if (choice.accel === "kvm") return { check: { ...base, ok: true, detail: choice.reason }, choice };
  const fix = facts.kvm.usable ? undefined : `for speed give QEMU KVM: ${facts.kvm.fix}`;
  return {
    check: { ...base, ok: true, warning: true, detail: choice.reason, ...(fix ? { fix } : {}) },
    choice,
  };
}
