// `-e KEY=VALUE` and bare `-e KEY` (copied from the host environment), and the OCI rule that
// layers them over the image's Env: a later entry replaces an earlier one with the same key.
import { UsageError } from "../errors.ts";

const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One `-e` entry as `KEY=VALUE`; the value may be empty and may contain `=`. */
export function parseEnvEntry(entry: string, hostEnv: Record<string, string | undefined>): string {
  const equals = entry.indexOf("=");
  const key = equals < 0 ? entry : entry.slice(0, equals);
  if (!KEY_PATTERN.test(key)) {
    throw new UsageError(
      `invalid environment variable name '${key}' in -e '${entry}': use letters, digits and '_', e.g. -e MY_VAR=1`,
    );
  }
  if (equals >= 0) return entry;
  const hostValue = hostEnv[key];
  if (hostValue === undefined) {
    throw new UsageError(`-e ${key} copies ${key} from your environment, but it is not set there`);
  }
  return `${key}=${hostValue}`;
}

/** `base` with each of `overrides` replacing the entry of the same key in place, or appended. */
export function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const byKey = new Map<string, string>();
  for (const entry of [...base, ...overrides]) byKey.set(envKey(entry), entry);
  return [...byKey.values()];
}

export function envKey(entry: string): string {
  const equals = entry.indexOf("=");
  return equals < 0 ? entry : entry.slice(0, equals);
}
