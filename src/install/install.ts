// `msb install` and `msb uninstall`: check the run flags, know the image's command (pulling the
// image when needed), pick the name, refuse to shadow a command on PATH without --force or to
// touch a file msb did not write, and write or remove the shim. A --persist install's sandbox
// goes with its shim.
import { accessSync, constants, readdirSync, rmSync, statSync } from "node:fs";
import { resolve } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { ConflictError, NotFoundError, UsageError } from "../errors.ts";
import type { PullEvents } from "../image/pull.ts";
import { removeSandbox } from "../sandbox/lifecycle.ts";
import type { SandboxOptionsInput } from "../sandbox/options.ts";
import { specFromOptions, validateSandboxOptions } from "../sandbox/options.ts";
import { parseVolume, resolveHostPath } from "../sandbox/parse-mount.ts";
import { ensureImage, hostContext } from "../sandbox/provision.ts";
import { findSandbox } from "../store/sandbox-records.ts";
import type { Store } from "../store/store.ts";
import { selfCommand } from "../util/self-command.ts";
import { defaultInstallName, persistentSandboxName, validateInstallName } from "./install-name.ts";
import { type InstallConfig, type InstallFlags, parseShim, renderShim, SHIM_FORMAT } from "./shim-file.ts";
import { inspectSlot, shimPath, writeShim } from "./shim-store.ts";

export interface InstallRequest {
  image: string;
  name?: string;
  /** Run flags as `run` reads them; `command` is the one after `--`. */
  input: SandboxOptionsInput;
  persist: boolean;
  writable: boolean;
  force: boolean;
  /** PATH to check for commands the shim would shadow. */
  searchPath: string;
  pullEvents?: PullEvents;
}

export interface Installed {
  config: InstallConfig;
  path: string;
  /** The command on PATH this shim now shadows (installed with --force). */
  shadows: string | undefined;
  /** A previous shim of that name was replaced (and its persistent sandbox removed). */
  replaced: boolean;
}

export async function installShim(store: Store, request: InstallRequest): Promise<Installed> {
  if (request.name !== undefined) validateInstallName(request.name);
  const context = hostContext();
  const parsed = validateSandboxOptions({ ...request.input, name: undefined }, context);
  const literal = parsed.secrets.find((secret) => secret.source === "literal");
  if (literal !== undefined) {
    throw new UsageError(
      `--secret ${literal.name}=...: an install keeps its flags in the shim file, and a secret's value must never be written to a file`,
      `use --secret ${literal.name}@${literal.hosts.join(",")}, so each call reads $${literal.name} from the caller's environment`,
    );
  }
  const image = await ensureImage(store, request.image, parsed.pull, request.pullEvents);
  const command = specFromOptions(parsed, image).command;
  if (command.length === 0) {
    throw new UsageError(
      `image ${image.reference} has no command to install`,
      `give one after --, e.g. msb install ${request.image} -- sh`,
    );
  }
  const name = validateInstallName(request.name ?? defaultInstallName(image.reference, command));
  const path = shimPath(store.paths.bin, name);
  const slot = inspectSlot(path);
  if (slot.kind === "foreign") {
    throw new ConflictError(
      `${path} exists and was not written by 'msb install'; not replacing it`,
      "choose another name with --name",
    );
  }
  if (slot.kind === "shim" && !request.force) {
    throw new ConflictError(`'${name}' is already installed (${path})`, "replace it with --force");
  }
  const shadows = findOnPath(name, request.searchPath, store.paths.bin);
  if (shadows !== undefined && !request.force) {
    throw new ConflictError(
      `'${name}' would shadow ${shadows} on PATH`,
      "install it anyway with --force, or choose another name with --name",
    );
  }
  const config: InstallConfig = {
    format: SHIM_FORMAT,
    name,
    image: image.reference,
    command,
    persist: request.persist,
    writable: request.writable,
    flags: storedFlags(request.input, context),
  };
  const text = renderShim(config, {
    msbArgv: selfCommand(),
    msbHome: store.paths.home,
    msbVersion: pkg.version,
  });
  if (slot.kind === "shim") await removePersistentSandbox(store, name);
  writeShim(path, text, slot.kind === "shim");
  return { config, path, shadows, replaced: slot.kind === "shim" };
}

/** Every shim msb wrote in $MSB_HOME/bin, by name; unreadable ones are left out. */
export function listInstalls(store: Store): InstallConfig[] {
  let names: string[];
  try {
    names = readdirSync(store.paths.bin).sort();
  } catch {
    return [];
  }
  const installs: InstallConfig[] = [];
  for (const name of names) {
    const slot = inspectSlot(shimPath(store.paths.bin, name));
    if (slot.kind !== "shim") continue;
    try {
      installs.push(parseShim(slot.text));
    } catch {
      // Written by another msb format: not listed rather than failing the whole list.
    }
  }
  return installs;
}

/** Removes an msb shim (and its persistent sandbox); any other file is refused, untouched. */
export async function uninstallShim(store: Store, name: string): Promise<string> {
  validateInstallName(name);
  const path = shimPath(store.paths.bin, name);
  const slot = inspectSlot(path);
  if (slot.kind === "empty") {
    throw new NotFoundError(`not installed: ${name}`, "list installs with 'msb install --list'");
  }
  if (slot.kind === "foreign") {
    throw new ConflictError(
      `${path} was not written by 'msb install'; not removing it`,
      "remove it yourself if you mean to",
    );
  }
  await removePersistentSandbox(store, name);
  rmSync(path, { force: true });
  return path;
}

async function removePersistentSandbox(store: Store, name: string): Promise<void> {
  const sandbox = persistentSandboxName(name);
  if (findSandbox(store.db, sandbox)) await removeSandbox(store, sandbox, { force: true });
}

/**
 * The flags as the shim will replay them: host paths made absolute now, so the shim behaves
 * the same from any directory; bare `-e KEY` stays bare and is read from the caller's
 * environment at each call, so no value of yours is written into the shim.
 */
function storedFlags(input: SandboxOptionsInput, context: ReturnType<typeof hostContext>): InstallFlags {
  const { name: _name, command: _command, ephemeral: _ephemeral, entrypoint: _entrypoint, ...flags } = input;
  const volume = (input.volume ?? []).map((spec) => {
    const mount = parseVolume(spec, context);
    if (mount.kind !== "bind") return spec;
    return `${mount.source}:${mount.target}:${mount.readonly ? "ro" : "rw"}`;
  });
  const script = (input.script ?? []).map((spec) => {
    const colon = spec.indexOf(":");
    const path = spec.slice(colon + 1);
    return `${spec.slice(0, colon)}:${resolveHostPath(path, context, `--script '${spec}'`)}`;
  });
  return { ...flags, volume, script };
}

/** The first executable called `name` on `searchPath`, other than in msb's own bin folder. */
export function findOnPath(name: string, searchPath: string, ownBin: string): string | undefined {
  for (const dir of searchPath.split(":")) {
    if (dir === "" || resolve(dir) === resolve(ownBin)) continue;
    const candidate = resolve(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there, or not executable: it shadows nothing.
    }
  }
  return undefined;
}
