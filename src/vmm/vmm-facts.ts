// Gathers what selectVmm decides from: MSB_VMM, /dev/kvm access, libkrun and libkrunfw (through
// the doctor's checks, so `msb doctor` and `msb run` judge the host the same way) and the
// qemu-system binary for this architecture.
import { hostProbe } from "../doctor/host-probe.ts";
import type { DoctorCheck, DoctorProbe } from "../doctor/types.ts";
import { checkKvm, checkLibkrun, checkLibkrunfw } from "../doctor/vm-checks.ts";
import type { MsbPaths } from "../paths.ts";
import type { Availability, VmmFacts } from "./select-vmm.ts";

export interface QemuSystem {
  binary: string;
  /** Debian's package that provides it. */
  package: string;
}

export function qemuSystem(machine: string = process.arch): QemuSystem {
  if (machine === "arm64") return { binary: "qemu-system-aarch64", package: "qemu-system-arm" };
  return { binary: "qemu-system-x86_64", package: "qemu-system-x86" };
}

export interface VmmCheckResults {
  requested: string | undefined;
  kvm: DoctorCheck;
  libkrun: DoctorCheck;
  libkrunfw: DoctorCheck;
  qemu: QemuSystem & { path: string | undefined };
}

/** VmmFacts from checks already run (doctor runs them once and shows them too). */
export function vmmFactsFromChecks(results: VmmCheckResults): VmmFacts {
  const libkrun = availability(results.libkrun);
  const libkrunfw = availability(results.libkrunfw);
  return {
    requested: results.requested,
    kvm: availability(results.kvm),
    libkrun: !libkrun.usable
      ? libkrun
      : libkrunfw.usable
        ? libkrun
        : { usable: false, reason: `libkrunfw: ${libkrunfw.reason}`, fix: libkrunfw.fix },
    qemu: results.qemu,
  };
}

export function gatherVmmFacts(
  paths: MsbPaths,
  env: Record<string, string | undefined> = process.env,
  probe: DoctorProbe = hostProbe(env),
): VmmFacts {
  return vmmFactsFromChecks(runVmmChecks(paths, env, probe));
}

export function runVmmChecks(
  paths: MsbPaths,
  env: Record<string, string | undefined>,
  probe: DoctorProbe,
): VmmCheckResults {
  const qemu = qemuSystem();
  return {
    requested: env.MSB_VMM,
    kvm: checkKvm(probe),
    libkrun: checkLibkrun(probe, paths.lib),
    libkrunfw: checkLibkrunfw(probe, paths.lib),
    qemu: { ...qemu, path: probe.findExecutable(qemu.binary)?.path },
  };
}

function availability(check: DoctorCheck): Availability {
  if (check.ok) return { usable: true, detail: check.detail };
  return { usable: false, reason: check.detail, fix: check.fix ?? "run msb doctor" };
}
