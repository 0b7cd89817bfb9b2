// What the engine asks before relaying a guest flow when TLS interception is on: TCP to an
// intercepted port gets the TLS side (terminate or splice), other TCP a relay whose guest bytes
// pass the secret guard, UDP to an intercepted port is dropped (QUIC, so clients fall back to
// TCP) and other UDP is checked by the guard.
import tls from "node:tls";
import { MsbError } from "../../errors.ts";
import { isSubdomain, normalizeDomain } from "../domain-name.ts";
import { HostSocketRelay } from "../engine/host-socket-relay.ts";
import type { TcpHostSide } from "../engine/tcp-host-side.ts";
import { type CaPem, loadCertificateAuthority } from "../tls/ca.ts";
import { LeafContexts } from "../tls/leaf-certificates.ts";
import { FilteredSide } from "./filtered-side.ts";
import type { FlowContext, FlowGuard } from "./flow-filter.ts";
import { TlsInterceptSide } from "./tls-host-side.ts";

export interface FlowInterceptorConfig {
  /** TCP ports whose TLS is intercepted. Default [443]. */
  ports?: number[];
  /** Names spliced untouched: exact, or `*.suffix` for proper subdomains. */
  bypass: string[];
  /** Drop UDP to intercepted ports (QUIC). */
  blockQuic: boolean;
  ca: CaPem;
  /** Extra PEM CAs trusted for upstream servers, besides the host's trust store. */
  upstreamCaPems: string[];
  /** The sandbox's secrets; null intercepts without them (filters pass everything). */
  guard: FlowGuard | null;
  log: (line: string) => void;
}

/** An allowed guest TCP flow, as the engine knows it when the SYN arrives. */
export interface InterceptedTcpFlow {
  dstIp: string;
  dstPort: number;
  /** Where the relay connects (host loopback for the gateway). */
  hostname: string;
  domains: string[];
  connectTimeoutMs: number;
  onActivity: () => void;
}

export interface FlowInterceptor {
  /** The host side for an allowed TCP flow, or undefined for the engine's plain relay. */
  tcpSide(flow: InterceptedTcpFlow): TcpHostSide | undefined;
  /** Whether an allowed guest UDP datagram may be sent. */
  allowDatagram(flow: Omit<FlowContext, "sni">, payload: Uint8Array): boolean;
}

export function createFlowInterceptor(config: FlowInterceptorConfig): FlowInterceptor {
  const ports = new Set(config.ports ?? [443]);
  const leaves = new LeafContexts(loadCertificateAuthority(config.ca, "given to the interceptor"));
  const upstreamTrust = upstreamContext(config.upstreamCaPems);
  const isBypassed = bypassMatcher(config.bypass);
  const { guard, log } = config;
  return {
    tcpSide(flow) {
      const context: FlowContext = { dstIp: flow.dstIp, dstPort: flow.dstPort, domains: flow.domains };
      if (ports.has(flow.dstPort)) {
        const target = {
          hostname: flow.hostname,
          context,
          connectTimeoutMs: flow.connectTimeoutMs,
          onActivity: flow.onActivity,
        };
        return new TlsInterceptSide(target, { isBypassed, leaves, upstreamTrust, guard, log });
      }
      if (guard === null) return undefined;
      const relay = new HostSocketRelay({
        hostname: flow.hostname,
        port: flow.dstPort,
        connectTimeoutMs: flow.connectTimeoutMs,
        onActivity: flow.onActivity,
      });
      return new FilteredSide(relay, guard.forPlain(context));
    },
    allowDatagram(flow, payload) {
      if (ports.has(flow.dstPort)) return !config.blockQuic;
      return guard === null || guard.allowDatagram(flow, payload);
    },
  };
}

/** The host's trust store (Bun's bundled roots and the system's) plus the user's extra CAs. */
function upstreamContext(extra: string[]): tls.SecureContext {
  const roots = [...tls.getCACertificates("default"), ...tls.getCACertificates("system")];
  try {
    return tls.createSecureContext({ ca: [...new Set([...roots, ...extra])] });
  } catch (error) {
    throw new MsbError("an upstream CA for TLS interception is not a PEM certificate", {
      cause: error,
      code: "usage",
      hint: "give --tls-upstream-ca-cert a PEM file (-----BEGIN CERTIFICATE-----)",
    });
  }
}

/** `name` is bypassed when it equals an entry or is a proper subdomain of a `*.suffix` entry. */
export function bypassMatcher(patterns: string[]): (serverName: string) => boolean {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const pattern of patterns.map(normalizeDomain)) {
    if (pattern.startsWith("*.")) suffixes.push(pattern.slice(2));
    else exact.add(pattern);
  }
  return (serverName) => exact.has(serverName) || suffixes.some((suffix) => isSubdomain(serverName, suffix));
}
