// Decides whether the guest may reach a destination. Rules are tried in order and the first
// match wins; otherwise the default is public-only: allow global unicast, deny everything else
// (private, loopback, link-local and metadata, CGNAT, multicast, reserved, documentation, …).
// The gateway address stands for the host and is matched only by the `host` group (or
// allowHost); address, domain and other group rules never match it, so a broad CIDR cannot open
// the host by accident. Allowed host traffic goes to the host's loopback.

import { isSubdomain, normalizeDomain } from "../domain-name.ts";
import {
  addressRange,
  effectiveAddress,
  type IpAddress,
  isPrivateAddress,
  isPublicAddress,
  parseIpAddress,
} from "./address-class.ts";
import type { NetProtocol, NetRule, RuleTarget } from "./net-rule.ts";

export interface EgressPolicyOptions {
  rules: readonly NetRule[];
  /** Let the guest reach the host's loopback through the gateway address (any port). */
  allowHost: boolean;
  /** This sandbox's gateway address, which stands for the host. */
  gateway: string | Uint8Array;
}

export interface EgressQuery {
  ip: string | Uint8Array;
  /** Ignored for icmp. */
  port: number;
  proto: NetProtocol;
  /** Names this sandbox's DNS resolved to `ip`, for domain rules. */
  domain?: string | readonly string[];
}

export interface EgressDecision {
  allow: boolean;
  /** What decided, for the log line: the rule's text or "default: …". */
  rule: string;
  /** The destination is the gateway: connect to the host's loopback instead. */
  redirectToHostLoopback?: boolean;
}

export class EgressPolicy {
  private readonly rules: readonly NetRule[];
  private readonly allowHost: boolean;
  private readonly gateway: IpAddress;

  constructor(options: EgressPolicyOptions) {
    const gateway = parseIpAddress(options.gateway);
    if (gateway === null) throw new TypeError(`gateway ${String(options.gateway)} is not an IP address`);
    this.rules = options.rules;
    this.allowHost = options.allowHost;
    this.gateway = gateway;
  }

  decide(query: EgressQuery): EgressDecision {
    const address = parseIpAddress(query.ip);
    if (address === null) return { allow: false, rule: "default: invalid address" };
    const isHost = this.isGateway(address);
    const domains = domainList(query.domain);
    for (const rule of this.rules) {
      if (!targetMatches(rule.target, address, isHost, domains)) continue;
      if (!protocolMatches(rule, query.proto, query.port)) continue;
      const allow = rule.action === "allow";
      return allow && isHost
        ? { allow, rule: rule.text, redirectToHostLoopback: true }
        : { allow, rule: rule.text };
    }
    return this.defaultDecision(address, isHost);
  }

  /**
   * Whether some connection to `ip` could be allowed, whatever the port and protocol. DNS
   * rebinding protection uses this to drop answers that point at unreachable addresses.
   */
  mayReach(ip: string | Uint8Array, domain?: string | readonly string[]): boolean {
    const address = parseIpAddress(ip);
    if (address === null) return false;
    const isHost = this.isGateway(address);
    const domains = domainList(domain);
    for (const rule of this.rules) {
      if (!targetMatches(rule.target, address, isHost, domains)) continue;
      if (rule.action === "allow") return true;
      // A deny limited to some protocols or ports leaves the rest to later rules.
      if (rule.protocol === "any" && rule.ports === null) return false;
    }
    return this.defaultDecision(address, isHost).allow;
  }

  private defaultDecision(address: IpAddress, isHost: boolean): EgressDecision {
    if (isHost) {
      return this.allowHost
        ? { allow: true, rule: "allow-host", redirectToHostLoopback: true }
        : { allow: false, rule: "default: deny host" };
    }
    if (isPublicAddress(address)) return { allow: true, rule: "default: allow public" };
    return { allow: false, rule: `default: deny ${addressRange(address)}` };
  }

  private isGateway(address: IpAddress): boolean {
    const effective = effectiveAddress(address);
    return effective.kind() === this.gateway.kind() && effective.toString() === this.gateway.toString();
  }
}

function domainList(domain: string | readonly string[] | undefined): string[] {
  if (domain === undefined) return [];
  return (typeof domain === "string" ? [domain] : domain).map(normalizeDomain);
}

function targetMatches(target: RuleTarget, address: IpAddress, isHost: boolean, domains: string[]): boolean {
  if (target.kind === "group" && target.group === "host") return isHost;
  if (isHost) return false;
  switch (target.kind) {
    case "group":
      return target.group === "public" ? isPublicAddress(address) : isPrivateAddress(address);
    case "network":
      return networkContains(target, address) || networkContains(target, effectiveAddress(address));
    case "domain":
      return domains.includes(target.name);
    case "domainSuffix":
      return domains.some((name) => isSubdomain(name, target.suffix));
  }
}

function networkContains(target: { address: IpAddress; prefix: number }, address: IpAddress): boolean {
  return address.kind() === target.address.kind() && address.match(target.address, target.prefix);
}

function protocolMatches(rule: NetRule, protocol: NetProtocol, port: number): boolean {
  if (rule.protocol !== "any" && rule.protocol !== protocol) return false;
  if (rule.ports === null) return true;
  if (protocol === "icmp") return false;
  return rule.ports.some((range) => port >= range.first && port <= range.last);
}
