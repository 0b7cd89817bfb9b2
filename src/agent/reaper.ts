// Orphan reaping for the agent as PID 1. Processes whose parent died are re-parented to PID 1 and
// stay zombies until it waits for them. A blanket waitpid(-1) would also steal the exit status of
// processes Bun spawned (Bun then never learns how they ended), so the reaper waits only for
// zombies that are ours by parentage but not Bun's: Bun holds a pidfd on every child it waits
// for, and the caller can name more children it owns.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { lastErrno, libcSymbols } from "../../ffi/libc.ts";
import { SyscallError } from "../errors.ts";

const WNOHANG = 1;
const ECHILD = 10;
const EINTR = 4;
const DEFAULT_INTERVAL_MS = 500;

export interface ProcStat {
  pid: number;
  ppid: number;
  /** One-letter state from /proc/<pid>/stat: R, S, D, Z, ... */
  state: string;
}

/** Parses /proc/<pid>/stat; the command name may contain spaces and parentheses. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const [state, ppid] = text.slice(close + 2).split(" ");
  const pid = Number(text.slice(0, open).trim());
  if (!state || !Number.isInteger(pid) || !Number.isInteger(Number(ppid))) return null;
  return { pid, ppid: Number(ppid), state };
}

/** Zombies that are children of `self` and belong neither to Bun nor to the caller. */
export function orphanZombies(
  processes: ProcStat[],
  self: number,
  isOwnChild: (pid: number) => boolean,
  bunChildren: Set<number>,
): number[] {
  return processes
    .filter((entry) => entry.ppid === self && entry.state === "Z")
    .filter((entry) => !bunChildren.has(entry.pid) && !isOwnChild(entry.pid))
    .map((entry) => entry.pid);
}

/** Pids this process holds a pidfd for, read from /proc/self/fdinfo. */
export function pidfdHolders(): Set<number> {
  const pids = new Set<number>();
  for (const fd of listOrEmpty("/proc/self/fd")) {
    try {
      if (!readlinkSync(`/proc/self/fd/${fd}`).includes("pidfd")) continue;
      const match = /^Pid:\s*(-?\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
      if (match) pids.add(Number(match[1]));
    } catch {
      // The descriptor closed while we looked.
    }
  }
  return pids;
}

function scanProcesses(): ProcStat[] {
  const processes: ProcStat[] = [];
  for (const name of listOrEmpty("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = parseProcStat(readFileSync(`/proc/${name}/stat`, "utf8"));
      if (stat) processes.push(stat);
    } catch {
      // The process went away during the scan.
    }
  }
  return processes;
}

/** waitpid(pid, WNOHANG): true when the zombie was reaped, false when it is not ours (any more). */
export function reapZombie(pid: number): boolean {
  const status = new Int32Array(1);
  for (;;) {
    const result = libcSymbols().waitpid(pid, status, WNOHANG);
    if (result === pid) return true;
    if (result === 0) return false;
    const errno = lastErrno();
    if (errno === ECHILD) return false;
    if (errno !== EINTR) throw new SyscallError("waitpid", errno, String(pid));
  }
}

/** Reaps the current orphan zombies once; returns their pids. */
export function reapOrphansOnce(isOwnChild: (pid: number) => boolean): number[] {
  // Zombies first, pidfds second: a Bun child still a zombie keeps its pidfd until Bun reaps it.
  const processes = scanProcesses();
  const candidates = orphanZombies(processes, process.pid, isOwnChild, pidfdHolders());
  return candidates.filter((pid) => reapZombie(pid));
}

export function startOrphanReaper(
  isOwnChild: (pid: number) => boolean,
  intervalMs = DEFAULT_INTERVAL_MS,
): { stop(): void } {
  const timer = setInterval(() => {
    try {
      reapOrphansOnce(isOwnChild);
    } catch {
      // A failed round leaves zombies for the next one; PID 1 must not die of it.
    }
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

function listOrEmpty(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
