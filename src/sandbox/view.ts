// What `ls`, `ps` and `inspect` show of sandbox records: which rows, and the JSON shapes of
// upstream v0.3 (snake_case keys, lower-case statuses, RFC 3339 times).
import type { SandboxMetrics } from "../metrics/query.ts";
import type { SandboxRecord } from "../store/sandbox-records.ts";
import { isActive, type SandboxState } from "./state.ts";

export const NO_SANDBOXES = "No sandboxes found.";
export const NO_RUNNING_SANDBOXES = "No running sandboxes.";

export interface ListFilter {
  /** Only sandboxes a supervisor owns (starting, running, stopping). */
  running?: boolean;
  /** Only sandboxes that are not running (created, stopped, crashed). */
  stopped?: boolean;
}

export interface LsJsonEntry {
  name: string;
  status: SandboxState;
  image: string;
  created_at: string;
}

export interface PsEntry {
  name: string;
  status: SandboxState;
  image: string;
  /** The command the sandbox runs, shell-quoted; its shell when it has none. */
  command: string;
  ports: string[];
  /** With live figures (`ps` asks running sandboxes): CPU % and memory in use, null if unknown. */
  cpu_percent?: number | null;
  memory_bytes?: number | null;
}

/** The figures `inspect` shows of a running sandbox: a metrics row without its name. */
export type InspectStats = Omit<SandboxMetrics, "name">;

export interface InspectJson {
  id: string;
  name: string;
  status: SandboxState;
  config: SandboxRecord["spec"];
  ephemeral: boolean;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  stopped_at: string | null;
  supervisor_pid: number | null;
  exit_code: number | null;
  exit_reason: string | null;
  /** Present when the caller measured: null for a sandbox that is not running. */
  stats?: InspectStats | null;
}

/** `ls [--running|--stopped]`: both flags (or neither) list everything. */
export function filterForList(records: readonly SandboxRecord[], filter: ListFilter = {}): SandboxRecord[] {
  if (Boolean(filter.running) === Boolean(filter.stopped)) return [...records];
  return records.filter((record) => isActive(record.status) === Boolean(filter.running));
}

export function lsJson(records: readonly SandboxRecord[]): LsJsonEntry[] {
  return records.map((record) => ({
    name: record.name,
    status: record.status,
    image: record.image,
    created_at: record.createdAt,
  }));
}

/** `ps [-a]`: running sandboxes, or all of them with `all` (the caller passes one for `ps NAME`). */
export function psEntries(records: readonly SandboxRecord[], options: { all?: boolean } = {}): PsEntry[] {
  return records
    .filter((record) => options.all || isActive(record.status))
    .map((record) => ({
      name: record.name,
      status: record.status,
      image: record.image,
      command: displayCommand(record),
      ports: (record.spec.network?.ports ?? []).map(
        (port) => `${port.bindAddress}:${port.hostPort}->${port.guestPort}/${port.protocol}`,
      ),
    }));
}

/** Adds `ps`'s CPU and memory figures; a sandbox that did not answer gets nulls. */
export function withPsStats(entry: PsEntry, metrics: SandboxMetrics | undefined): PsEntry {
  return { ...entry, cpu_percent: metrics?.cpu_percent ?? null, memory_bytes: metrics?.memory_bytes ?? null };
}

export function inspectStats(metrics: SandboxMetrics | null): InspectStats | null {
  if (metrics === null) return null;
  const { name: _name, ...stats } = metrics;
  return stats;
}

export function inspectJson(record: SandboxRecord, stats?: InspectStats | null): InspectJson {
  return {
    id: record.id,
    name: record.name,
    status: record.status,
    config: record.spec,
    ephemeral: record.ephemeral,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    started_at: record.startedAt,
    stopped_at: record.stoppedAt,
    supervisor_pid: record.supervisorPid,
    exit_code: record.exitCode,
    exit_reason: record.exitReason,
    ...(stats === undefined ? {} : { stats }),
  };
}

export function displayCommand(record: SandboxRecord): string {
  const argv = record.spec.command.length > 0 ? record.spec.command : [record.spec.shell];
  return argv.map(shellQuote).join(" ");
}

/** Single quotes only where the word needs them, as `msb install` shims quote. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./:=+@%,-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
