// From `run`/`create` flags to a SandboxSpec. validateSandboxOptions checks every flag without
// the image, so bad input fails before anything is pulled or created; specFromOptions then
// applies the OCI rules (Env, WorkingDir, User, ENTRYPOINT/CMD) of the pulled image.

import { UsageError } from "../errors.ts";
import type { ImageRuntimeConfig } from "../image/image-config.ts";
import { generateSandboxName, hostnameFromName, validateSandboxName } from "./names.ts";
import { parseDuration } from "./parse-duration.ts";
import { envKey, mergeEnv, parseEnvEntry } from "./parse-env.ts";
import {
  type PullPolicy,
  parseCpus,
  parseHostname,
  parseIsolation,
  parsePullPolicy,
  parseShell,
  parseUser,
  parseWorkdir,
} from "./parse-flags.ts";
import { parseTmpfs, parseVolume } from "./parse-mount.ts";
import { parseNetworkFlags } from "./parse-network.ts";
import { parseScript } from "./parse-script.ts";
import { type GivenSecret, parseSecrets, parseViolationAction, secretSpec } from "./parse-secret.ts";
import { GIB, MIB, parseMemory } from "./parse-size.ts";
import { parseTlsFlags, type TlsFlags, tlsFlagsGiven } from "./parse-tls.ts";
import type { IsolationBackend, MountSpec, NetworkSpec, SandboxSpec, ScriptSpec } from "./spec.ts";

export const DEFAULT_CPUS = 1;
export const DEFAULT_MEMORY_BYTES = 512 * MIB;
/** Upper layer size; upstream v0.3 has no flag for it and the file is sparse. */
export const DEFAULT_DISK_BYTES = 4 * GIB;
export const DEFAULT_SHELL = "/bin/sh";

/** Flag values as citty gives them: undefined when absent; repeatable flags collected. */
export interface SandboxOptionsInput extends TlsFlags {
  name?: string;
  cpus?: string;
  memory?: string;
  volume?: string[];
  workdir?: string;
  shell?: string;
  env?: string[];
  tmpfs?: string[];
  script?: string[];
  /** One program path, as in upstream and docker (not split on spaces); "" clears ENTRYPOINT. */
  entrypoint?: string;
  hostname?: string;
  user?: string;
  pull?: string;
  maxDuration?: string;
  idleTimeout?: string;
  isolation?: string;
  noNetwork?: boolean;
  netRule?: string[];
  dnsBlockDomain?: string[];
  dnsNameserver?: string[];
  noDnsRebindProtection?: boolean;
  maxConnections?: string;
  port?: string[];
  /** `--secret` texts; they hold values, so they are parsed into GivenSecret and never stored. */
  secret?: string[];
  secretViolation?: string;
  /** The guest command after `--`; replaces the image's CMD. */
  command?: string[];
  /** Unnamed `msb run`: the caller decides, the sandbox is removed when its command exits. */
  ephemeral?: boolean;
}

export interface SandboxOptionsContext {
  cwd: string;
  env: Record<string, string | undefined>;
  hostCpus: number;
  home: string;
}

/** Everything the flags say, checked; null where the image decides. */
export interface ParsedSandboxOptions {
  name: string;
  cpus: number;
  memoryBytes: number;
  workdir: string | null;
  shell: string;
  env: string[];
  mounts: MountSpec[];
  scripts: ScriptSpec[];
  entrypoint: string[] | null;
  command: string[];
  hostname: string;
  user: string | null;
  pull: PullPolicy;
  maxDurationMs: number | null;
  idleTimeoutMs: number | null;
  isolation: IsolationBackend;
  ephemeral: boolean;
  /** With tls and secretViolation; specFromOptions adds the secrets with fresh placeholders. */
  network: NetworkSpec | null;
  /** With their values: for the supervisor only, never for the spec. */
  secrets: GivenSecret[];
}

export interface SandboxImage {
  reference: string;
  manifestDigest: string;
  config: ImageRuntimeConfig;
}

export function validateSandboxOptions(
  input: SandboxOptionsInput,
  context: SandboxOptionsContext,
): ParsedSandboxOptions {
  const name = input.name === undefined ? generateSandboxName() : validateSandboxName(input.name);
  const env = (input.env ?? []).map((entry) => parseEnvEntry(entry, context.env));
  const secrets = parseSecrets(input.secret ?? [], context.env);
  for (const secret of secrets) {
    if (env.some((entry) => envKey(entry) === secret.name)) {
      throw new UsageError(
        `-e ${secret.name} and --secret ${secret.name} both set ${secret.name}`,
        "drop one of them",
      );
    }
  }
  return {
    name,
    cpus: input.cpus === undefined ? DEFAULT_CPUS : parseCpus(input.cpus, context.hostCpus),
    memoryBytes: input.memory === undefined ? DEFAULT_MEMORY_BYTES : parseMemory(input.memory),
    workdir: input.workdir === undefined ? null : parseWorkdir(input.workdir),
    shell: input.shell === undefined ? DEFAULT_SHELL : parseShell(input.shell),
    env,
    mounts: parseMounts(input, context),
    scripts: parseScripts(input.script ?? [], context),
    entrypoint: input.entrypoint === undefined ? null : input.entrypoint === "" ? [] : [input.entrypoint],
    command: input.command ?? [],
    hostname: input.hostname === undefined ? hostnameFromName(name) : parseHostname(input.hostname),
    user: input.user === undefined ? null : parseUser(input.user),
    pull: input.pull === undefined ? "if-missing" : parsePullPolicy(input.pull),
    maxDurationMs: optionalDuration(input.maxDuration, "--max-duration"),
    idleTimeoutMs: optionalDuration(input.idleTimeout, "--idle-timeout"),
    isolation: parseIsolation(input.isolation, context.env),
    ephemeral: input.ephemeral ?? false,
    network: parseNetworkWithTls(input, secrets.length > 0, context.cwd),
    secrets,
  };
}

