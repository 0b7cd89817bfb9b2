// The sandbox lifecycle: every (state, operation) pair, the messages that say the way out, the
// supervisor's transitions and the reconciliation of rows whose supervisor is gone.
import { describe, expect, test } from "bun:test";
import { ConflictError, MsbError } from "../../src/errors.ts";
import {
  assertCanDo,
  canDo,
  isActive,
  planExec,
  reconcileState,
  SANDBOX_STATES,
  type SandboxEvent,
  type SandboxOperation,
  type SandboxState,
  transition,
} from "../../src/sandbox/state.ts";

/** null: allowed; otherwise the exact ConflictError message for sandbox `dev`. */
const EXPECTED: Record<SandboxOperation, Record<SandboxState, string | null>> = {
  start: {
    created: null,
    starting: "sandbox dev is starting; wait until 'msb ps dev' shows it running",
    running:
      "sandbox dev is running; run commands in it with 'msb exec dev -- CMD' or stop it with 'msb stop dev'",
    stopping: "sandbox dev is stopping; wait until it has stopped, then run 'msb start dev'",
    stopped: null,
    crashed: null,
  },
  stop: {
    created: "sandbox dev is created; start it with 'msb start dev' or remove it with 'msb rm dev'",
    starting: null,
    running: null,
    stopping: null,
    stopped: "sandbox dev is stopped; start it with 'msb start dev' or remove it with 'msb rm dev'",
    crashed: "sandbox dev is crashed; start it with 'msb start dev' or remove it with 'msb rm dev'",
  },
  remove: {
    created: null,
    starting:
      "sandbox dev is starting; stop it first with 'msb stop dev' or remove it anyway with 'msb rm -f dev'",
    running:
      "sandbox dev is running; stop it first with 'msb stop dev' or remove it anyway with 'msb rm -f dev'",
    stopping:
      "sandbox dev is stopping; stop it first with 'msb stop dev' or remove it anyway with 'msb rm -f dev'",
    stopped: null,
    crashed: null,
  },
  exec: {
    created: "sandbox dev is created; start it with 'msb start dev'",
    starting: "sandbox dev is starting; wait until 'msb ps dev' shows it running",
    running: null,
    stopping: "sandbox dev is stopping; wait until it has stopped, then run 'msb start dev'",
    stopped: "sandbox dev is stopped; start it with 'msb start dev'",
    crashed: "sandbox dev is crashed; start it with 'msb start dev'",
  },
};

const PAIRS = (Object.keys(EXPECTED) as SandboxOperation[]).flatMap((operation) =>
  SANDBOX_STATES.map((state) => [operation, state, EXPECTED[operation][state]] as const),
);

describe("assertCanDo", () => {
  test.each(PAIRS)("%s from %s", (operation, state, message) => {
    const sandbox = { name: "dev", status: state };
    expect(canDo(operation, state)).toBe(message === null);
    if (message === null) {
      expect(() => assertCanDo(operation, sandbox)).not.toThrow();
      return;
    }
    let thrown: unknown;
    try {
      assertCanDo(operation, sandbox);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConflictError);
    expect((thrown as ConflictError).message).toBe(message);
    expect((thrown as ConflictError).exitCode).toBe(4);
  });

  test.each(SANDBOX_STATES)("rm --force works from %s", (state) => {
    expect(() => assertCanDo("remove", { name: "dev", status: state }, { force: true })).not.toThrow();
  });

  test("force changes nothing but remove", () => {
    expect(() => assertCanDo("exec", { name: "dev", status: "stopped" }, { force: true })).toThrow(
      ConflictError,
    );
  });
});

describe("planExec", () => {
  test.each([
    ["running", "exec"],
    ["starting", "wait-for-start"],
    ["created", "start-first"],
    ["stopped", "start-first"],
    ["crashed", "start-first"],
  ] as const)("%s → %s", (state, plan) => expect(planExec({ name: "dev", status: state })).toBe(plan));

  test("a stopping sandbox cannot take a command", () => {
    expect(() => planExec({ name: "dev", status: "stopping" })).toThrow(
      "sandbox dev is stopping; wait until it has stopped, then run 'msb start dev'",
    );
  });
});

describe("transitions", () => {
  const TABLE: Record<SandboxEvent, Partial<Record<SandboxState, SandboxState>>> = {
    start: { created: "starting", stopped: "starting", crashed: "starting" },
    ready: { starting: "running" },
    stop: { starting: "stopping", running: "stopping", stopping: "stopping" },
    exit: { starting: "stopped", running: "stopped", stopping: "stopped" },
    crash: { starting: "crashed", running: "crashed", stopping: "crashed" },
  };
  const CASES = (Object.keys(TABLE) as SandboxEvent[]).flatMap((event) =>
    SANDBOX_STATES.map((state) => [event, state, TABLE[event][state] ?? null] as const),
  );

  test.each(CASES)("%s from %s", (event, state, next) => {
    if (next === null) {
      expect(() => transition(state, event)).toThrow(MsbError);
      expect(() => transition(state, event)).toThrow(`a ${state} sandbox cannot ${event}`);
    } else {
      expect(transition(state, event)).toBe(next);
    }
  });

  test("a full life", () => {
    let state: SandboxState = "created";
    for (const event of ["start", "ready", "stop", "exit", "start", "ready", "crash", "start"] as const) {
      state = transition(state, event);
    }
    expect(state).toBe("starting");
  });
});

describe("reconcileState", () => {
  test.each([
    ["created", false, "created"],
    ["starting", false, "crashed"],
    ["running", false, "crashed"],
    ["stopping", false, "stopped"],
    ["stopped", false, "stopped"],
    ["crashed", false, "crashed"],
    ["starting", true, "starting"],
    ["running", true, "running"],
    ["stopping", true, "stopping"],
  ] as const)("%s with supervisor alive=%s → %s", (state, alive, next) => {
    expect(reconcileState(state, alive)).toBe(next);
  });

  test("active states are the ones a supervisor owns", () => {
    expect(SANDBOX_STATES.filter(isActive)).toEqual(["starting", "running", "stopping"]);
  });
});
