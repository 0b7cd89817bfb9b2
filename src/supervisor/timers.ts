// The supervisor's clocks: --max-duration stops the sandbox after a fixed time; --idle-timeout
// stops it once no exec session is open and nothing has happened for that long.
import type { SandboxSpec } from "../sandbox/spec.ts";
import type { ExitReason } from "../store/sandbox-records.ts";

const IDLE_CHECK_MS = 1_000;

export interface SandboxTimers {
  /** Records activity (any frame), postponing the idle timeout. */
  touch(): void;
  stop(): void;
}

export function startTimers(
  spec: Pick<SandboxSpec, "maxDurationMs" | "idleTimeoutMs">,
  activeSessions: () => number,
  stopWith: (reason: ExitReason) => void,
  now: () => number = Date.now,
): SandboxTimers {
  let lastActivity = now();
  const handles: Array<ReturnType<typeof setTimeout>> = [];
  if (spec.maxDurationMs !== null) {
    handles.push(setTimeout(() => stopWith("max-duration"), spec.maxDurationMs));
  }
  if (spec.idleTimeoutMs !== null) {
    const idleMs = spec.idleTimeoutMs;
    handles.push(
      setInterval(
        () => {
          if (activeSessions() === 0 && now() - lastActivity >= idleMs) stopWith("idle-timeout");
        },
        Math.min(IDLE_CHECK_MS, idleMs),
      ),
    );
  }
  return {
    touch() {
      lastActivity = now();
    },
    stop() {
      for (const handle of handles) clearTimeout(handle);
    },
  };
}
