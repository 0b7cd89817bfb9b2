// Finds the program of an exec request before anything is spawned, so "not found" and "not
// executable" reach the client as distinct, named failures instead of an opaque spawn error.
// Permission is judged for the identity the process will run as, not the agent's.
import { type Stats, statSync } from "node:fs";
import { resolve } from "node:path";
import type { ExecFailure } from "../protocol/messages.ts";

export interface Identity {
  uid: number;
  gid: number;
}

export type CommandResolution =
  | { ok: true; path: string }
  | { ok: false; failure: { kind: ExecFailure; message: string } };

export function resolveCommand(
  name: string,
  pathValue: string,
  cwd: string,
  identity: Identity,
): CommandResolution {
  if (name.includes("/")) {
    const path = resolve(cwd, name);
    const stats = statOrNull(path);
    if (stats === null) return notFound(`${name}: no such file`);
    if (stats.isDirectory()) return notExecutable(`${name}: is a directory`);
    if (!stats.isFile() || !canExecute(stats, identity)) return notExecutable(`${name}: permission denied`);
    return { ok: true, path };
  }
  let deniedPath: string | null = null;
  for (const dir of pathValue.split(":")) {
    // An empty PATH entry means the working directory, as in every shell.
    const path = resolve(cwd, dir === "" ? "." : dir, name);
    const stats = statOrNull(path);
    if (stats === null || !stats.isFile()) continue;
    if (canExecute(stats, identity)) return { ok: true, path };
    deniedPath ??= path;
  }
  if (deniedPath !== null) return notExecutable(`${deniedPath}: permission denied`);
  return notFound(`${name}: command not found in PATH (${pathValue})`);
}

/** Whether `identity` may execute the file (root: any execute bit; supplementary groups not applied). */
export function canExecute(stats: Pick<Stats, "mode" | "uid" | "gid">, identity: Identity): boolean {
  if (identity.uid === 0) return (stats.mode & 0o111) !== 0;
  if (stats.uid === identity.uid) return (stats.mode & 0o100) !== 0;
  if (stats.gid === identity.gid) return (stats.mode & 0o010) !== 0;
  return (stats.mode & 0o001) !== 0;
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function notFound(message: string): CommandResolution {
  return { ok: false, failure: { kind: "command-not-found", message } };
}

function notExecutable(message: string): CommandResolution {
  return { ok: false, failure: { kind: "command-not-executable", message } };
}
