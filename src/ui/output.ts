// The CLI's voice: results on stdout, progress and diagnostics on stderr, honouring --quiet,
// --debug and NO_COLOR. Only command files and main.ts use it; subsystems never print.
import { stripVTControlCharacters } from "node:util";
import { createConsola } from "consola";
import { colors } from "consola/utils";

export const logger = createConsola({ stdout: process.stderr, stderr: process.stderr, level: 3 });

let quiet = false;
let debug = false;

export function configureOutput(options: { quiet?: boolean; debug?: boolean }): void {
  quiet = options.quiet ?? quiet;
  debug = options.debug ?? debug;
  logger.level = debug ? 4 : quiet ? 1 : 3;
}

export function isDebug(): boolean {
  return debug;
}

export function isQuiet(): boolean {
  return quiet;
}

/** consola decides once from NO_COLOR, FORCE_COLOR and whether stdout is a terminal. */
const colorEnabled = colors.red("x") !== "x";

/** Help text from citty, which colours unconditionally: plain unless colour is on. */
export function printHelp(text: string): void {
  print(colorEnabled ? text : stripVTControlCharacters(text));
}

/** A result line on stdout (never suppressed: scripts read it). */
export function print(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** `   ✓ Pulled       alpine (1.2s)` on stderr, as upstream shows progress. */
export function success(verb: string, target: string, elapsedMs?: number): void {
  if (quiet) return;
  const took =
    elapsedMs !== undefined && elapsedMs > 500 ? colors.dim(` (${(elapsedMs / 1000).toFixed(1)}s)`) : "";
  process.stderr.write(`   ${colors.green("✓")} ${verb.padEnd(12)} ${target}${took}\n`);
}

export function info(text: string): void {
  if (!quiet) process.stderr.write(`${text}\n`);
}

export function warn(text: string): void {
  process.stderr.write(`${colors.yellow("warn")}: ${text}\n`);
}

export function debugLog(text: string): void {
  if (debug) process.stderr.write(`${colors.dim(`debug: ${text}`)}\n`);
}
