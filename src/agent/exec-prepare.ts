// Turns an exec request into everything a spawn needs (identity, working directory, environment,
// program path), or into the failure the client is told about: each check runs before spawning
// so a bad request never ends as a silent exit status.
import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { ExecFailure, ExecRequest } from "../protocol/messages.ts";
import { resolveCommand } from "./exec-command.ts";
import { sessionEnv } from "./exec-env.ts";
import { type ResolvedUser, readUserDb, resolveUser } from "./user-db.ts";

export interface ExecServerOptions {
  /** `KEY=VALUE` entries every session starts from (image Env, -e values). */
  baseEnv: string[];
  /** Working directory when the request names none. */
  defaultWorkdir: string | null;
  /** User when the request names none; null = the agent's own identity. */
  defaultUser: string | null;
  /** Directory prepended to PATH, e.g. "/.msb/scripts". */
  extraPath?: string;
}

export interface PreparedExec {
  /** Absolute path of the program; argv[0] stays as the client wrote it. */
  file: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** Set when a user was asked for; otherwise the process keeps the agent's identity. */
  identity: { uid: number; gid: number } | null;
  tty: boolean;
  rows: number;
  cols: number;
  timeoutMs: number | null;
}

export type Preparation =
  | { ok: true; exec: PreparedExec }
  | { ok: false; failure: { kind: ExecFailure; message: string } };

export function prepareExec(request: ExecRequest, options: ExecServerOptions): Preparation {
  const userSpec = request.user ?? options.defaultUser;
  let user: ResolvedUser;
  if (userSpec) {
    const { passwd, groups } = readUserDb();
    const resolution = resolveUser(userSpec, passwd, groups);
    if (!resolution.ok) return { ok: false, failure: { kind: "unknown-user", message: resolution.message } };
    user = resolution.user;
  } else {
    user = currentUser();
  }

  const explicitCwd = request.cwd ?? options.defaultWorkdir;
  const cwd = explicitCwd ? resolve("/", explicitCwd) : isDirectory(user.home) ? user.home : "/";
  if (!isDirectory(cwd)) {
    return {
      ok: false,
      failure: { kind: "bad-workdir", message: `working directory ${cwd} is not a directory` },
    };
  }

  const env = sessionEnv({
    baseEnv: options.baseEnv,
    requestEnv: request.env,
    extraPath: options.extraPath,
    user,
    tty: request.tty,
  });
  const command = resolveCommand(request.argv[0]!, env.PATH!, cwd, user);
  if (!command.ok) return command;

  return {
    ok: true,
    exec: {
      file: command.path,
      argv: request.argv,
      env,
      cwd,
      identity: userSpec ? { uid: user.uid, gid: user.gid } : null,
      tty: request.tty,
      rows: request.rows ?? 24,
      cols: request.cols ?? 80,
      timeoutMs: request.timeoutMs ?? null,
    },
  };
}

function currentUser(): ResolvedUser {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const entry = readUserDb().passwd.find((candidate) => candidate.uid === uid);
  return { uid, gid, name: entry?.name ?? null, home: entry?.home ?? "/" };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
