// The shim `msb install` writes into $MSB_HOME/bin: a POSIX sh script that execs msb's hidden
// `run-installed` command with the install's name. Its second line is the marker that tells
// msb's own shims from any other file (uninstall and reinstall touch only marked files); the
// install's settings live in the shim itself as one JSON comment line, so installs need no
// database table and travel with the file.
import type { SandboxOptionsInput } from "../sandbox/options.ts";

export const SHIM_FORMAT = 1;
export const SHIM_MARKER = "# msb-install-shim";
const CONFIG_PREFIX = "# msb-install-config: ";
/** A shim is a few hundred bytes; anything far larger is not one, whatever it says. */
export const MAX_SHIM_BYTES = 64 * 1024;

/** The run flags an install keeps; name, command and entrypoint are decided at install time. */
export type InstallFlags = Omit<SandboxOptionsInput, "name" | "command" | "ephemeral" | "entrypoint">;

export interface InstallConfig {
  format: number;
  name: string;
  /** Canonical reference of the image. */
  image: string;
  /** The full guest argv (ENTRYPOINT + CMD or the given command); the shim's arguments follow. */
  command: string[];
  /** One reused sandbox (`msb-install-<name>`) instead of a new one per call. */
  persist: boolean;
  /** Mount the working and script directories read-write instead of read-only. */
  writable: boolean;
  flags: InstallFlags;
}

export interface ShimTarget {
  /** How to start msb: its absolute path (plus the entry file when run from source). */
  msbArgv: string[];
  msbHome: string;
  msbVersion: string;
}

export function renderShim(config: InstallConfig, target: ShimTarget): string {
  const exec = [...target.msbArgv, "run-installed", config.name, "--"].map(shellQuote).join(" ");
  return [
    "#!/bin/sh",
    `${SHIM_MARKER} format=${SHIM_FORMAT} msb=${target.msbVersion}: runs ${config.image} in a sandbox; remove with 'msb uninstall ${config.name}'`,
    `${CONFIG_PREFIX}${JSON.stringify(config)}`,
    `MSB_HOME=${shellQuote(target.msbHome)}`,
    "export MSB_HOME",
    `exec ${exec} "$@"`,
    "",
  ].join("\n");
}

/** Whether `text` is a shim msb wrote (any format). */
export function isShim(text: string): boolean {
  const [shebang, marker] = text.split("\n", 2);
  return shebang === "#!/bin/sh" && (marker ?? "").startsWith(`${SHIM_MARKER} `);
}

/** The settings of a shim msb wrote; throws a plain Error describing what is wrong otherwise. */
export function parseShim(text: string): InstallConfig {
  if (!isShim(text)) throw new Error("it has no msb-install marker");
  const line = text.split("\n").find((candidate) => candidate.startsWith(CONFIG_PREFIX));
  if (line === undefined) throw new Error("it has no msb-install-config line");
  let config: InstallConfig;
  try {
    config = JSON.parse(line.slice(CONFIG_PREFIX.length)) as InstallConfig;
  } catch (error) {
    throw new Error("its msb-install-config line is not valid JSON", { cause: error });
  }
  if (config.format !== SHIM_FORMAT) {
    throw new Error(`it is format ${config.format}; this msb reads format ${SHIM_FORMAT}`);
  }
  if (typeof config.image !== "string" || !Array.isArray(config.command) || config.command.length === 0) {
    throw new Error("its msb-install-config line lacks the image or the command");
  }
  return config;
}

/** `value` as one sh word: single-quoted, with embedded quotes closed and escaped. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
