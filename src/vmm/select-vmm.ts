// Which VMM hosts a VM sandbox on this host, from facts gathered elsewhere (vmm-facts.ts): libkrun
// when KVM and a complete libkrun are there, else QEMU's microvm machine (KVM when usable, TCG
// otherwise), unless MSB_VMM forces one. Pure, so doctor, the pre-run check and the supervisor
// agree and the tests can describe hosts as tables.
import { MsbError, UsageError } from "../errors.ts";

export const VMM_NAMES = ["libkrun", "qemu"] as const;
export type VmmName = (typeof VMM_NAMES)[number];
export type VmmAccel = "kvm" | "tcg";

/** Something msb can use, or why not and the one-line fix. */
export type Availability = { usable: true; detail: string } | { usable: false; reason: string; fix: string };

export interface VmmFacts {
  /** MSB_VMM; undefined or empty: choose automatically. */
  requested: string | undefined;
  kvm: Availability;
  /** libkrun with every group msb drives, and libkrunfw with the ABI it loads. */
  libkrun: Availability;
  /** The qemu-system binary for this architecture, and the package that provides it. */
  qemu: { binary: string; package: string; path: string | undefined };
}

export interface VmmChoice {
  vmm: VmmName;
  accel: VmmAccel;
  reason: string;
}

export function selectVmm(facts: VmmFacts): VmmChoice {
  const requested = facts.requested?.trim() || undefined;
  if (requested === undefined) return chooseAutomatically(facts);
  if (requested === "libkrun") return forceLibkrun(facts);
  if (requested === "qemu") return forceQemu(facts);
  throw new UsageError(
    `MSB_VMM=${requested} is not a VMM msb can use`,
    `set MSB_VMM to ${VMM_NAMES.join(" or ")}, or unset it to choose automatically`,
  );
}

function chooseAutomatically(facts: VmmFacts): VmmChoice {
  const { libkrun, qemu } = facts;
  const blocker = libkrunBlocker(facts);
  if (blocker === undefined && libkrun.usable) {
    return { vmm: "libkrun", accel: "kvm", reason: `libkrun (${libkrun.detail}) with KVM` };
  }
  const why = blocker?.reason ?? "unusable";
  if (qemu.path !== undefined) {
    return {
      vmm: "qemu",
      accel: qemuAccel(facts),
      reason: `${qemuReason(facts, qemu.path)}; not libkrun (${why})`,
    };
  }
  throw new MsbError(`no VMM can run here (${why}; ${qemu.binary} not found)`, {
    code: "unavailable",
    hint: `${blocker?.fix ?? "run msb doctor"}; or install QEMU (apt install ${qemu.package}) to run VMs without libkrun`,
  });
}

/** Why libkrun cannot host VMs; KVM first, because without it no libkrun build helps. */
function libkrunBlocker({ kvm, libkrun }: VmmFacts): { reason: string; fix: string } | undefined {
  if (!kvm.usable) return { reason: `KVM: ${kvm.reason}`, fix: kvm.fix };
  if (!libkrun.usable) return { reason: `libkrun: ${libkrun.reason}`, fix: libkrun.fix };
  return undefined;
}

function forceLibkrun(facts: VmmFacts): VmmChoice {
  const { kvm, libkrun } = facts;
  if (!kvm.usable) {
    throw new MsbError(`MSB_VMM=libkrun needs KVM: ${kvm.reason}`, { code: "unavailable", hint: kvm.fix });
  }
  if (!libkrun.usable) {
    throw new MsbError(`MSB_VMM=libkrun, but ${libkrun.reason}`, { code: "unavailable", hint: libkrun.fix });
  }
  return { vmm: "libkrun", accel: "kvm", reason: `MSB_VMM=libkrun: libkrun (${libkrun.detail}) with KVM` };
}

function forceQemu(facts: VmmFacts): VmmChoice {
  const { qemu } = facts;
  if (qemu.path === undefined) {
    throw new MsbError(`MSB_VMM=qemu, but ${qemu.binary} was not found`, {
      code: "unavailable",
      hint: `apt install ${qemu.package} (or your distribution's QEMU system emulator package)`,
    });
  }
  return { vmm: "qemu", accel: qemuAccel(facts), reason: `MSB_VMM=qemu: ${qemuReason(facts, qemu.path)}` };
}

function qemuAccel(facts: VmmFacts): VmmAccel {
  return facts.kvm.usable ? "kvm" : "tcg";
}

function qemuReason(facts: VmmFacts, path: string): string {
  const { kvm } = facts;
  if (kvm.usable) return `QEMU microvm (${path}) with KVM`;
  return `QEMU microvm (${path}) under TCG: slow, for testing (KVM: ${kvm.reason})`;
}
