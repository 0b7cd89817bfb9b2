// Ends every process still running in the sandbox at shutdown: SIGTERM to all (kill(-1)), then
// SIGKILL to whatever is left after the grace period. Zombies count as gone (the reaper or Bun
// collects them); kernel threads (a VM's pid 2 and its children) are not the sandbox's.
import { readdirSync, readFileSync } from "node:fs";
import { parseProcStat } from "./reaper.ts";

const POLL_MS = 20;
/** How long to wait for SIGKILLed processes to disappear before going on regardless. */
const KILL_WAIT_MS = 2000;
const KTHREADD = 2;

export async function terminateRemainingProcesses(graceMs: number): Promise<void> {
  if (liveProcesses().length === 0) return;
  signalEveryone("SIGTERM");
  if (await waitUntilAlone(graceMs)) return;
  signalEveryone("SIGKILL");
  await waitUntilAlone(KILL_WAIT_MS);
}

/** Pids of live processes other than the agent and kernel threads. */
export function liveProcesses(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    const stat = parseProcStat(text);
    if (!stat || stat.state === "Z" || stat.pid === KTHREADD || stat.ppid === KTHREADD) continue;
    pids.push(stat.pid);
  }
  return pids;
}

function signalEveryone(signal: NodeJS.Signals): void {
  try {
    process.kill(-1, signal);
  } catch {
    // ESRCH: nobody left to signal.
  }
}

async function waitUntilAlone(timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (liveProcesses().length === 0) return true;
    if (Date.now() >= deadline) return false;
    await Bun.sleep(POLL_MS);
  }
}
