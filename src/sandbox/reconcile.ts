// Brings a sandbox record in line with reality before any command trusts it. No daemon keeps
// the store up to date, so a supervisor killed with SIGKILL leaves a "running" row behind: the
// supervisor holds its sandbox's lock for its whole life, and a free lock means it is gone.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { removeSandboxCgroup } from "../backend/cgroup.ts";
import { runtimeDir, sandboxDir } from "../paths.ts";
import { deleteSandbox, findSandbox, type SandboxRecord, updateStatus } from "../store/sandbox-records.ts";
import type { Store } from "../store/store.ts";
import { tryLock } from "../util/file-lock.ts";
import { releaseVolumesAfterSupervisor } from "../volume/attach-volumes.ts";
import { type ExitReason, isActive, reconcileState, type SandboxState } from "./state.ts";

export function sandboxLockPath(store: Store, record: Pick<SandboxRecord, "id">): string {
  return join(store.paths.locks, `sandbox-${record.id}.lock`);
}

/** A zombie counts as gone: it has exited and only waits for its parent to collect it. */
export function isProcessAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Returns the record as it really is, marking a sandbox whose supervisor died as crashed. */
export async function reconcileSandbox(store: Store, record: SandboxRecord): Promise<SandboxRecord> {
  if (!isActive(record.status)) return record;
  const lock = tryLock(sandboxLockPath(store, record));
  if (!lock) return record;
  try {
    const status = reconcileState(record.status, false);
    await cleanUpAfterSupervisor(store, record, status, status === "crashed" ? "crashed" : "completed");
  } finally {
    lock.release();
  }
  return findSandbox(store.db, record.spec.name) ?? { ...record, status: "stopped", supervisorPid: null };
}

/**
 * What a supervisor does when it ends, done for it when it could not (killed, or crashed):
 * remove the runtime folder and cgroup, then record the end (or forget an ephemeral sandbox).
 * Call with the sandbox's lock held.
 */
export async function cleanUpAfterSupervisor(
  store: Store,
  record: SandboxRecord,
  status: SandboxState,
  reason: ExitReason,
): Promise<void> {
  rmSync(runtimeDir(store.paths, record.id), { recursive: true, force: true });
  await removeSandboxCgroup(record.id).catch(() => undefined);
  await releaseVolumesAfterSupervisor(store, record);
  if (record.spec.ephemeral) {
    rmSync(sandboxDir(store.paths, record.spec.name), { recursive: true, force: true });
    deleteSandbox(store.db, record.spec.name);
    return;
  }
  updateStatus(store.db, record.spec.name, status, {
    exitReason: reason,
    stoppedAt: new Date().toISOString(),
    supervisorPid: null,
  });
}
