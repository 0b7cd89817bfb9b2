// `msb run`: provision a sandbox, start it, run one command attached to this process's stdio,
// and clean up (an unnamed sandbox is removed; a reused stopped one is stopped again).
import { UsageError } from "../errors.ts";
import type { PullEvents } from "../image/pull.ts";
import type { SandboxRecord } from "../store/sandbox-records.ts";
import type { Store } from "../store/store.ts";
import type { ExitedResult } from "./attach.ts";
import { execInSandbox } from "./exec.ts";
import { removeSandbox, startSandbox, stopSandbox } from "./lifecycle.ts";
import type { SandboxOptionsInput } from "./options.ts";
import { parseDuration } from "./parse-duration.ts";
import { provisionSandbox } from "./provision.ts";

export interface RunRequest {
  image: string;
  input: SandboxOptionsInput;
  replace: boolean;
  detach: boolean;
  tty: boolean;
  timeout: string | undefined;
  pullEvents?: PullEvents;
}

export interface RunOutcome {
  name: string;
  reused: boolean;
  /** How the command ended; null when detached. */
  exited: ExitedResult | null;
}

export async function runInSandbox(store: Store, request: RunRequest): Promise<RunOutcome> {
  const timeoutMs = request.timeout === undefined ? undefined : parseDuration(request.timeout, "--timeout");
  const { record, reused } = await provisionSandbox(store, request);
  const name = record.name;
  const argv = request.detach ? [] : guestCommand(record, request, reused);
  if (!request.detach && argv.length === 0) {
    if (!reused) await removeSandbox(store, name, { force: true });
    throw new UsageError(
      "no command given, the image has none, and stdin is not a terminal",
      `give one after --, e.g. msb run ${request.image} -- sh -c 'echo hi'`,
    );
  }
  const startedHere = record.status !== "running";
  try {
    if (startedHere) await startSandbox(store, name, request.input.secret ?? []);
  } catch (error) {
    if (record.spec.ephemeral) await removeSandbox(store, name, { force: true }).catch(() => undefined);
    throw error;
  }
  if (request.detach) return { name, reused, exited: null };
  try {
    const exited = await execInSandbox(
      store,
      name,
      { argv, env: [], tty: request.tty, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
      { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, tty: request.tty },
    );
    return { name, reused, exited };
  } finally {
    if (record.spec.ephemeral || (reused && startedHere)) {
      await stopSandbox(store, name).catch(() => undefined);
    }
  }
}

/** A reused sandbox runs the given command as is; a new one has the OCI rules applied in its spec. */
function guestCommand(record: SandboxRecord, request: RunRequest, reused: boolean): string[] {
  const given = request.input.command ?? [];
  if (reused && given.length > 0) return given;
  if (record.spec.command.length > 0) return record.spec.command;
  return request.tty ? [record.spec.shell] : [];
}
