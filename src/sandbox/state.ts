// The lifecycle of a sandbox. `starting` and `stopping` exist because a supervisor process
// boots and shuts the sandbox down over seconds, outside the CLI that asked: while it does,
// another `msb start` must not spawn a second supervisor, `rm` must not delete its files, and
// `ls` should say what is happening. A row in an active state whose supervisor is gone is
// reconciled by the next CLI call (reconcileState).
import { ConflictError, MsbError } from "../errors.ts";

export const SANDBOX_STATES = ["created", "starting", "running", "stopping", "stopped", "crashed"] as const;
export type SandboxState = (typeof SANDBOX_STATES)[number];

/** What users ask for. */
export type SandboxOperation = "start" | "stop" | "remove" | "exec";

/** What happens to a sandbox: `start`/`stop` requests, the supervisor's reports, a crash. */
export type SandboxEvent = "start" | "ready" | "stop" | "exit" | "crash";

/** Why a sandbox last stopped, as the supervisor (or reconciliation) records it. */
export const EXIT_REASONS = [
  "completed",
  "failed",
  "max-duration",
  "idle-timeout",
  "killed",
  "crashed",
  /** --secret-violation block-and-terminate. */
  "secret-violation",
] as const;
export type ExitReason = (typeof EXIT_REASONS)[number];

const ACTIVE: readonly SandboxState[] = ["starting", "running", "stopping"];

const ALLOWED: Record<SandboxOperation, readonly SandboxState[]> = {
  start: ["created", "stopped", "crashed"],
  // A second stop of a stopping sandbox waits for (or escalates) the first.
  stop: ACTIVE,
  remove: ["created", "stopped", "crashed"],
  exec: ["running"],
};

const TRANSITIONS: Record<SandboxEvent, Partial<Record<SandboxState, SandboxState>>> = {
  start: { created: "starting", stopped: "starting", crashed: "starting" },
  ready: { starting: "running" },
  stop: { starting: "stopping", running: "stopping", stopping: "stopping" },
  exit: { starting: "stopped", running: "stopped", stopping: "stopped" },
  crash: { starting: "crashed", running: "crashed", stopping: "crashed" },
};

export function isSandboxState(value: string): value is SandboxState {
  return (SANDBOX_STATES as readonly string[]).includes(value);
}

/** A supervisor process owns the sandbox in these states. */
export function isActive(state: SandboxState): boolean {
  return ACTIVE.includes(state);
}

export function canDo(
  operation: SandboxOperation,
  state: SandboxState,
  options: { force?: boolean } = {},
): boolean {
  if (operation === "remove" && options.force) return true;
  return ALLOWED[operation].includes(state);
}

/** Throws a ConflictError naming the sandbox, its state and the way out. */
export function assertCanDo(
  operation: SandboxOperation,
  sandbox: { name: string; status: SandboxState },
  options: { force?: boolean } = {},
): void {
  if (canDo(operation, sandbox.status, options)) return;
  throw new ConflictError(`sandbox ${sandbox.name} is ${sandbox.status}; ${wayOut(operation, sandbox)}`);
}

/**
 * How `exec` gets to a running sandbox: directly, after starting it (upstream starts a stopped
 * sandbox for the command and stops it again), or after the start under way finishes.
 */
export function planExec(sandbox: {
  name: string;
  status: SandboxState;
}): "exec" | "start-first" | "wait-for-start" {
  if (sandbox.status === "running") return "exec";
  if (sandbox.status === "starting") return "wait-for-start";
  if (canDo("start", sandbox.status)) return "start-first";
  throw new ConflictError(`sandbox ${sandbox.name} is ${sandbox.status}; ${wayOut("exec", sandbox)}`);
}

/** The state after `event`; an event the state does not allow is a bug in the caller. */
export function transition(state: SandboxState, event: SandboxEvent): SandboxState {
  const next = TRANSITIONS[event][state];
  if (next === undefined) throw new MsbError(`a ${state} sandbox cannot ${event}`, { code: "conflict" });
  return next;
}

/** The state of a row once its supervisor is known to be alive or gone. */
export function reconcileState(state: SandboxState, supervisorAlive: boolean): SandboxState {
  if (supervisorAlive || !isActive(state)) return state;
  return state === "stopping" ? "stopped" : "crashed";
}

function wayOut(
  operation: SandboxOperation,
  { name, status }: { name: string; status: SandboxState },
): string {
  if (operation === "remove") {
    return `stop it first with 'msb stop ${name}' or remove it anyway with 'msb rm -f ${name}'`;
  }
  if (status === "starting") return `wait until 'msb ps ${name}' shows it running`;
  if (status === "stopping") return `wait until it has stopped, then run 'msb start ${name}'`;
  switch (operation) {
    case "start":
      return `run commands in it with 'msb exec ${name} -- CMD' or stop it with 'msb stop ${name}'`;
    case "stop":
      return `start it with 'msb start ${name}' or remove it with 'msb rm ${name}'`;
    case "exec":
      return `start it with 'msb start ${name}'`;
  }
}
