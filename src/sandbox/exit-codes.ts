// Exit statuses `msb run` and `msb exec` return when the guest command did not run its course,
// chosen to stay clear of ordinary program statuses (as docker's 125-127). A command killed by
// signal N returns 128+N.
import type { ExecFailure } from "../protocol/messages.ts";

export const EXEC_EXIT_CODES: Record<ExecFailure, number> = {
  "spawn-failed": 125,
  "command-not-executable": 126,
  "command-not-found": 127,
  timeout: 124,
  "unknown-user": 123,
  "bad-workdir": 122,
};

export function exitStatus(exited: {
  code: number | null;
  signal: number | null;
  failure?: { kind: ExecFailure };
}): number {
  if (exited.failure) return EXEC_EXIT_CODES[exited.failure.kind];
  if (exited.signal !== null) return 128 + exited.signal;
  return exited.code ?? 125;
}
