// Finds a shared library by soname and opens it in two stages: a core symbol table that must be
// complete, then each optional symbol group on its own. bun:ffi's dlopen throws when any listed
// symbol is missing, so probing groups separately turns a build without BLK or NET into a
// reportable fact ("lacks block (krun_add_disk)") instead of a failed load.
import { type ConvertFns, dlopen, type Library, type Symbols } from "bun:ffi";
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { MsbError } from "../src/errors.ts";

export const SYSTEM_LIB_DIRS = [
  "/usr/lib64",
  "/usr/lib/x86_64-linux-gnu",
  "/usr/lib",
  "/usr/local/lib",
  "/usr/lib/aarch64-linux-gnu",
];

export interface LibrarySpec<Core extends Symbols, Groups extends Record<string, Symbols>> {
  /** Short name for messages, e.g. "libkrun". */
  name: string;
  soname: string;
  /** Directory searched first ($MSB_HOME/lib). */
  libDir: string;
  /** Name and value of the environment variable that points at the library (file or directory). */
  envVar: string;
  envValue: string | undefined;
  core: Core;
  groups: Groups;
  /** What to tell the user when no candidate loads. */
  hint: string;
}

export interface RejectedCandidate {
  path: string;
  reason: string;
}

export interface OpenedLibrary<Core extends Symbols, Groups extends Record<string, Symbols>> {
  name: string;
  /** The candidate that loaded: a path, or the bare soname when the dynamic loader found it. */
  path: string;
  /** The file actually mapped, symlinks resolved. */
  realPath: string;
  /** Full version from the real file name (libkrun.so.1.19.7 → "1.19.7"), when it has one. */
  version: string | undefined;
  symbols: ConvertFns<Core>;
  groups: Record<keyof Groups & string, boolean>;
  optional: { [G in keyof Groups]?: ConvertFns<Groups[G]> };
  /** For each missing group, the first symbol the library lacks. */
  missing: { [G in keyof Groups]?: string };
  /** Candidates that exist but did not load, in search order. */
  rejected: RejectedCandidate[];
  close(): void;
}

/** Search order: libDir, then the environment variable, then system directories, then the soname. */
export function libraryCandidates(spec: CandidateSpec): string[] {
  const candidates = [join(spec.libDir, spec.soname)];
  const fromEnv = envCandidate(spec);
  if (fromEnv) candidates.push(fromEnv);
  for (const dir of SYSTEM_LIB_DIRS) candidates.push(join(dir, spec.soname));
  candidates.push(spec.soname);
  return [...new Set(candidates)];
}

type CandidateSpec = Pick<LibrarySpec<Symbols, Record<string, Symbols>>, "soname" | "libDir" | "envValue">;

/** The environment variable may name the file or the directory holding it. */
function envCandidate(spec: CandidateSpec): string | undefined {
  const fromEnv = spec.envValue?.trim();
  if (!fromEnv) return undefined;
  return isDirectory(fromEnv) ? join(fromEnv, spec.soname) : fromEnv;
}

/** "libkrun.so.1.19.7" → "1.19.7"; undefined when the name carries only the soname's major. */
export function parseLibraryVersion(fileName: string, soname: string): string | undefined {
  const stem = soname.slice(0, soname.indexOf(".so") + 3);
  const name = basename(fileName);
  if (!name.startsWith(`${stem}.`)) return undefined;
  const version = name.slice(stem.length + 1);
  return /^\d+(\.\d+)+$/.test(version) ? version : undefined;
}

export function openLibrary<Core extends Symbols, Groups extends Record<string, Symbols>>(
  spec: LibrarySpec<Core, Groups>,
): OpenedLibrary<Core, Groups> {
  const rejected: RejectedCandidate[] = [];
  const fromEnv = envCandidate(spec);
  for (const candidate of libraryCandidates(spec)) {
    const isPath = candidate.includes("/");
    if (isPath && !existsSync(candidate)) {
      if (candidate === fromEnv) {
        rejected.push({ path: candidate, reason: `${spec.envVar} names a missing file` });
      }
      continue;
    }
    const attempt = tryOpen(spec, candidate);
    if ("reason" in attempt) {
      if (isPath || !attempt.reason.includes("cannot open shared object")) {
        rejected.push({ path: candidate, reason: attempt.reason });
      }
      continue;
    }
    return { ...attempt, rejected };
  }
  throw new LibraryNotFoundError(spec, rejected);
}

/** No candidate loaded; `rejected` says why the ones that exist were refused. */
export class LibraryNotFoundError extends MsbError {
  readonly rejected: RejectedCandidate[];

