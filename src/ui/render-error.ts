// Turns any thrown value into the one-line `error: ...` report, its cause chain and hint, and
// the documented exit code. Stack traces appear only with --debug.
import { colors } from "consola/utils";
import { causeChain, ExitCode, MsbError } from "../errors.ts";

export function renderError(error: unknown, debug: boolean): { text: string; exitCode: number } {
  const message = error instanceof Error ? error.message : String(error);
  const lines = [`${colors.red("error")}: ${message}`];
  for (const cause of causeChain(error)) lines.push(`  caused by: ${cause}`);
  if (error instanceof MsbError && error.hint) lines.push(`  hint: ${error.hint}`);
  if (debug && error instanceof Error && error.stack) lines.push(colors.dim(error.stack));
  const exitCode = error instanceof MsbError ? error.exitCode : ExitCode.failure;
  return { text: `${lines.join("\n")}\n`, exitCode };
}
