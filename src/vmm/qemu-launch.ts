// Starts the process that hosts a VM guest (qemu-system with the argv from qemu-argv.ts, or
// `msb vmm vm.json` for libkrun): no stdin, the guest console and the VMM's own messages appended
// to the sandbox's log. The guest resetting (the agent's end, or a panic) ends QEMU (-no-reboot) with status 0.
import { closeSync, openSync } from "node:fs";
import { constants } from "node:os";
import { MsbError } from "../errors.ts";

export interface VmmProcess {
  pid: number;
  exited: Promise<{ code: number | null; signal: string | null }>;
  kill(signal?: NodeJS.Signals): void;
  cleanup(): Promise<void>;
}

/**
 * argv under `setpriv --pdeathsig KILL` where util-linux has it: a VMM (or virtiofsd) must not
 * outlive its supervisor, or a killed supervisor would leave a guest writing to the sandbox's disk.
 */
export function diesWithParent(argv: string[]): string[] {
  const setpriv = Bun.which("setpriv", { PATH: `${process.env.PATH ?? ""}:/usr/bin:/bin` });
  return setpriv === null ? argv : [setpriv, "--pdeathsig", "KILL", "--", ...argv];
}

export function spawnVmm(argv: string[], logFile: string): VmmProcess {
  const log = openSync(logFile, "a", 0o600);
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = Bun.spawn(diesWithParent(argv), { stdin: "ignore", stdout: log, stderr: log });
  } catch (error) {
    throw new MsbError(`cannot start ${argv[0]}: ${(error as Error).message}`, {
      code: "unavailable",
      cause: error,
      hint: "run msb doctor to see which VMM this host can use",
    });
  } finally {
    closeSync(log);
  }
  const exited = child.exited.then((code) => ({
    code: child.signalCode === null ? code : null,
    signal: signalName(child.signalCode),
  }));
  return {
    pid: child.pid,
    exited,
    kill(signal = "SIGTERM") {
      try {
        process.kill(child.pid, signal);
      } catch {
        // Already gone.
      }
    },
    cleanup: async () => {},
  };
}

function signalName(signal: NodeJS.Signals | number | null): string | null {
  if (typeof signal !== "number") return signal;
  return Object.entries(constants.signals).find(([, number]) => number === signal)?.[0] ?? String(signal);
}
