// Starts the isolation backend a sandbox asked for. Both backends boot the same agent with the
// same boot config and sockets; only the process that hosts the guest differs: unshare for the
// namespace backend, a VMM (qemu-system, or `msb vmm` for libkrun) for the VM backend.
import { closeSync, openSync } from "node:fs";
import type { BootMount } from "../agent/boot-config.ts";
import { startNamespaceSandbox } from "../backend/namespace.ts";
import { startVmSandbox } from "../backend/vm.ts";
import type { GuestNetworkConfig } from "../network/plan.ts";
import type { MsbPaths } from "../paths.ts";
import type { SandboxRecord } from "../store/sandbox-records.ts";
import { selfCommand } from "../util/self-command.ts";
import { describeVmmExit } from "../vmm/vmm-exit.ts";
import type { RuntimeLayout } from "./runtime-dir.ts";

export interface RunningBackend {
  pid: number;
  exited: Promise<{ code: number | null; signal: string | null }>;
  kill(signal?: NodeJS.Signals): void;
  cleanup(): Promise<void>;
  /** What an exit of the hosting process means (a VMM's statuses mean more than a plain exit). */
  describeExit?(exit: { code: number | null; signal: string | null }): string;
}

export interface BackendContext {
  paths: MsbPaths;
  guestNetwork: GuestNetworkConfig | null;
  /** The spec's mounts with named volumes resolved (host paths and disk images). */
  mounts: BootMount[];
  /** One line for the supervisor's log (which VMM, and why). */
  log: (line: string) => void;
}

export async function startBackend(
  record: SandboxRecord,
  layout: RuntimeLayout,
  context: BackendContext,
): Promise<RunningBackend> {
  closeSync(openSync(layout.guestLog, "a"));
  if (record.spec.isolation === "vm") {
    const vm = await startVmSandbox({ ...context, record, layout });
    context.log(`vmm: ${vm.choice.reason}`);
    return {
      ...vm,
      describeExit: (exit) => describeVmmExit(exit.code, exit.signal, vm.choice.vmm).description,
    };
  }
  return startNamespaceSandbox({
    agentCommand: selfCommand("agent", layout.bootConfig),
    cgroupName: record.id,
    cpus: record.spec.cpus,
    memoryBytes: record.spec.memoryBytes,
    logFile: layout.guestLog,
  });
}
