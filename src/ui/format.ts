// Pure text formatting shared by command renderers: sizes, times, tables, digests.
import { stripVTControlCharacters } from "node:util";
import { colors } from "consola/utils";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 1024-based size, e.g. `1.5 MiB`. */
export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, as upstream prints timestamps. */
export function formatTimestamp(iso: string | number | Date): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "-";
  return date.toISOString().replace("T", " ").slice(0, 19);
}

export function shortDigest(digest: string): string {
  const [algorithm, hex] = digest.split(":");
  return hex ? `${algorithm}:${hex.slice(0, 12)}` : digest;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes}m${Math.round((ms % 60_000) / 1000)}s`;
}

/** Left-aligned columns padded to the widest cell plus 4 spaces; the last column unpadded. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(visibleLength(title), ...rows.map((row) => visibleLength(row[column] ?? ""))),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === cells.length - 1
          ? cell
          : cell + " ".repeat((widths[column] ?? 0) - visibleLength(cell) + 4),
      )
      .join("")
      .trimEnd();
  const headerLine = line(header.map((title) => colors.bold(colors.cyan(title))));
  return [headerLine, ...rows.map(line)].join("\n");
}

function visibleLength(text: string): number {
  return stripVTControlCharacters(text).length;
}

/** Key/value block for `inspect`-style output: keys padded to 16 columns. */
export function renderFields(fields: Array<[string, string]>, indent = ""): string {
  return fields.map(([key, value]) => `${indent}${`${key}:`.padEnd(16)}${value}`.trimEnd()).join("\n");
}
