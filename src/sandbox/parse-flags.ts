// The single-value sandbox flags: --cpus, --user, --workdir, --hostname, --shell, --pull and
// --isolation (with its MSB_ISOLATION default).
import { UsageError } from "../errors.ts";
import type { IsolationBackend } from "./spec.ts";

export const PULL_POLICIES = ["always", "if-missing", "never"] as const;
export type PullPolicy = (typeof PULL_POLICIES)[number];

export const ISOLATION_BACKENDS: readonly IsolationBackend[] = ["vm", "namespace"];

/** libkrun takes the vCPU count as a u8. */
const MAX_VCPUS = 255;
const MAX_ID = 2 ** 32 - 2;
const ACCOUNT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;
const HOSTNAME_LABEL = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

export function parseCpus(value: string, hostCpus: number): number {
  const limit = Math.min(hostCpus, MAX_VCPUS);
  const cpus = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > limit) {
    throw new UsageError(
      `invalid --cpus '${value}': use a whole number from 1 to ${limit} (this host's CPUs)`,
    );
  }
  return cpus;
}

/** `name`, `uid`, `name:group` or `uid:gid`; the guest resolves names against its /etc/passwd. */
export function parseUser(value: string): string {
  const parts = value.split(":");
  const valid = parts.length <= 2 && parts.every((part) => isAccount(part));
  if (!valid) throw new UsageError(`invalid --user '${value}': use a name, a uid or uid:gid, e.g. 1000:1000`);
  return value;
}

export function parseWorkdir(value: string): string {
  if (!value.startsWith("/") || value.includes("\0")) {
    throw new UsageError(`invalid --workdir '${value}': use an absolute guest path, e.g. /app`);
  }
  return value;
}

export function parseHostname(value: string): string {
  if (!HOSTNAME_LABEL.test(value)) {
    throw new UsageError(
      `invalid --hostname '${value}': use 1 to 63 letters, digits and '-', not starting or ending with '-'`,
    );
  }
  return value;
}

export function parseShell(value: string): string {
  if (value.trim() === "" || value.includes("\0")) {
    throw new UsageError(`invalid --shell '${value}': name the shell program, e.g. /bin/bash`);
  }
  return value;
}

export function parsePullPolicy(value: string): PullPolicy {
  const policy = PULL_POLICIES.find((candidate) => candidate === value);
  if (!policy) throw new UsageError(`invalid --pull '${value}': use always, if-missing or never`);
  return policy;
}

/** --isolation, else MSB_ISOLATION, else vm: namespace isolation is never picked silently. */
export function parseIsolation(
  value: string | undefined,
  env: Record<string, string | undefined>,
): IsolationBackend {
  const fromEnv = env.MSB_ISOLATION?.trim();
  const chosen = value ?? (fromEnv === "" ? undefined : fromEnv) ?? "vm";
  const backend = ISOLATION_BACKENDS.find((candidate) => candidate === chosen);
  if (!backend) {
    const source = value === undefined ? "MSB_ISOLATION" : "--isolation";
    throw new UsageError(`invalid ${source} '${chosen}': use vm or namespace`);
  }
  return backend;
}

function isAccount(part: string): boolean {
  if (/^\d+$/.test(part)) return Number(part) <= MAX_ID;
  return ACCOUNT_NAME.test(part);
}
