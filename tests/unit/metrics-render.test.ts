// `msb metrics` text, `ps`'s CPU and memory columns and `inspect`'s Stats block; unknown figures
// as "-".
import { describe, expect, test } from "bun:test";
import { stripVTControlCharacters } from "node:util";
import { metricsRow, type SandboxMetrics } from "../../src/metrics/query.ts";
import { formatUptime, renderMetricsTable, renderStatsSection } from "../../src/metrics/render.ts";
import type { SandboxStats } from "../../src/protocol/messages.ts";
import type { PsEntry } from "../../src/sandbox/view.ts";
import { renderPsTable } from "../../src/ui/sandbox-render.ts";

const MIB = 1024 * 1024;
const plain = (text: string) => stripVTControlCharacters(text);

const BUSY: SandboxMetrics = {
  name: "busy",
  cpu_percent: 97.5,
  memory_bytes: 100 * MIB,
  memory_limit_bytes: 400 * MIB,
  disk_read_bytes: 2 * MIB,
  disk_write_bytes: 512,
  net_rx_bytes: 1536,
  net_tx_bytes: 0,
  uptime_seconds: 3725,
};
const SILENT: SandboxMetrics = {
  name: "silent",
  cpu_percent: null,
  memory_bytes: null,
  memory_limit_bytes: null,
  disk_read_bytes: null,
  disk_write_bytes: null,
  net_rx_bytes: null,
  net_tx_bytes: null,
  uptime_seconds: 5,
};

describe("metrics table", () => {
  test("rows with figures and a sandbox that did not answer", () => {
    expect(plain(renderMetricsTable([BUSY, SILENT])).split("\n")).toEqual([
      "NAME      CPU %    MEM USAGE / LIMIT        MEM %    DISK READ / WRITE    NET RX / TX      UPTIME",
      "busy      97.5%    100.0 MiB / 400.0 MiB    25.0%    2.0 MiB / 512 B      1.5 KiB / 0 B    1h02m",
      "silent    -        - / -                    -        - / -                - / -            5s",
    ]);
  });

  test("no sandboxes: the header alone", () => {
    expect(plain(renderMetricsTable([]))).toBe(
      "NAME    CPU %    MEM USAGE / LIMIT    MEM %    DISK READ / WRITE    NET RX / TX    UPTIME",
    );
  });

  test.each([
    [null, "-"],
    [0, "0s"],
    [59, "59s"],
    [61, "1m01s"],
    [3600, "1h00m"],
    [90_061, "1d01h"],
  ])("uptime %p", (seconds, expected) => {
    expect(formatUptime(seconds)).toBe(expected);
  });

  test("rows from records: uptime only while running, figures from the supervisor's answer", () => {
    const stats: SandboxStats = {
      id: 1,
      cpuPercent: 12.5,
      memoryBytes: 10,
      memoryLimitBytes: 20,
      diskReadBytes: 30,
      diskWriteBytes: 40,
      netRxBytes: null,
      netTxBytes: null,
      source: "cgroup2",
    };
    const started = "2026-01-01T00:00:00.000Z";
    const running = { name: "a", status: "running", startedAt: started } as never;
    expect(metricsRow(running, stats, Date.parse(started) + 90_500)).toEqual({
      name: "a",
      cpu_percent: 12.5,
      memory_bytes: 10,
      memory_limit_bytes: 20,
      disk_read_bytes: 30,
      disk_write_bytes: 40,
      net_rx_bytes: null,
      net_tx_bytes: null,
      uptime_seconds: 90,
    });
    const stopped = { name: "b", status: "stopped", startedAt: started } as never;
    expect(metricsRow(stopped, null, Date.now())).toEqual({ ...SILENT, name: "b", uptime_seconds: null });
  });
});

describe("ps and inspect", () => {
  const entry: PsEntry = { name: "busy", status: "running", image: "alpine", command: "sh", ports: [] };

  test("ps gains CPU % and MEM columns only when the entries carry figures", () => {
    expect(plain(renderPsTable([entry])).split("\n")[0]).toBe(
      "NAME    IMAGE     COMMAND    STATUS     PORTS",
    );
    const lines = plain(
      renderPsTable([
        { ...entry, cpu_percent: 3.4, memory_bytes: 5 * MIB },
        { ...entry, name: "mute", cpu_percent: null, memory_bytes: null },
      ]),
    ).split("\n");
    expect(lines).toEqual([
      "NAME    IMAGE     COMMAND    STATUS     CPU %    MEM        PORTS",
      'busy    alpine    "sh"       running    3.4%     5.0 MiB',
      'mute    alpine    "sh"       running    -        -',
    ]);
  });

  test("inspect's Stats block, and none for a sandbox that is not running", () => {
    const { name: _name, ...stats } = BUSY;
    expect(plain(renderStatsSection(stats))).toBe(
      [
        "",
        "",
        "Stats",
        "  CPU:          97.5%",
        "  Memory:       100.0 MiB / 400.0 MiB (25.0%)",
        "  Disk:         2.0 MiB read, 512 B written",
        "  Network:      1.5 KiB received, 0 B sent",
        "  Uptime:       1h02m",
      ].join("\n"),
    );
    expect(renderStatsSection(null)).toBe("");
  });
});
