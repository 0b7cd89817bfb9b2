// Starts a sandbox's network engine in the supervisor: the public-only egress policy with the
// sandbox's rules, its DNS server, and the listener on net.sock that the guest's NIC (a TAP
// relay on the namespace backend) connects to. Each sandbox has its own link, so every sandbox
// can use the same addresses (slot 0 of the plan). With TLS interception it loads the CA and
// builds the secret guard from the spec and the values the supervisor holds in memory.
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
import type { FlowGuard } from "../network/intercept/flow-filter.ts";
import { createFlowInterceptor } from "../network/intercept/flow-interceptor.ts";
import {
  type GuestNetworkConfig,
  guestNetworkConfig,
  type NetworkPlan,
  networkPlan,
} from "../network/plan.ts";
import { EgressPolicy } from "../network/policy/egress-policy.ts";
import { parseNetRule } from "../network/policy/net-rule.ts";
import { createSecretGuard } from "../network/secrets/secret-guard.ts";
import { guardedSecrets } from "../network/secrets/secret-set.ts";
import type { CaPem } from "../network/tls/ca.ts";
import { loadOrCreateCa } from "../network/tls/ca-store.ts";
import type { NetworkSpec } from "../sandbox/spec.ts";

export interface RunningNetwork {
  /** What the agent configures on the guest's eth0. */
  guest: GuestNetworkConfig;
  /** Bytes the guest received and sent, for `msb metrics`. */
  traffic(): { rxBytes: number; txBytes: number };
  /** The interception CA the guest must trust; null without --tls-intercept. */
  caCertPem: string | null;
  stop(): void;
}

export interface SecretContext {
  msbHome: string;
  /** The secrets' values, by name, as the CLI handed them over. */
  values: ReadonlyMap<string, string>;
  /** Stops the sandbox after a violation under block-and-terminate. */
  terminate(): void;
}

/** What TLS interception needs besides the spec: the CA and the secrets' guard. */
export interface Interception {
  ca: CaPem;
  guard: FlowGuard | null;
}

export async function startNetwork(
  spec: NetworkSpec,
  socketPath: string,
  log: (line: string) => void,
  secrets: SecretContext,
): Promise<RunningNetwork> {
  const plan = networkPlan(0);
  const interception = spec.tls ? await interceptionFor(spec, secrets, log) : undefined;
  const engine = createNetworkEngine(spec, plan, log, interception);
  // Ports first: one that is taken fails the start before anything else is set up.
  await engine.publish(spec.ports ?? []).catch((error) => {
    engine.close();
    throw error;
  });
  const listener = listenForGuestLink(socketPath, engine);
  return {
    guest: guestNetworkConfig(plan),
    traffic: () => engine.traffic,
    caCertPem: interception?.ca.certPem ?? null,
    stop() {
      listener.stop();
      engine.close();
    },
  };
}

async function interceptionFor(spec: NetworkSpec, secrets: SecretContext, log: (line: string) => void) {
  const tls = spec.tls!;
  const userCa =
    tls.caCert !== null && tls.caKey !== null ? { certPath: tls.caCert, keyPath: tls.caKey } : undefined;
  const ca = await loadOrCreateCa(secrets.msbHome, userCa);
  const specs = spec.secrets ?? [];
  const guard =
    specs.length === 0
      ? null
      : createSecretGuard({
          secrets: guardedSecrets(specs, secrets.values),
          action: spec.secretViolation ?? "block-and-log",
          log,
          terminate: secrets.terminate,
        });
  return { ca, guard };
}

/**
 * The engine a NetworkSpec describes: policy with its rules, DNS server, limits, and TLS
 * interception when the spec asks for it and `interception` supplies the CA (and guard).
 */
export function createNetworkEngine(
  spec: NetworkSpec,
  plan: NetworkPlan,
  log?: (line: string) => void,
  interception?: Interception,
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
    ...(spec.tls && interception
      ? {
          interceptor: createFlowInterceptor({
            ports: spec.tls.ports,
            bypass: spec.tls.bypass,
            blockQuic: spec.tls.blockQuic,
            ca: interception.ca,
            upstreamCaPems: spec.tls.upstreamCaCerts.map((path) => readPemFile(path)),
            guard: interception.guard,
            log: log ?? (() => {}),
          }),
        }
      : {}),
  });
}

function readPemFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new MsbError(`cannot read the upstream CA ${path}`, {
      cause: error,
      hint: "recreate the sandbox with an existing --tls-upstream-ca-cert file",
    });
  }
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
