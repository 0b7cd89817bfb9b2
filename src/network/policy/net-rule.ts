// The --net-rule grammar (as in upstream 0.7.x): `<allow|deny>@<target>[:proto[:ports]]`.
// target: an IPv4/IPv6 address or CIDR (IPv6 may be bracketed), a domain, `*.suffix`, or a group
// `public`, `private` or `host`. proto: tcp, udp, icmp or any. ports: `80`, `80-90`, `80,443`.
// Protocol names contain non-hex letters, so they are told apart from IPv6 groups unambiguously.
import ipaddr from "ipaddr.js";
import { UsageError } from "../../errors.ts";
import { isValidDomain, normalizeDomain } from "../domain-name.ts";
import type { IpAddress } from "./address-class.ts";

export type NetProtocol = "tcp" | "udp" | "icmp";
export type RuleGroup = "public" | "private" | "host";

export type RuleTarget =
  | { kind: "network"; address: IpAddress; prefix: number }
  | { kind: "domain"; name: string }
  | { kind: "domainSuffix"; suffix: string }
  | { kind: "group"; group: RuleGroup };

export interface PortRange {
  first: number;
  last: number;
}

export interface NetRule {
  action: "allow" | "deny";
  target: RuleTarget;
  protocol: NetProtocol | "any";
  /** null: every port. */
  ports: PortRange[] | null;
  /** The rule as the user wrote it, for log lines. */
  text: string;
}

const PROTOCOLS = new Set(["tcp", "udp", "icmp", "any"]);
const GROUPS = new Set<string>(["public", "private", "host"]);
const GRAMMAR_HINT =
  "use <allow|deny>@<target>[:tcp|udp|icmp|any[:ports]], e.g. allow@api.example.com:tcp:443 or deny@10.0.0.0/8";

export function parseNetRule(text: string): NetRule {
  const fail = (reason: string): never => {
    throw new UsageError(`invalid --net-rule "${text}": ${reason}`, GRAMMAR_HINT);
  };
  const match = /^(allow|deny)@(.+)$/i.exec(text.trim());
  if (match === null) return fail("it must start with allow@ or deny@");
  const action = match[1]!.toLowerCase() as NetRule["action"];
  const parts = match[2]!.split(":");
  let protocol: NetRule["protocol"] = "any";
  let ports: PortRange[] | null = null;
  const last = parts[parts.length - 1]!.toLowerCase();
  const beforeLast = parts[parts.length - 2]?.toLowerCase();
  if (parts.length >= 2 && PROTOCOLS.has(last)) {
    protocol = last as NetRule["protocol"];
    parts.pop();
  } else if (parts.length >= 3 && beforeLast !== undefined && PROTOCOLS.has(beforeLast)) {
    protocol = beforeLast as NetRule["protocol"];
    ports = parsePorts(last, fail);
    parts.splice(-2, 2);
  }
  if (protocol === "icmp" && ports !== null) fail("icmp has no ports");
  const target = parseTarget(parts.join(":"), fail);
  return { action, target, protocol, ports, text };
}

function parseTarget(raw: string, fail: (reason: string) => never): RuleTarget {
  const text = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
  const lower = text.toLowerCase();
  if (GROUPS.has(lower)) return { kind: "group", group: lower as RuleGroup };
  if (text.includes("/")) {
    if (
      ipaddr.IPv4.isValidCIDRFourPartDecimal(text) ||
      (text.includes(":") && ipaddr.IPv6.isValidCIDR(text))
    ) {
      const [address, prefix] = ipaddr.parseCIDR(text);
      return { kind: "network", address, prefix };
    }
    return fail(`"${text}" is not a valid CIDR`);
  }
  if (ipaddr.IPv4.isValidFourPartDecimal(text))
    return { kind: "network", address: ipaddr.parse(text), prefix: 32 };
  if (text.includes(":")) {
    if (ipaddr.IPv6.isValid(text)) return { kind: "network", address: ipaddr.parse(text), prefix: 128 };
    return fail(`"${text}" is not a valid address, and ports need a protocol (tcp:443)`);
  }
  if (lower.startsWith("*.")) {
    const suffix = normalizeDomain(lower.slice(2));
    if (isValidDomain(suffix)) return { kind: "domainSuffix", suffix };
    return fail(`"${text}" is not a valid domain pattern`);
  }
  const name = normalizeDomain(lower);
  if (isValidDomain(name)) return { kind: "domain", name };
  return fail(`"${text}" is not an address, CIDR, domain, *.domain, public, private or host`);
}

function parsePorts(text: string, fail: (reason: string) => never): PortRange[] {
  return text.split(",").map((item) => {
    const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(item.trim());
    if (match === null) return fail(`"${item}" is not a port or port range`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (first < 1 || last > 65535 || first > last) return fail(`port range "${item}" is outside 1..65535`);
    return { first, last };
  });
}
