// Host patterns of --secret: an exact name, or `*.suffix` for any name below suffix (not the
// suffix itself, as in certificates). Names compare lower case without a trailing dot.
import { isSubdomain, normalizeDomain } from "../domain-name.ts";

export function hostMatches(pattern: string, name: string): boolean {
  const host = normalizeDomain(name);
  return pattern.startsWith("*.") ? isSubdomain(host, pattern.slice(2)) : host === pattern;
}

export function anyHostMatches(patterns: readonly string[], name: string): boolean {
  return patterns.some((pattern) => hostMatches(pattern, name));
}

/** The host name of a Host header value: port and IPv6 brackets removed, lower case. */
export function hostHeaderName(value: string): string {
  const trimmed = value.trim();
  if (trimmed.startsWith("[")) {
    const close = trimmed.indexOf("]");
    return (close < 0 ? trimmed.slice(1) : trimmed.slice(1, close)).toLowerCase();
  }
  const colon = trimmed.indexOf(":");
  return normalizeDomain(colon < 0 ? trimmed : trimmed.slice(0, colon));
}
