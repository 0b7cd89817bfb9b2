// Which names this sandbox's own DNS server resolved to which addresses ("DNS pins"). Domain
// egress rules and secret injection trust a name for an address only if it is recorded here, so
// a hard-coded IP with a forged SNI or Host header gains nothing. Entries outlive their TTL by a
// floor because resolvers and applications cache answers longer; the table is bounded.

import { normalizeDomain } from "../domain-name.ts";
import { parseIpAddress } from "../policy/address-class.ts";

export interface ResolvedNamesOptions {
  /** Minimum lifetime of an entry, whatever the record's TTL. Default 300 s. */
  minTtlSeconds?: number;
  /** Addresses remembered at most; the least recently recorded are forgotten first. Default 4096. */
  maxAddresses?: number;
  /** Clock in milliseconds, for tests. */
  now?: () => number;
}

export class ResolvedNames {
  /** Address text → name → expiry (ms). Map order is recording order, oldest first. */
  private readonly byAddress = new Map<string, Map<string, number>>();
  private readonly minTtlMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;

  constructor(options: ResolvedNamesOptions = {}) {
    this.minTtlMs = (options.minTtlSeconds ?? 300) * 1000;
    this.maxAddresses = options.maxAddresses ?? 4096;
    this.now = options.now ?? Date.now;
  }

  record(name: string, address: string | Uint8Array, ttlSeconds: number): void {
    const key = addressKey(address);
    if (key === null) return;
    const names = this.byAddress.get(key) ?? new Map<string, number>();
    this.byAddress.delete(key);
    names.set(normalizeDomain(name), this.now() + Math.max(ttlSeconds * 1000, this.minTtlMs));
    this.byAddress.set(key, names);
    while (this.byAddress.size > this.maxAddresses) {
      const oldest = this.byAddress.keys().next().value;
      if (oldest === undefined) break;
      this.byAddress.delete(oldest);
    }
  }

  /** Names currently recorded for `address`, normalised. */
  namesFor(address: string | Uint8Array): string[] {
    const key = addressKey(address);
    const names = key === null ? undefined : this.byAddress.get(key);
    if (names === undefined) return [];
    const now = this.now();
    for (const [name, expiry] of names) if (expiry <= now) names.delete(name);
    if (names.size === 0) this.byAddress.delete(key!);
    return [...names.keys()];
  }

  /** True if this sandbox's DNS answered `name` with `address` and the entry has not expired. */
  resolvedTo(name: string, address: string | Uint8Array): boolean {
    return this.namesFor(address).includes(normalizeDomain(name));
  }
}

function addressKey(address: string | Uint8Array): string | null {
  return parseIpAddress(address)?.toString() ?? null;
}
