// Flags of the commands that attach to a guest process (run, exec, shell): terminal choice and
// time limit, and the rule for when a PTY is used.
import type { ArgsDef } from "citty";
import { parseDuration } from "../sandbox/parse-duration.ts";

export const execArgs = {
  tty: {
    type: "boolean",
    alias: "t",
    description: "Use a terminal even when stdin/stdout are not one (--no-tty: never)",
  },
  timeout: {
    type: "string",
    valueHint: "duration",
    description: "Kill the command after this long, e.g. 30s",
  },
} as const satisfies ArgsDef;

/**
 * -t forces a PTY, --no-tty (citty's negation of -t) forbids one; otherwise one is used when
 * stdin and stdout are terminals.
 */
export function ttyChoice(args: { tty?: boolean }): boolean {
  return args.tty ?? Boolean(process.stdin.isTTY && process.stdout.isTTY);
}

export function timeoutMs(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseDuration(value, "--timeout");
}
