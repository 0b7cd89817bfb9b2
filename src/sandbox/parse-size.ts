// Sizes as users write them on the command line (`512M`, `1.5G`, `2048`): 1024-based units, a
// bare number means MiB as in upstream msb. Every rejection names the flag and a valid example.
import { UsageError } from "../errors.ts";

export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;

/** The smallest memory a guest kernel plus the agent boots in. */
export const MIN_MEMORY_BYTES = 64 * MIB;
export const MIN_TMPFS_BYTES = MIB;

const UNIT_BYTES: Record<string, number> = { k: 1024, m: MIB, g: GIB, t: 1024 * GIB };
const SIZE_PATTERN = /^(\d+(?:\.\d+)?)([kmgt])?(?:i?b)?$/i;

/** Bytes of a size such as `512M`, `1g`, `1024K`, `1.5G` or a bare MiB count; at least `minBytes`. */
export function parseSize(value: string, flag: string, minBytes = 1): number {
  const match = SIZE_PATTERN.exec(value.trim());
  if (!match) {
    throw new UsageError(`invalid ${flag} size '${value}': use a number with K, M or G, e.g. 512M or 1.5G`);
  }
  const unit = UNIT_BYTES[(match[2] ?? "m").toLowerCase()] ?? MIB;
  const bytes = Math.floor(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`${flag} size '${value}' is too large`);
  if (bytes <= 0) throw new UsageError(`${flag} size '${value}' must be greater than zero, e.g. 512M`);
  if (bytes < minBytes) {
    throw new UsageError(`${flag} size '${value}' is too small: the minimum is ${describeMinimum(minBytes)}`);
  }
  return bytes;
}

/** Guest memory in bytes, rounded down to whole MiB because VMMs allocate guest RAM in MiB. */
export function parseMemory(value: string): number {
  return Math.floor(parseSize(value, "--memory", MIN_MEMORY_BYTES) / MIB) * MIB;
}

function describeMinimum(bytes: number): string {
  return bytes % MIB === 0 ? `${bytes / MIB}M` : `${bytes} bytes`;
}
