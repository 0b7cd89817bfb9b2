// The environment of an exec session: the sandbox's base environment (image Env, -e values,
// control variables) with the request's entries layered on top, and the few variables a login
// would set filled in when nobody set them.
import type { ResolvedUser } from "./user-db.ts";

/** PATH when neither the sandbox nor the request sets one (the usual Linux default). */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** TERM for PTY sessions whose client did not say; matches the name Bun gives the PTY. */
export const DEFAULT_TERM = "xterm-256color";

export interface SessionEnvInput {
  baseEnv: string[];
  requestEnv: string[];
  /** Directory put first on PATH (the sandbox's scripts). */
  extraPath?: string;
  user: ResolvedUser;
  tty: boolean;
}

export function sessionEnv(input: SessionEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of [...input.baseEnv, ...input.requestEnv]) {
    const equals = entry.indexOf("=");
    if (equals > 0) env[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  const path = env.PATH ?? DEFAULT_PATH;
  env.PATH =
    input.extraPath && !path.split(":").includes(input.extraPath) ? `${input.extraPath}:${path}` : path;
  env.HOME ??= input.user.home;
  if (input.user.name !== null) env.USER ??= input.user.name;
  if (input.tty) env.TERM ??= DEFAULT_TERM;
  return env;
}
