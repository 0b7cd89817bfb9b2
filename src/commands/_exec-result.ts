// How run, exec and shell end: a guest command that could not start (missing command, working
// directory or user, timeout) gets an `error:` line naming the problem; then its exit status.

import { colors } from "consola/utils";
import type { ExitedResult } from "../sandbox/attach.ts";

export function reportExit(result: ExitedResult): number {
  if (result.failure) process.stderr.write(`${colors.red("error")}: ${result.failure.message}\n`);
  return result.status;
}