function parseNetworkWithTls(
  input: SandboxOptionsInput,
  hasSecrets: boolean,
  cwd: string,
): NetworkSpec | null {
  const network = parseNetworkFlags(input);
  if (network === null) {
    const conflicting = [
      hasSecrets && "--secret",
      input.secretViolation !== undefined && "--secret-violation",
      input.tlsIntercept && "--tls-intercept",
      ...tlsFlagsGiven(input),
    ].filter(Boolean);
    if (conflicting.length > 0) {
      throw new UsageError(
        `--no-network cannot be combined with ${conflicting.join(", ")}`,
        "drop one of them",
      );
    }
    return null;
  }
  const secretViolation = parseViolationAction(input.secretViolation);
  if (input.secretViolation !== undefined && !hasSecrets) {
    throw new UsageError(
      "--secret-violation without a --secret",
      "add a --secret, or drop --secret-violation",
    );
  }
  const tls = parseTlsFlags(input, hasSecrets, cwd);
  return { ...network, ...(tls === null ? {} : { tls }), ...(hasSecrets ? { secretViolation } : {}) };
}

/** The network with each secret's fresh placeholder, and the env that hands them to the guest. */
function withSecretPlaceholders(options: ParsedSandboxOptions): {
  network: NetworkSpec | null;
  env: string[];
} {
  if (options.network === null || options.secrets.length === 0) return { network: options.network, env: [] };
  const secrets = options.secrets.map(secretSpec);
  return {
    network: { ...options.network, secrets },
    env: secrets.map((secret) => `${secret.name}=${secret.placeholder}`),
  };
}

/** The spec of a sandbox of `image` with `options` layered on it. */
export function specFromOptions(options: ParsedSandboxOptions, image: SandboxImage): SandboxSpec {
  const placeholders = withSecretPlaceholders(options);
  return {
    name: options.name,
    image: image.reference,
    manifestDigest: image.manifestDigest,
    isolation: options.isolation,
    cpus: options.cpus,
    memoryBytes: options.memoryBytes,
    diskBytes: DEFAULT_DISK_BYTES,
    hostname: options.hostname,
    env: mergeEnv(image.config.env, [...options.env, ...placeholders.env]),
    workdir: options.workdir ?? image.config.workingDir,
    user: options.user ?? image.config.user,
    shell: options.shell,
    command: resolveCommand(options, image.config),
    mounts: options.mounts,
    scripts: options.scripts,
    network: placeholders.network,
    maxDurationMs: options.maxDurationMs,
    idleTimeoutMs: options.idleTimeoutMs,
    ephemeral: options.ephemeral,
  };
}

export function buildSandboxSpec(
  input: SandboxOptionsInput,
  image: SandboxImage,
  context: SandboxOptionsContext,
): SandboxSpec {
  return specFromOptions(validateSandboxOptions(input, context), image);
}

/**
 * OCI: a command replaces CMD and keeps ENTRYPOINT; --entrypoint replaces ENTRYPOINT and drops
 * the image's CMD (which was written for the old entrypoint). Empty: the caller runs the shell.
 */
function resolveCommand(options: ParsedSandboxOptions, config: ImageRuntimeConfig): string[] {
  const entrypoint = options.entrypoint ?? config.entrypoint ?? [];
  if (options.command.length > 0) return [...entrypoint, ...options.command];
  if (options.entrypoint !== null) return entrypoint;
  return [...entrypoint, ...(config.cmd ?? [])];
}

function parseMounts(input: SandboxOptionsInput, context: SandboxOptionsContext): MountSpec[] {
  const mounts: MountSpec[] = [];
  for (const spec of input.volume ?? []) mounts.push(parseVolume(spec, context));
  for (const spec of input.tmpfs ?? []) mounts.push(parseTmpfs(spec));
  const seen = new Set<string>();
  for (const mount of mounts) {
    if (seen.has(mount.target)) {
      throw new UsageError(`two mounts target ${mount.target}: give each -v/--tmpfs its own guest path`);
    }
    seen.add(mount.target);
  }
  return mounts;
}

function parseScripts(specs: string[], context: SandboxOptionsContext): ScriptSpec[] {
  const scripts = specs.map((spec) => parseScript(spec, context));
  const names = new Set<string>();
  for (const script of scripts) {
    if (names.has(script.name)) throw new UsageError(`two --script options are named '${script.name}'`);
    names.add(script.name);
  }
  return scripts;
}

function optionalDuration(value: string | undefined, flag: string): number | null {
  return value === undefined ? null : parseDuration(value, flag);
}
