// The /proc and cgroup file parsers behind the collectors, edge cases by table.
import { describe, expect, test } from "bun:test";
import {
  memoryInUse,
  parseBlkioServiceBytes,
  parseCpuacctUsageUsec,
  parseCpuStatUsageUsec,
  parseIoStat,
  parseMemoryLimit,
} from "../../src/metrics/cgroup-files.ts";
import {
  parseDiskstats,
  parseMeminfo,
  parseProcessCpuUsec,
  parseProcessIo,
  parseProcStatBusyUsec,
} from "../../src/metrics/proc-files.ts";

describe("cgroup files", () => {
  test("CPU usage: v2 usage_usec, v1 nanoseconds", () => {
    expect(parseCpuStatUsageUsec("usage_usec 1500\nuser_usec 1000\n")).toBe(1500);
    expect(parseCpuStatUsageUsec("nr_periods 0\n")).toBeNull();
    expect(parseCpuacctUsageUsec("2500000\n")).toBe(2500);
    expect(parseCpuacctUsageUsec("")).toBeNull();
  });

  test.each([
    ["max\n", null],
    ["536870912\n", 536870912],
    // v1's "unlimited": LONG_MAX rounded down to a page.
    ["9223372036854771712\n", null],
    ["", null],
  ])("memory limit %j", (text, expected) => {
    expect(parseMemoryLimit(text)).toBe(expected);
  });

  test("memory in use leaves out inactive file pages, never below zero", () => {
    expect(memoryInUse("1000\n", "inactive_file 300\nactive_file 5\n", "inactive_file")).toBe(700);
    expect(memoryInUse("1000\n", "total_inactive_file 1200\n", "total_inactive_file")).toBe(0);
    expect(memoryInUse("1000\n", null, "inactive_file")).toBe(1000);
    expect(memoryInUse("\n", null, "inactive_file")).toBeNull();
  });

  test("io.stat and blkio sum every device", () => {
    expect(parseIoStat("8:0 rbytes=10 wbytes=20 rios=1 wios=2\n7:1 rbytes=5 wbytes=0\n")).toEqual({
      readBytes: 15,
      writeBytes: 20,
    });
    expect(parseIoStat("")).toEqual({ readBytes: 0, writeBytes: 0 });
    const blkio = "8:0 Read 100\n8:0 Write 40\n8:0 Sync 140\n8:0 Total 140\n7:2 Read 1\nTotal 141\n";
    expect(parseBlkioServiceBytes(blkio)).toEqual({ readBytes: 101, writeBytes: 40 });
  });
});

describe("/proc files", () => {
  test("/proc/stat: busy time excludes idle and iowait, ticks of 10 ms", () => {
    expect(parseProcStatBusyUsec("cpu  1 2 3 1000 500 4 5 6 0 0\ncpu0 1 2 3 1000 500 4 5 6 0 0\n")).toBe(
      210_000,
    );
    expect(parseProcStatBusyUsec("intr 1\n")).toBeNull();
  });

  test("meminfo falls back to MemFree on kernels without MemAvailable", () => {
    expect(parseMeminfo("MemTotal: 1000 kB\nMemFree: 600 kB\n")).toEqual({
      usedBytes: 400 * 1024,
      totalBytes: 1000 * 1024,
    });
    expect(parseMeminfo("MemFree: 600 kB\n")).toBeNull();
  });

  test("diskstats keeps only the disks asked for", () => {
    const text = " 8 0 sda 1 0 10 0 1 0 20 0 0 0 0\n 8 1 sda1 1 0 10 0 1 0 20 0 0 0 0\n";
    expect(parseDiskstats(text, /^sd[a-z]+$/)).toEqual({ readBytes: 5120, writeBytes: 10240 });
  });

  test.each([
    ["plain name", "42 (sleep) S 1 42 42 0 -1 0 0 0 0 0 7 3 2 1 20 0 1 0 5 0 0", 130_000],
    ["name with spaces and parentheses", "42 (a) b (c) R 1 42 42 0 -1 0 0 0 0 0 1 0 0 0 20 0", 10_000],
    ["truncated", "42 (x) S 1 42", null],
    ["no parenthesis", "garbage", null],
  ])("process CPU: %s", (_, text, expected) => {
    expect(parseProcessCpuUsec(text)).toBe(expected);
  });

  test("process I/O takes cancelled writes off, and needs both counters", () => {
    expect(parseProcessIo("read_bytes: 10\nwrite_bytes: 50\ncancelled_write_bytes: 20\n")).toEqual({
      readBytes: 10,
      writeBytes: 30,
    });
    expect(parseProcessIo("rchar: 5\n")).toBeNull();
  });
});
