// Parsers for the cgroup files the namespace backend's stats come from: cgroup v2 (cpu.stat,
// memory.current with memory.stat, memory.max, io.stat) and v1 (cpuacct.usage,
// memory.usage_in_bytes with memory.stat, memory.limit_in_bytes, blkio). Pure: text in.

/** v1 writes "no limit" as a page-rounded LONG_MAX; anything this large means unlimited. */
const UNLIMITED_V1 = 2 ** 62;

/** `usage_usec` of a v2 cpu.stat. */
export function parseCpuStatUsageUsec(text: string): number | null {
  return keyedValue(text, "usage_usec");
}

/** v1 cpuacct.usage is nanoseconds. */
export function parseCpuacctUsageUsec(text: string): number | null {
  const value = Number(text.trim());
  return text.trim() !== "" && Number.isFinite(value) ? value / 1000 : null;
}

/**
 * Memory in use as `docker stats` counts it: the charge minus the page cache the kernel can
 * drop at once (inactive file pages). `inactiveKey` is `inactive_file` on v2 and
 * `total_inactive_file` on v1 (the hierarchical figure).
 */
export function memoryInUse(usageText: string, statText: string | null, inactiveKey: string): number | null {
  const usage = Number(usageText.trim());
  if (usageText.trim() === "" || !Number.isFinite(usage)) return null;
  const inactive = statText === null ? 0 : (keyedValue(statText, inactiveKey) ?? 0);
  return Math.max(0, usage - inactive);
}

/** v2 memory.max (`max` = none) or v1 memory.limit_in_bytes (huge = none). */
export function parseMemoryLimit(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === "max" || trimmed === "") return null;
  const value = Number(trimmed);
  return Number.isFinite(value) && value < UNLIMITED_V1 ? value : null;
}

/** v2 io.stat: `MAJ:MIN rbytes=N wbytes=N rios=N ...` per device, summed. */
export function parseIoStat(text: string): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const match of text.matchAll(/\brbytes=(\d+)/g)) readBytes += Number(match[1]);
  for (const match of text.matchAll(/\bwbytes=(\d+)/g)) writeBytes += Number(match[1]);
  return { readBytes, writeBytes };
}

/** v1 blkio.throttle.io_service_bytes_recursive: `MAJ:MIN Read N` / `MAJ:MIN Write N` lines. */
export function parseBlkioServiceBytes(text: string): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of text.split("\n")) {
    const [device, operation, value] = line.trim().split(/\s+/);
    if (device === undefined || !device.includes(":")) continue;
    if (operation === "Read") readBytes += Number(value ?? 0);
    else if (operation === "Write") writeBytes += Number(value ?? 0);
  }
  return { readBytes, writeBytes };
}

/** `key value` lines (cpu.stat, memory.stat). */
function keyedValue(text: string, key: string): number | null {
  const match = new RegExp(`^${key} (\\d+)$`, "m").exec(text);
  return match ? Number(match[1]) : null;
}
