// The network flags of run/create, checked before anything is created: --no-network,
// --net-rule, --dns-block-domain, --dns-nameserver, --no-dns-rebind-protection and
// --max-connections. Each value goes through the parser the engine itself uses.
import { UsageError } from "../errors.ts";
import { DomainBlocklist } from "../network/dns/domain-blocklist.ts";
import { parseNameserver } from "../network/dns/upstream.ts";
import { parseNetRule } from "../network/policy/net-rule.ts";
import { parsePorts } from "./parse-ports.ts";
import type { NetworkSpec } from "./spec.ts";

export const DEFAULT_MAX_CONNECTIONS = 256;
const MAX_CONNECTIONS_LIMIT = 65_536;

export interface NetworkFlags {
  noNetwork?: boolean;
  netRule?: string[];
  dnsBlockDomain?: string[];
  dnsNameserver?: string[];
  noDnsRebindProtection?: boolean;
  maxConnections?: string;
  port?: string[];
}

export function parseNetworkFlags(flags: NetworkFlags): NetworkSpec | null {
  const rules = flags.netRule ?? [];
  const blockedDomains = flags.dnsBlockDomain ?? [];
  const nameservers = flags.dnsNameserver ?? [];
  if (flags.noNetwork) {
    const conflicting = [
      rules.length > 0 && "--net-rule",
      blockedDomains.length > 0 && "--dns-block-domain",
      nameservers.length > 0 && "--dns-nameserver",
      flags.maxConnections !== undefined && "--max-connections",
      (flags.port ?? []).length > 0 && "-p",
    ].filter(Boolean);
    if (conflicting.length > 0) {
      throw new UsageError(
        `--no-network cannot be combined with ${conflicting.join(", ")}`,
        "drop one of them",
      );
    }
    return null;
  }
  for (const rule of rules) parseNetRule(rule);
  new DomainBlocklist(blockedDomains);
  for (const nameserver of nameservers) parseNameserver(nameserver);
  return {
    rules,
    blockedDomains,
    nameservers,
    rebindProtection: !flags.noDnsRebindProtection,
    maxConnections: parseMaxConnections(flags.maxConnections),
    ports: parsePorts(flags.port ?? []),
  };
}

function parseMaxConnections(value: string | undefined): number {
  if (value === undefined) return DEFAULT_MAX_CONNECTIONS;
  const count = Number(value);
  if (!/^\d+$/.test(value) || count < 1 || count > MAX_CONNECTIONS_LIMIT) {
    throw new UsageError(
      `invalid --max-connections ${JSON.stringify(value)}`,
      `give a whole number from 1 to ${MAX_CONNECTIONS_LIMIT}, e.g. --max-connections 512`,
    );
  }
  return count;
}
