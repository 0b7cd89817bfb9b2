// Text for `msb metrics`, and the CPU and memory cells `ps` borrows: sizes 1024-based as the
// rest of msb prints them, unknown figures as "-". Pure: rows in, strings out.
import { colors } from "consola/utils";
import { formatSize, renderTable } from "../ui/format.ts";
import type { SandboxMetrics } from "./query.ts";

const UNKNOWN = "-";

export function renderMetricsTable(rows: readonly SandboxMetrics[]): string {
  return renderTable(
    ["NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "DISK READ / WRITE", "NET RX / TX", "UPTIME"],
    rows.map((row) => [
      row.name,
      formatPercent(row.cpu_percent),
      pair(row.memory_bytes, row.memory_limit_bytes),
      formatPercent(memoryPercent(row.memory_bytes, row.memory_limit_bytes)),
      pair(row.disk_read_bytes, row.disk_write_bytes),
      pair(row.net_rx_bytes, row.net_tx_bytes),
      formatUptime(row.uptime_seconds),
    ]),
  );
}

export function formatPercent(value: number | null): string {
  return value === null ? UNKNOWN : `${value.toFixed(1)}%`;
}

export function formatBytes(value: number | null): string {
  return value === null ? UNKNOWN : formatSize(value);
}

export function memoryPercent(used: number | null, limit: number | null): number | null {
  if (used === null || limit === null || limit <= 0) return null;
  return Math.round((used / limit) * 1000) / 10;
}

/** `45s`, `12m03s`, `3h05m`, `2d04h`: the two largest units. */
export function formatUptime(seconds: number | null): string {
  if (seconds === null) return UNKNOWN;
  const two = (value: number) => String(value).padStart(2, "0");
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${two(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h${two(Math.floor((seconds % 3600) / 60))}m`;
  return `${Math.floor(seconds / 86_400)}d${two(Math.floor((seconds % 86_400) / 3600))}h`;
}

function pair(left: number | null, right: number | null): string {
  return `${formatBytes(left)} / ${formatBytes(right)}`;
}

/** `inspect`'s "Stats" block for a running sandbox; nothing for one that is not running. */
export function renderStatsSection(stats: Omit<SandboxMetrics, "name"> | null): string {
  if (stats === null) return "";
  const rows: Array<[string, string]> = [
    ["CPU", formatPercent(stats.cpu_percent)],
    [
      "Memory",
      `${pair(stats.memory_bytes, stats.memory_limit_bytes)} (${formatPercent(memoryPercent(stats.memory_bytes, stats.memory_limit_bytes))})`,
    ],
    ["Disk", `${formatBytes(stats.disk_read_bytes)} read, ${formatBytes(stats.disk_write_bytes)} written`],
    ["Network", `${formatBytes(stats.net_rx_bytes)} received, ${formatBytes(stats.net_tx_bytes)} sent`],
    ["Uptime", formatUptime(stats.uptime_seconds)],
  ];
  return [
    `\n\n${colors.bold("Stats")}`,
    ...rows.map(([key, value]) => `  ${`${key}:`.padEnd(14)}${value}`),
  ].join("\n");
}
