// Starts the isolation backend a sandbox asked for. Both backends boot the same agent with the
// same boot config and sockets; only the process that hosts the guest differs.
import { closeSync, openSync } from "node:fs";
import { startNamespaceSandbox } from "../backend/namespace.ts";
import { MsbError } from "../errors.ts";
import type { SandboxRecord } from "../store/sandbox-records.ts";
import { selfCommand } from "../util/self-command.ts";
import type { RuntimeLayout } from "./runtime-dir.ts";

export interface RunningBackend {
  pid: number;
  exited: Promise<{ code: number | null; signal: string | null }>;
  kill(signal?: NodeJS.Signals): void;
  cleanup(): Promise<void>;
}

export async function startBackend(record: SandboxRecord, layout: RuntimeLayout): Promise<RunningBackend> {
  if (record.spec.isolation !== "namespace") {
    throw new MsbError("the VM backend is not part of this build yet", {
      code: "unavailable",
      hint: "use --isolation namespace (or MSB_ISOLATION=namespace)",
    });
  }
  closeSync(openSync(layout.guestLog, "a"));
  return startNamespaceSandbox({
    agentCommand: selfCommand("agent", layout.bootConfig),
    cgroupName: record.id,
    cpus: record.spec.cpus,
    memoryBytes: record.spec.memoryBytes,
    logFile: layout.guestLog,
  });
}
