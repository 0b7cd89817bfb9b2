// `msb doctor` as data: runs every host check and says which isolation backends can run. Never
// prints and never starts a VM; the command file renders the report.
import type { MsbPaths } from "../paths.ts";
import { cachedKvmProbe, resolveQemuAccel } from "../vmm/qemu-accel.ts";
import type { KvmProbe } from "../vmm/qemu-kvm-probe.ts";
import { runVmmChecks, vmmFactsFromChecks } from "../vmm/vmm-facts.ts";
import { checkFilesystem, checkFreeDisk, checkLoopDevices, checkMkfsExt4, checkRoot } from "./host-checks.ts";
import { hostProbe } from "./host-probe.ts";
import type { CheckScope, DoctorCheck, DoctorProbe, DoctorReport } from "./types.ts";
import { checkQemu, checkVmm } from "./vm-checks.ts";

export async function runDoctor(
  paths: MsbPaths,
  probe: DoctorProbe = hostProbe(),
  env: Record<string, string | undefined> = process.env,
  kvmProbe: (binary: string) => Promise<KvmProbe> = cachedKvmProbe(paths),
): Promise<DoctorReport> {
  // The same facts and choice as `msb run --isolation vm` (src/vmm/select-vmm.ts).
  const vmmChecks = runVmmChecks(paths, env, probe);
  const facts = vmmFactsFromChecks(vmmChecks);
  const vmm = await checkVmm(facts, async (choice) =>
    choice.vmm === "qemu"
      ? resolveQemuAccel(facts.qemu.path ?? facts.qemu.binary, choice, env, kvmProbe)
      : choice,
  );
  const checks = [
    vmmChecks.kvm,
    vmmChecks.libkrun,
    vmmChecks.libkrunfw,
    checkQemu(vmmChecks.qemu),
    vmm.check,
    checkRoot(probe),
    checkLoopDevices(probe),
    checkFilesystem(probe, "erofs"),
    checkFilesystem(probe, "overlay"),
    checkMkfsExt4(probe),
    checkFreeDisk(probe, paths.home),
  ];
  return {
    home: paths.home,
    checks,
    vmm: vmm.choice,
    vmReady: readyFor(checks, "vm"),
    namespaceReady: readyFor(checks, "namespace"),
  };
}

/** Checks that keep `backend` from running (its own and the shared ones that fail). */
export function blockers(checks: DoctorCheck[], backend: Exclude<CheckScope, "all">): DoctorCheck[] {
  return checks.filter((check) => !check.ok && (check.required === backend || check.required === "all"));
}

function readyFor(checks: DoctorCheck[], backend: Exclude<CheckScope, "all">): boolean {
  return blockers(checks, backend).length === 0;
}
