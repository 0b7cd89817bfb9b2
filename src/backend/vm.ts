// The VM isolation backend, supervisor side: chooses the VMM (select-vmm.ts), turns the sandbox
// into a VmSpec written to the runtime folder as vm.json, and starts the process that hosts the
// guest: qemu-system directly (with the guest files from src/guest), or `msb vmm vm.json` for
// libkrun (under `unshare --mount` as root, so it can confine itself). The supervisor, its
// sockets, the disks and the agent are the same for both.
import { closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BootMount } from "../agent/boot-config.ts";
import { prepareGuestFiles } from "../guest/guest-files.ts";
import type { GuestNetworkConfig } from "../network/plan.ts";
import type { MsbPaths } from "../paths.ts";
import type { SandboxRecord } from "../store/sandbox-records.ts";
import type { RuntimeLayout } from "../supervisor/runtime-dir.ts";
import { selfCommand } from "../util/self-command.ts";
import { buildVmSpec } from "../vmm/build-vm-spec.ts";
import { buildVmmArgv } from "../vmm/confine-plan.ts";
import { vmmUnshare } from "../vmm/confine-vmm.ts";
import { cachedKvmProbe, resolveQemuAccel } from "../vmm/qemu-accel.ts";
import { buildQemuArgv } from "../vmm/qemu-argv.ts";
import { spawnVmm, type VmmProcess } from "../vmm/qemu-launch.ts";
import { type RunningShares, startVirtiofsd } from "../vmm/qemu-virtiofs.ts";
import { selectVmm, type VmmChoice } from "../vmm/select-vmm.ts";
import { gatherVmmFacts } from "../vmm/vmm-facts.ts";

export interface VmSandboxInput {
  paths: MsbPaths;
  record: SandboxRecord;
  layout: RuntimeLayout;
  /** eth0 as the running network engine sees it; null: no NIC. */
  guestNetwork: GuestNetworkConfig | null;
  /** The spec's mounts with named volumes resolved. */
  mounts: BootMount[];
}

export interface VmSandbox extends VmmProcess {
  choice: VmmChoice;
}

export async function startVmSandbox(input: VmSandboxInput): Promise<VmSandbox> {
  const { paths, record, layout } = input;
  const facts = gatherVmmFacts(paths);
  const choice = selectVmm(facts);
  const spec = buildVmSpec({
    paths,
    spec: { ...record.spec, mounts: input.mounts },
    layout,
    ...(input.guestNetwork ? { guestNetwork: input.guestNetwork } : {}),
  });
  const specPath = join(layout.dir, "vm.json");
  writeFileSync(specPath, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 });
  if (choice.vmm === "qemu") {
    const guest = await prepareGuestFiles(paths);
    const binary = facts.qemu.path ?? facts.qemu.binary;
    const qemu = await resolveQemuAccel(binary, choice, process.env, cachedKvmProbe(paths));
    const log = openSync(layout.guestLog, "a", 0o600);
    let shares: RunningShares;
    try {
      shares = await startVirtiofsd(spec.shares, (index) => join(layout.dir, `fs${index}.sock`), log);
    } finally {
      closeSync(log);
    }
    try {
      const argv = buildQemuArgv({ binary, spec, guest, accel: qemu.accel, shareSockets: shares.sockets });
      const vmm = spawnVmm(argv, layout.guestLog);
      // virtiofsd ends with QEMU's connection; the kill covers a QEMU that never connected.
      return { ...vmm, choice: qemu, cleanup: async () => shares.stop() };
    } catch (error) {
      shares.stop();
      throw error;
    }
  }
  // As root, in a mount namespace of its own, where the vmm confines itself (confine-plan.ts).
  const argv = buildVmmArgv(selfCommand("vmm", specPath), vmmUnshare());
  return { ...spawnVmm(argv, layout.guestLog), choice };
}