  constructor(
    spec: Pick<LibrarySpec<Symbols, Record<string, Symbols>>, "name" | "libDir" | "envVar" | "hint">,
    rejected: RejectedCandidate[],
  ) {
    const tried = `${spec.libDir}, ${spec.envVar}, ${SYSTEM_LIB_DIRS.join(", ")} and the dynamic loader path`;
    const why = rejected.map((entry) => `${entry.path}: ${entry.reason}`).join("; ");
    super(`${spec.name} not found (looked in ${tried})${why ? `; ${why}` : ""}`, {
      code: "unavailable",
      hint: spec.hint,
    });
    this.name = "LibraryNotFoundError";
    this.rejected = rejected;
  }
}

/** "libkrun at /usr/lib64/libkrun.so.1.19.7 lacks net (krun_add_net_unixstream)". */
export function missingGroupMessage(
  library: Pick<OpenedLibrary<Symbols, Record<string, Symbols>>, "name" | "realPath" | "missing">,
  group: string,
): string {
  return `${library.name} at ${library.realPath} lacks ${group} (${library.missing[group] ?? "unknown symbol"})`;
}

/** The symbols of an optional group, or an error naming the file and the first symbol it lacks. */
export function requireGroup<
  Core extends Symbols,
  Groups extends Record<string, Symbols>,
  G extends keyof Groups & string,
>(library: OpenedLibrary<Core, Groups>, group: G, hint: string): ConvertFns<Groups[G]> {
  const symbols = library.optional[group];
  if (symbols !== undefined) return symbols;
  throw new MsbError(missingGroupMessage(library, group), { code: "unavailable", hint });
}

type Attempt<Core extends Symbols, Groups extends Record<string, Symbols>> =
  | Omit<OpenedLibrary<Core, Groups>, "rejected">
  | { reason: string };

function tryOpen<Core extends Symbols, Groups extends Record<string, Symbols>>(
  spec: LibrarySpec<Core, Groups>,
  candidate: string,
): Attempt<Core, Groups> {
  let core: Library<Core>;
  try {
    core = dlopen(candidate, spec.core);
  } catch (error) {
    return { reason: describeOpenFailure(candidate, spec.core, "core", error) };
  }
  const realPath = candidate.includes("/") ? realpathSync(candidate) : (mappedFile(spec.soname) ?? candidate);
  const version = parseLibraryVersion(realPath, spec.soname);
  const sonameMajor = spec.soname.split(".so.")[1];
  if (version !== undefined && sonameMajor !== undefined && version.split(".")[0] !== sonameMajor) {
    core.close();
    return { reason: `is version ${version}; msb binds the ${sonameMajor}.x ABI (${spec.soname})` };
  }
  const handles: Library<Symbols>[] = [core];
  const groups = {} as Record<keyof Groups & string, boolean>;
  const optional: { [G in keyof Groups]?: ConvertFns<Groups[G]> } = {};
  const missing: { [G in keyof Groups]?: string } = {};
  for (const group of Object.keys(spec.groups) as (keyof Groups & string)[]) {
    const table = spec.groups[group]!;
    try {
      const library = dlopen(candidate, table);
      handles.push(library);
      optional[group] = library.symbols;
      groups[group] = true;
    } catch (error) {
      groups[group] = false;
      missing[group] = firstMissingSymbol(candidate, table) ?? String(error);
    }
  }
  return {
    name: spec.name,
    path: candidate,
    realPath,
    version,
    symbols: core.symbols,
    groups,
    optional,
    missing,
    close: () => {
      for (const handle of handles) handle.close();
    },
  };
}

function describeOpenFailure(candidate: string, table: Symbols, group: string, error: unknown): string {
  const symbol = firstMissingSymbol(candidate, table);
  if (symbol !== undefined) return `lacks ${group} (${symbol})`;
  return error instanceof Error ? error.message : String(error);
}

/** Opens the symbols one by one; undefined when the library itself cannot be opened. */
function firstMissingSymbol(candidate: string, table: Symbols): string | undefined {
  for (const [symbol, signature] of Object.entries(table)) {
    try {
      dlopen(candidate, { [symbol]: signature }).close();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return /^Symbol ".*" not found/.test(message) ? symbol : undefined;
    }
  }
  return undefined;
}

/** The file the dynamic loader mapped for `soname`, read from /proc/self/maps. */
function mappedFile(soname: string): string | undefined {
  let maps: string;
  try {
    maps = readFileSync("/proc/self/maps", "utf8");
  } catch {
    return undefined;
  }
  for (const line of maps.split("\n")) {
    const slash = line.indexOf("/");
    if (slash < 0) continue;
    const path = line.slice(slash);
    const name = basename(path);
    if (name === soname || name.startsWith(`${soname}.`)) return path;
  }
  return undefined;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
