// Checks for the VM backend: KVM access, libkrun with the features msb drives (virtio-blk for the
// image and upper disks, virtio-net for net.sock, named console ports for the agent channel), and
// libkrunfw with the ABI libkrun ≥1.17 loads.
import { LIBKRUNFW_ABI } from "../../ffi/libkrunfw.ts";
import type { DoctorCheck, DoctorProbe, LibkrunFacts, LibkrunfwFacts, RejectedLibrary } from "./types.ts";

const KVM = "/dev/kvm";

export function checkKvm(probe: DoctorProbe): DoctorCheck {
  const base = { id: "kvm", label: "KVM", required: "vm" } as const;
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
  const base = { id: "libkrun", label: "libkrun", required: "vm" } as const;
  const facts = probe.libkrun(libDir);
  if (!facts.found) {
    return {
      ...base,
      ok: false,
      detail: notFoundDetail("libkrun.so.1", libDir, "MSB_LIBKRUN", facts.rejected),
      fix:
        "install libkrun ≥1.17 built with BLK=1 NET=1, then run bash scripts/setup.sh " +
        `(copies it into ${libDir}) or set MSB_LIBKRUN=/path/libkrun.so.1`,
    };
  }
  const { features, source } = libkrunFeatures(facts);
  const lacking: string[] = [];
  if (!features.blk) lacking.push("BLK (virtio-blk disks)");
  if (!features.net) lacking.push("NET (virtio-net)");
  if (!facts.groups.consolePorts)
    lacking.push(`console ports (${facts.missing.consolePorts}, libkrun ≥1.17)`);
  const where = `${facts.realPath}${facts.version ? `, version ${facts.version}` : ""}`;
  if (lacking.length === 0) {
    return { ...base, ok: true, detail: `${where}, features NET BLK (${source})` };
  }
  return {
    ...base,
    ok: false,
    detail: `${where} lacks ${lacking.join(", ")}`,
    fix:
      "install a libkrun ≥1.17 built with BLK=1 NET=1 and point MSB_LIBKRUN at it " +
      `(or copy it into ${libDir} with bash scripts/setup.sh)`,
  };
}

function libkrunFeatures(facts: Extract<LibkrunFacts, { found: true }>) {
  if (facts.features !== undefined) return { features: facts.features, source: "krun_has_feature" };
  return {
    features: { net: facts.groups.net === true, blk: facts.groups.block === true },
    source: "from exported symbols",
  };
}

export function checkLibkrunfw(probe: DoctorProbe, libDir: string): DoctorCheck {
  const base = { id: "libkrunfw", label: "libkrunfw", required: "vm" } as const;
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
