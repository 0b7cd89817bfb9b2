// The CLI side of metrics: asks the supervisors of running sandboxes for a stats sample over
// their monitor sockets, all at once, each with its own timeout, so one sandbox that does not
// answer costs the caller at most that timeout and shows as unknown.
import { ConflictError } from "../errors.ts";
import { connectUnix } from "../protocol/channel-unix.ts";
import { decodeJson } from "../protocol/frame.ts";
import { FrameKind, type SandboxStats, type StatsRequest } from "../protocol/messages.ts";
import { currentSandbox, currentSandboxes } from "../sandbox/listing.ts";
import type { SandboxRecord } from "../store/sandbox-records.ts";
import type { Store } from "../store/store.ts";
import { runtimeLayout } from "../supervisor/runtime-dir.ts";

/** One row of `msb metrics` (and its `--format json`); null where the figure is unknown. */
export interface SandboxMetrics {
  name: string;
  cpu_percent: number | null;
  memory_bytes: number | null;
  memory_limit_bytes: number | null;
  disk_read_bytes: number | null;
  disk_write_bytes: number | null;
  net_rx_bytes: number | null;
  net_tx_bytes: number | null;
  uptime_seconds: number | null;
}

export interface QueryOptions {
  /** Give up on a sandbox after this long (connect and answer together). */
  timeoutMs: number;
  /** Sampling window when the agent has no recent sample to compare with. */
  windowMs: number;
}

/** `msb metrics` once: the named sandboxes (each must exist and run), or every running one. */
export async function sandboxMetrics(
  store: Store,
  names: readonly string[],
  options: QueryOptions,
): Promise<SandboxMetrics[]> {
  const records = await runningSandboxes(store, names, { requireRunning: true });
  return Promise.all(records.map((record) => measure(store, record, options)));
}

/**
 * The running sandboxes to measure. With names, each must exist; `requireRunning` refuses one
 * that is not running (a watch that started fine instead keeps it as a row of unknowns).
 */
export async function runningSandboxes(
  store: Store,
  names: readonly string[],
  options: { requireRunning: boolean },
): Promise<SandboxRecord[]> {
  if (names.length === 0)
    return (await currentSandboxes(store)).filter((record) => record.status === "running");
  const records: SandboxRecord[] = [];
  for (const name of names) {
    const record = await currentSandbox(store, name);
    if (options.requireRunning && record.status !== "running") {
      throw new ConflictError(
        `sandbox ${name} is ${record.status}; metrics need it running (msb start ${name})`,
      );
    }
    records.push(record);
  }
  return records;
}

export async function measure(
  store: Store,
  record: SandboxRecord,
  options: QueryOptions,
): Promise<SandboxMetrics> {
  const stats = record.status === "running" ? await requestStats(store, record, options) : null;
  return metricsRow(record, stats, Date.now());
}

export function metricsRow(record: SandboxRecord, stats: SandboxStats | null, nowMs: number): SandboxMetrics {
  const started =
    record.status === "running" && record.startedAt !== null ? Date.parse(record.startedAt) : Number.NaN;
  return {
    name: record.name,
    cpu_percent: stats?.cpuPercent ?? null,
    memory_bytes: stats?.memoryBytes ?? null,
    memory_limit_bytes: stats?.memoryLimitBytes ?? null,
    disk_read_bytes: stats?.diskReadBytes ?? null,
    disk_write_bytes: stats?.diskWriteBytes ?? null,
    net_rx_bytes: stats?.netRxBytes ?? null,
    net_tx_bytes: stats?.netTxBytes ?? null,
    uptime_seconds: Number.isNaN(started) ? null : Math.max(0, Math.floor((nowMs - started) / 1000)),
  };
}

/** One sample from the sandbox's supervisor, or null when it does not answer in time. */
export async function requestStats(
  store: Store,
  record: SandboxRecord,
  options: QueryOptions,
): Promise<SandboxStats | null> {
  const deadline = Date.now() + options.timeoutMs;
  let channel: Awaited<ReturnType<typeof connectUnix>>;
  try {
    channel = await connectUnix(runtimeLayout(store.paths, record).monitorSocket, {
      timeoutMs: options.timeoutMs,
    });
  } catch {
    return null;
  }
  const id = 1;
  try {
    return await new Promise<SandboxStats | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), Math.max(0, deadline - Date.now()));
      const settle = (stats: SandboxStats | null) => {
        clearTimeout(timer);
        resolve(stats);
      };
      channel.onFrame = (frame) => {
        if (frame.kind === FrameKind.error) settle(null);
        if (frame.kind !== FrameKind.statsResult) return;
        try {
          const stats = decodeJson<SandboxStats>(frame);
          if (stats.id === id) settle(stats);
        } catch {
          settle(null);
        }
      };
      channel.onClose = () => settle(null);
      const request: StatsRequest = { id, windowMs: options.windowMs };
      channel.sendJson(FrameKind.stats, 0, request);
    });
  } finally {
    channel.close();
  }
}

/** Rows for the running ones among `records`, by name, measured in parallel (for `ps`). */
export async function measureRunning(
  store: Store,
  records: readonly SandboxRecord[],
  options: QueryOptions,
): Promise<Map<string, SandboxMetrics>> {
  const running = records.filter((record) => record.status === "running");
  const rows = await Promise.all(running.map((record) => measure(store, record, options)));
  return new Map(rows.map((row) => [row.name, row]));
}
