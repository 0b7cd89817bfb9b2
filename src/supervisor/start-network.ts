// Starts a sandbox's network engine in the supervisor: the public-only egress policy with the
// sandbox's rules, its DNS server, and the listener on net.sock that the guest's NIC (a TAP
// relay on the namespace backend) connects to. Each sandbox has its own link, so every sandbox
// can use the same addresses (slot 0 of the plan).
import { readFileSync } from "node:fs";
import { MsbError } from "../errors.ts";
import { DnsServer } from "../network/dns/dns-server.ts";
import { DomainBlocklist } from "../network/dns/domain-blocklist.ts";
import { ResolvedNames } from "../network/dns/resolved-names.ts";
import {
  type Nameserver,
  parseNameserver,
  parseResolvConf,
  SocketUpstream,
} from "../network/dns/upstream.ts";
import { NetworkEngine } from "../network/engine/network-engine.ts";
import { listenForGuestLink } from "../network/engine/stream-link.ts";
import {
  type GuestNetworkConfig,
  guestNetworkConfig,
  type NetworkPlan,
  networkPlan,
} from "../network/plan.ts";
import { EgressPolicy } from "../network/policy/egress-policy.ts";
import { parseNetRule } from "../network/policy/net-rule.ts";
import type { NetworkSpec } from "../sandbox/spec.ts";

export interface RunningNetwork {
  /** What the agent configures on the guest's eth0. */
  guest: GuestNetworkConfig;
  /** Bytes the guest received and sent, for `msb metrics`. */
  traffic(): { rxBytes: number; txBytes: number };
  stop(): void;
}

export async function startNetwork(
  spec: NetworkSpec,
  socketPath: string,
  log: (line: string) => void,
): Promise<RunningNetwork> {
  const plan = networkPlan(0);
  const engine = createNetworkEngine(spec, plan, log);
  // Ports first: one that is taken fails the start before anything else is set up.
  await engine.publish(spec.ports ?? []).catch((error) => {
    engine.close();
    throw error;
  });
  const listener = listenForGuestLink(socketPath, engine);
  return {
    guest: guestNetworkConfig(plan),
    traffic: () => engine.traffic,
    stop() {
      listener.stop();
      engine.close();
    },
  };
}

/** The engine a NetworkSpec describes: policy with its rules, DNS server, limits. */
export function createNetworkEngine(
  spec: NetworkSpec,
  plan: NetworkPlan,
  log?: (line: string) => void,
): NetworkEngine {
  const policy = new EgressPolicy({
    rules: spec.rules.map(parseNetRule),
    allowHost: false,
    gateway: plan.gateway.ip,
  });
  const resolvedNames = new ResolvedNames();
  const dns = new DnsServer({
    upstream: new SocketUpstream(nameservers(spec)),
    blocklist: new DomainBlocklist(spec.blockedDomains),
    rebindProtection: spec.rebindProtection,
    policy,
    resolvedNames,
  });
  return new NetworkEngine({
    plan,
    policy,
    dns,
    resolvedNames,
    maxConnections: spec.maxConnections,
    ...(log === undefined ? {} : { onLog: log }),
  });
}

function nameservers(spec: NetworkSpec): Nameserver[] {
  if (spec.nameservers.length > 0) return spec.nameservers.map(parseNameserver);
  let text = "";
  try {
    text = readFileSync("/etc/resolv.conf", "utf8");
  } catch (error) {
    throw new MsbError("cannot read /etc/resolv.conf for the sandbox's DNS", {
      cause: error,
      hint: "name an upstream with --dns-nameserver",
    });
  }
  return parseResolvConf(text);
}
