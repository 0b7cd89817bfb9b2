// Durations for --max-duration and --idle-timeout: `30s`, `5m`, `2h`, `1h30m`, `500ms`, and a
// bare number of seconds as upstream msb takes them. Also the inverse, for `inspect`.
import { UsageError } from "../errors.ts";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** Milliseconds of a duration; rejects garbage and zero. */
export function parseDuration(value: string, flag: string): number {
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : sumParts(text);
  if (ms === null) {
    throw new UsageError(`invalid ${flag} duration '${value}': use e.g. 30s, 5m, 2h, 1h30m, 500ms or 60`);
  }
  if (!Number.isSafeInteger(ms)) throw new UsageError(`${flag} duration '${value}' is too large`);
  if (ms <= 0) throw new UsageError(`${flag} duration '${value}' must be greater than zero, e.g. 30s`);
  return ms;
}

/** `1h30m`, `45s`, `500ms`: the shortest spelling parseDuration reads back to the same value. */
export function formatDurationMs(ms: number): string {
  if (ms < 1000 || ms % 1000 !== 0) return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
  let rest = ms / 1000;
  const parts: string[] = [];
  for (const [unit, seconds] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    const count = Math.floor(rest / seconds);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * seconds;
  }
  return parts.join("");
}

function sumParts(text: string): number | null {
  if (text === "") return null;
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = PART.exec(text); match; match = PART.exec(text)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ""] ?? 0);
    consumed = PART.lastIndex;
  }
  return consumed === text.length ? Math.round(total) : null;
}
