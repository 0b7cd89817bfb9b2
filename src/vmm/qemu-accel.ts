// The accelerator QEMU really gets: select-vmm.ts picks KVM when /dev/kvm opens, but some hosts
// refuse KVM guests anyway, so a probe (cached) has the last word; `msb run` and `msb doctor`
// both ask here, so the doctor never promises KVM that a run would not get.
import { join } from "node:path";
import { UsageError } from "../errors.ts";
import { guestLibDir } from "../guest/guest-files.ts";
import type { MsbPaths } from "../paths.ts";
import { type KvmProbe, probeQemuKvm } from "./qemu-kvm-probe.ts";
import type { VmmChoice } from "./select-vmm.ts";

/**
 * KVM when QEMU can really use it (/dev/kvm opening is not enough, qemu-kvm-probe.ts), else TCG.
 * MSB_QEMU_ACCEL=kvm|tcg skips the probe, e.g. to compare the two (bench/boot.ts).
 */
export async function resolveQemuAccel(
  binary: string,
  choice: VmmChoice,
  env: Record<string, string | undefined>,
  kvmProbe: (binary: string) => Promise<KvmProbe>,
): Promise<VmmChoice> {
  const pinned = env.MSB_QEMU_ACCEL?.trim();
  if (pinned === "tcg" || pinned === "kvm") {
    return { ...choice, accel: pinned, reason: `${choice.reason}; MSB_QEMU_ACCEL=${pinned}` };
  }
  if (pinned) {
    throw new UsageError(
      `MSB_QEMU_ACCEL=${pinned} is not an accelerator msb knows`,
      "set it to kvm or tcg, or unset it",
    );
  }
  if (choice.accel !== "kvm") return choice;
  const probe = await kvmProbe(binary);
  if (probe.usable) return choice;
  return {
    ...choice,
    accel: "tcg",
    reason: `${choice.reason}, but QEMU cannot run KVM guests here (${probe.reason}): TCG, slow`,
  };
}

/** The real probe, its answer cached under MSB_HOME/lib/guest. */
export function cachedKvmProbe(paths: MsbPaths): (binary: string) => Promise<KvmProbe> {
  return (binary) => probeQemuKvm(binary, join(guestLibDir(paths), "kvm-probe.json"));
}
