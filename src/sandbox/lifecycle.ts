// Sandbox lifecycle as the CLI drives it: create (record + writable disk), start (spawn the
// detached supervisor and wait until the agent is ready), stop, remove. Every operation first
// reconciles the record with reality, then checks the state machine.
import { closeSync, mkdirSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createUpperDisk } from "../backend/upper-disk.ts";
import { MsbError } from "../errors.ts";
import { sandboxDir } from "../paths.ts";
import { connectUnix } from "../protocol/channel-unix.ts";
import { FrameKind } from "../protocol/messages.ts";
import { deleteSandbox, findSandbox, insertSandbox, type SandboxRecord } from "../store/sandbox-records.ts";
import type { Store } from "../store/store.ts";
import { runtimeLayout } from "../supervisor/runtime-dir.ts";
import { encodeSecretValues, supervisorEnv } from "../supervisor/secret-delivery.ts";
import { within } from "../util/deadline.ts";
import { type FileLock, tryLock } from "../util/file-lock.ts";
import { selfCommand } from "../util/self-command.ts";
import { secretValuesForStart } from "./parse-secret.ts";
import { cleanUpAfterSupervisor, isProcessAlive, reconcileSandbox, sandboxLockPath } from "./reconcile.ts";
import type { SandboxSpec } from "./spec.ts";
import { assertCanDo, isActive } from "./state.ts";

const SUPERVISOR_READY_TIMEOUT_MS = 60_000;

export async function requireSandbox(store: Store, name: string): Promise<SandboxRecord> {
  const record = findSandbox(store.db, name);
  if (!record)
    throw new MsbError(`sandbox not found: ${name}`, {
      code: "notFound",
      hint: "list sandboxes with 'msb ls'",
    });
  return reconcileSandbox(store, record);
}

/** Records the sandbox and creates its writable disk; nothing runs yet. */
export async function createSandbox(store: Store, spec: SandboxSpec): Promise<SandboxRecord> {
  const record = insertSandbox(store.db, spec);
  const dir = sandboxDir(store.paths, spec.name);
  try {
    mkdirSync(join(dir, "logs"), { recursive: true });
    await createUpperDisk(join(dir, "upper.ext4"), spec.diskBytes);
    return record;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    deleteSandbox(store.db, spec.name);
    throw error;
  }
}

/**
 * Spawns the sandbox's supervisor and returns once the agent inside is ready. `secretFlags` are
 * this command's --secret texts; secrets read from the environment are read again from ours.
 * Their values go to the supervisor over its stdin only.
 */
export async function startSandbox(
  store: Store,
  name: string,
  secretFlags: readonly string[] = [],
): Promise<void> {
  const record = await requireSandbox(store, name);
  assertCanDo("start", record);
  const secrets = record.spec.network?.secrets ?? [];
  const values = secretValuesForStart(name, secrets, secretFlags, process.env);
  const logDir = join(sandboxDir(store.paths, name), "logs");
  mkdirSync(logDir, { recursive: true });
  const log = openSync(join(logDir, "supervisor.log"), "a");
  const supervisor = Bun.spawn(selfCommand("supervisor", name), {
    detached: true,
    stdio: ["pipe", "pipe", log],
    env: supervisorEnv(
      process.env,
      secrets.map((secret) => secret.name),
      store.paths.home,
    ),
  });
  closeSync(log);
  try {
    if (secrets.length > 0) supervisor.stdin.write(encodeSecretValues(values));
    await supervisor.stdin.end();
  } catch {
    // The supervisor is gone already; its report (or exit status) below says why.
  }
  const report = await readReport(supervisor.stdout, supervisor.exited);
  supervisor.unref();
  if (!report.ready) {
    throw new MsbError(`sandbox ${name} failed to start: ${report.error ?? "the supervisor exited"}`, {
      hint: `see ${logDir}/supervisor.log and ${logDir}/guest.log`,
    });
  }
}

async function readReport(
  stdout: ReadableStream<Uint8Array>,
  exited: Promise<number>,
): Promise<{ ready: boolean; error?: string }> {
  const reader = stdout.getReader();
  let text = "";
  const line = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += new TextDecoder().decode(value);
      if (text.includes("\n")) return text;
    }
  })();
  const outcome = await within(line, SUPERVISOR_READY_TIMEOUT_MS, undefined);
  reader.releaseLock();
  await stdout.cancel().catch(() => undefined);
  if (outcome === undefined) return { ready: false, error: "timed out waiting for the sandbox to boot" };
  const first = outcome.split("\n")[0] ?? "";
  if (first === "") {
    const code = await exited;
    return { ready: false, error: `the supervisor exited with status ${code}` };
  }
  try {
    return JSON.parse(first) as { ready: boolean; error?: string };
  } catch {
    return { ready: false, error: first };
  }
}

export interface StopOptions {
  force?: boolean;
  /** Seconds between asking processes to stop and killing them. */
  timeoutSeconds?: number;
}

/**
 * Stops a running sandbox: graceful shutdown through its agent, or SIGKILL with --force. Done
 * when the supervisor's lock is free (its pid can look gone while its threads still exit).
 */
export async function stopSandbox(store: Store, name: string, options: StopOptions = {}): Promise<void> {
  const record = await requireSandbox(store, name);
  assertCanDo("stop", record);
  const lockPath = sandboxLockPath(store, record);
  const graceMs = (options.timeoutSeconds ?? 10) * 1000;
  let gone: FileLock | undefined;
  if (!options.force) {
    try {
      const channel = await connectUnix(runtimeLayout(store.paths, record).controlSocket, {
        timeoutMs: 5_000,
      });
      channel.sendJson(FrameKind.shutdown, 0, { graceMs });
      channel.close();
    } catch {
      // Not answering: it may be shutting down already; give it the same time to finish.
    }
    gone = await waitForLock(lockPath, graceMs + 10_000);
  }
  if (!gone) {
    if (record.supervisorPid !== null && isProcessAlive(record.supervisorPid)) {
      process.kill(record.supervisorPid, "SIGKILL");
    }
    gone = await waitForLock(lockPath, 10_000);
    if (!gone) throw new MsbError(`sandbox ${name} did not stop`, { hint: "retry 'msb stop -f'" });
  }
  try {
    const after = findSandbox(store.db, name);
    if (after && isActive(after.status)) await cleanUpAfterSupervisor(store, after, "stopped", "killed");
  } finally {
    gone.release();
  }
}

async function waitForLock(path: string, timeoutMs: number): Promise<FileLock | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lock = tryLock(path);
    if (lock || Date.now() > deadline) return lock;
    await Bun.sleep(10);
  }
}

/** Removes a sandbox and everything it stored; a running one only with --force (stops it first). */
export async function removeSandbox(
  store: Store,
  name: string,
  options: { force?: boolean } = {},
): Promise<void> {
  const record = await requireSandbox(store, name);
  if (isActive(record.status) && options.force) await stopSandbox(store, name, { force: true });
  else assertCanDo("remove", record);
  rmSync(sandboxDir(store.paths, name), { recursive: true, force: true });
  deleteSandbox(store.db, name);
}
