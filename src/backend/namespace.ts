// The namespace isolation backend, supervisor side: puts a new process into the sandbox's
// cgroup, then has `unshare` give it fresh pid, mount, uts, ipc and network namespaces and
// start the agent there as PID 1. The agent does the rest (agent/run-agent.ts). Root only.
import { closeSync, openSync, readFileSync } from "node:fs";
import { constants } from "node:os";
import { MsbError } from "../errors.ts";
import { createSandboxCgroup } from "./cgroup.ts";

export interface NamespaceSandboxOptions {
  /** The agent's command line, e.g. [process.execPath, "agent", bootPath]. */
  agentCommand: string[];
  /** Short unique id of the sandbox (a cgroup directory name). */
  cgroupName: string;
  cpus: number;
  memoryBytes: number;
  /** The agent's stdout and stderr are appended here. */
  logFile: string;
}

export interface NamespaceSandbox {
  /** The unshare process (the agent is its only child). */
  pid: number;
  exited: Promise<{ code: number | null; signal: string | null }>;
  /**
   * SIGKILL ends the whole sandbox at once (unshare takes its child along); any other signal
   * goes to the agent, since unshare itself ignores SIGTERM and SIGINT.
   */
  kill(signal?: NodeJS.Signals): void;
  /** Removes the cgroup(s), first killing anything left in them. */
  cleanup(): Promise<void>;
}

/**
 * Namespaces of the sandbox, all mounts private so nothing propagates back to the host.
 * --kill-child: when unshare dies, the kernel SIGKILLs the agent (PID 1), which ends every
 * process of the pid namespace, so SIGKILL to unshare takes the whole sandbox down.
 */
const UNSHARE_FLAGS = [
  "--pid",
  "--fork",
  "--kill-child",
  "--mount",
  "--uts",
  "--ipc",
  "--net",
  "--propagation",
  "private",
];

/** Exit code of a sandbox that could not join its cgroup (the shell's error is in the log). */
export const CGROUP_JOIN_FAILED = 125;

/**
 * Joins every cgroup named before `--` (so the process and all it forks are limited from the
 * first instruction), then becomes the command after it.
 */
const JOIN_CGROUPS_THEN_EXEC = `for f; do [ "$f" = -- ] && break; echo $$ > "$f" || exit ${CGROUP_JOIN_FAILED}; shift; done; shift; exec "$@"`;

const AGENT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

export async function startNamespaceSandbox(options: NamespaceSandboxOptions): Promise<NamespaceSandbox> {
  if (process.getuid?.() !== 0) {
    throw new MsbError("the namespace backend needs root", {
      code: "permission",
      hint: "run msb as root (e.g. with sudo), or use the vm backend on a host with /dev/kvm",
    });
  }
  const unshare = Bun.which("unshare", { PATH: `${process.env.PATH ?? ""}:/usr/bin:/bin` });
  if (unshare === null) {
    throw new MsbError("unshare not found: the namespace backend starts sandboxes with it", {
      code: "unavailable",
      hint: "install util-linux (apt-get install util-linux)",
    });
  }
  const cgroup = createSandboxCgroup(options.cgroupName, {
    cpus: options.cpus,
    memoryBytes: options.memoryBytes,
  });
  let child: ReturnType<typeof Bun.spawn>;
  const log = openSync(options.logFile, "a", 0o600);
  try {
    child = Bun.spawn(
      [
        "/bin/sh",
        "-c",
        JOIN_CGROUPS_THEN_EXEC,
        "msb-sandbox",
        ...cgroup.procsFiles,
        "--",
        unshare,
        ...UNSHARE_FLAGS,
        "--",
        ...options.agentCommand,
      ],
      // The agent is the guest's PID 1: /proc/1/environ must not show the user's host variables.
      { stdin: "ignore", stdout: log, stderr: log, detached: true, env: { PATH: AGENT_PATH } },
    );
  } catch (error) {
    await cgroup.remove();
    throw new MsbError(`cannot start the sandbox: ${(error as Error).message}`, { cause: error });
  } finally {
    closeSync(log);
  }
  const pid = child.pid;
  const exited = child.exited.then((code) => ({
    code: child.signalCode === null ? code : null,
    signal: signalName(child.signalCode),
  }));
  return {
    pid,
    exited,
    kill(signal = "SIGTERM") {
      const target = signal === "SIGKILL" ? pid : (agentPid(pid) ?? pid);
      try {
        process.kill(target, signal);
      } catch {
        // Already gone.
      }
    },
    cleanup: () => cgroup.remove(),
  };
}

function signalName(signal: NodeJS.Signals | number | null): string | null {
  if (typeof signal !== "number") return signal;
  return Object.entries(constants.signals).find(([, number]) => number === signal)?.[0] ?? String(signal);
}

/** The agent's host pid: unshare's one child (none before it forked or after it died). */
function agentPid(unsharePid: number): number | null {
  try {
    const children = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, "utf8").trim();
    const first = Number(children.split(" ")[0]);
    return children !== "" && Number.isInteger(first) ? first : null;
  } catch {
    return null;
  }
}
