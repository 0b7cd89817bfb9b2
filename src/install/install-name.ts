// Install names: what a shim may be called, and the name an image gets by default: its
// program's basename (`python:3.12`, whose CMD is `python3`, gives `python`), skipping shells and
// entrypoint wrappers, else the image's repository name.
import { basename } from "node:path";
import { UsageError } from "../errors.ts";

/** `msb-install-` + name must stay a valid sandbox name (63 characters). */
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,50}$/;

const SHELLS = new Set(["sh", "bash", "dash", "ash", "zsh"]);

/** Programs that start another program rather than being the image's tool. */
const WRAPPERS = new Set([
  ...SHELLS,
  "env",
  "tini",
  "dumb-init",
  "catatonit",
  "docker-entrypoint",
  "entrypoint",
]);

export function isValidInstallName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

export function validateInstallName(name: string): string {
  if (!isValidInstallName(name)) {
    throw new UsageError(
      `invalid install name '${name}': use 1 to 51 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

/** The sandbox a `--persist` install keeps. */
export function persistentSandboxName(installName: string): string {
  return `msb-install-${installName}`;
}

export function defaultInstallName(reference: string, argv: string[]): string {
  const repository = repositoryName(reference);
  const candidate = programName(argv);
  if (candidate === undefined || !isValidInstallName(candidate)) return sanitize(repository);
  // python3 or python3.12 in the `python` image: the versionless name users type.
  const unversioned = /^(.*[a-zA-Z])-?[0-9][0-9.]*$/.exec(candidate)?.[1];
  return unversioned === repository ? repository : candidate;
}

/** The first program in argv that is not a wrapper; none when a shell runs a script (`sh -c ...`). */
function programName(argv: string[]): string | undefined {
  for (const [index, arg] of argv.entries()) {
    if (arg.startsWith("-")) continue;
    const program = basename(arg);
    if (SHELLS.has(program) && argv[index + 1]?.startsWith("-")) return undefined;
    if (!isWrapper(program)) return program;
  }
  return undefined;
}

function isWrapper(program: string): boolean {
  return WRAPPERS.has(program) || program.endsWith(".sh");
}

/** `registry:5000/team/tool:1.2@sha256:…` → `tool`. */
export function repositoryName(reference: string): string {
  const withoutDigest = reference.split("@")[0] ?? reference;
  const last = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
  return last.split(":")[0] ?? last;
}

function sanitize(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_.-]/g, "-").replace(/^[^a-zA-Z0-9]+/, "");
  return cleaned.slice(0, 51) || "sandbox";
}
