// The --dns-block-domain list: a blocked domain also blocks all its subdomains. Names compare
// case-insensitively and with or without a trailing dot.
import { UsageError } from "../../errors.ts";
import { isDomainOrSubdomain, isValidDomain, normalizeDomain } from "../domain-name.ts";

export class DomainBlocklist {
  private readonly domains: string[];

  /** Throws a UsageError naming the first entry that is not a domain name. */
  constructor(domains: readonly string[]) {
    this.domains = domains.map((domain) => {
      const normalized = normalizeDomain(domain.trim());
      if (!isValidDomain(normalized)) {
        throw new UsageError(`invalid --dns-block-domain "${domain}": not a domain name`);
      }
      return normalized;
    });
  }

  blocks(name: string): boolean {
    const normalized = normalizeDomain(name);
    return this.domains.some((domain) => isDomainOrSubdomain(normalized, domain));
  }
}
