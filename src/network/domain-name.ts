// Domain-name handling shared by the DNS filter and the egress rules: one normal form
// (lowercase, no trailing dot) and suffix matching on label boundaries.

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const MAX_NAME_LENGTH = 253;

/** Lowercase, without one trailing dot: "Example.COM." → "example.com". */
export function normalizeDomain(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/**
 * True for a normalised host name of LDH/underscore labels. A name whose last label is all
 * digits is refused, so a mistyped IPv4 address ("10.0.0") is never taken for a domain.
 */
export function isValidDomain(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  const labels = name.split(".");
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return false;
  return labels.every((label) => LABEL.test(label));
}

/** `name` is `domain` or one of its subdomains; both normalised. */
export function isDomainOrSubdomain(name: string, domain: string): boolean {
  return name === domain || isSubdomain(name, domain);
}

/** `name` is a proper subdomain of `domain`; both normalised. */
export function isSubdomain(name: string, domain: string): boolean {
  return (
    name.length > domain.length && name.endsWith(domain) && name[name.length - domain.length - 1] === "."
  );
}
