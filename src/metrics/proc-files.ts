// Parsers for the /proc files the stats collectors read: the machine-wide ones a VM guest owns
// (/proc/stat, /proc/meminfo, /proc/diskstats) and the per-process ones the namespace backend
// sums over its pid namespace (/proc/<pid>/stat, /proc/<pid>/io). Pure: text in, numbers out.

/** USER_HZ: the unit of /proc times, 100 on every Linux architecture msb runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
const USEC_PER_TICK = 1_000_000 / CLOCK_TICKS_PER_SECOND;
const SECTOR_BYTES = 512;

/** Busy CPU time of the whole machine in microseconds: the first `cpu` line minus idle and iowait. */
export function parseProcStatBusyUsec(text: string): number | null {
  const line = text.split("\n").find((entry) => entry.startsWith("cpu "));
  if (line === undefined) return null;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce<number>(
    (sum, value) => sum + (value ?? 0),
    0,
  );
  return Number.isFinite(busy) ? busy * USEC_PER_TICK : null;
}

/** Used memory as `free` reports it (MemTotal - MemAvailable) and the total, in bytes. */
export function parseMeminfo(text: string): { usedBytes: number; totalBytes: number } | null {
  const kib = (key: string) => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text);
    return match ? Number(match[1]) * 1024 : null;
  };
  const total = kib("MemTotal");
  const available = kib("MemAvailable") ?? kib("MemFree");
  if (total === null || available === null) return null;
  return { usedBytes: total - available, totalBytes: total };
}

/** Bytes read and written on whole disks whose name matches `disk` (partitions would count twice). */
export function parseDiskstats(text: string, disk: RegExp): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    const name = fields[2];
    if (name === undefined || !disk.test(name)) continue;
    readBytes += Number(fields[5] ?? 0) * SECTOR_BYTES;
    writeBytes += Number(fields[9] ?? 0) * SECTOR_BYTES;
  }
  return { readBytes, writeBytes };
}

/**
 * CPU time of a process and of the children it has waited for, in microseconds. The command
 * name in parentheses may hold spaces and parentheses, so fields are counted after the last `)`.
 */
export function parseProcessCpuUsec(text: string): number | null {
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  // After `)`: state is field 3; utime, stime, cutime, cstime are fields 14 to 17.
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const ticks = fields.slice(11, 15).map(Number);
  if (ticks.length < 4 || ticks.some((value) => !Number.isFinite(value))) return null;
  return ticks.reduce((sum, value) => sum + value, 0) * USEC_PER_TICK;
}

/**
 * Storage bytes a process (and the children it waited for) caused to be read and written,
 * from /proc/<pid>/io; writes later cancelled by truncation are taken off.
 */
export function parseProcessIo(text: string): { readBytes: number; writeBytes: number } | null {
  const value = (key: string) => {
    const match = new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text);
    return match ? Number(match[1]) : null;
  };
  const read = value("read_bytes");
  const write = value("write_bytes");
  if (read === null || write === null) return null;
  return { readBytes: read, writeBytes: Math.max(0, write - (value("cancelled_write_bytes") ?? 0)) };
}
