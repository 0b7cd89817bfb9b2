// The TLS interception flags of run/create: --tls-intercept (implied by any --secret),
// --tls-intercept-port, --tls-bypass, --no-block-quic, --tls-intercept-ca-cert/-key and
// --tls-upstream-ca-cert. Files are checked to exist now and stored as absolute paths.
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { isValidDomain, normalizeDomain } from "../network/domain-name.ts";
import type { TlsInterceptSpec } from "./spec.ts";

export const DEFAULT_INTERCEPT_PORT = 443;

export interface TlsFlags {
  tlsIntercept?: boolean;
  tlsInterceptPort?: string[];
  tlsBypass?: string[];
  noBlockQuic?: boolean;
  tlsInterceptCaCert?: string;
  tlsInterceptCaKey?: string;
  tlsUpstreamCaCert?: string[];
}

/** null when nothing asks for interception; `implied` is true when a --secret needs it. */
export function parseTlsFlags(flags: TlsFlags, implied: boolean, cwd: string): TlsInterceptSpec | null {
  const given = tlsFlagsGiven(flags);
  if (!flags.tlsIntercept && !implied) {
    if (given.length > 0) {
      throw new UsageError(
        `${given.join(", ")} needs TLS interception`,
        "add --tls-intercept (a --secret turns it on too)",
      );
    }
    return null;
  }
  if ((flags.tlsInterceptCaCert === undefined) !== (flags.tlsInterceptCaKey === undefined)) {
    throw new UsageError(
      "--tls-intercept-ca-cert and --tls-intercept-ca-key go together",
      "give both files of your CA, or neither to use the one msb creates",
    );
  }
  const ports = (flags.tlsInterceptPort ?? []).map(parsePort);
  return {
    ports: ports.length > 0 ? [...new Set(ports)] : [DEFAULT_INTERCEPT_PORT],
    bypass: (flags.tlsBypass ?? []).map(parseBypass),
    blockQuic: !flags.noBlockQuic,
    caCert: optionalFile(flags.tlsInterceptCaCert, "--tls-intercept-ca-cert", cwd),
    caKey: optionalFile(flags.tlsInterceptCaKey, "--tls-intercept-ca-key", cwd),
    upstreamCaCerts: (flags.tlsUpstreamCaCert ?? []).map((path) =>
      existingFile(path, "--tls-upstream-ca-cert", cwd),
    ),
  };
}

/** The TLS flags present, for the message when --no-network rules them out. */
export function tlsFlagsGiven(flags: TlsFlags): string[] {
  return [
    (flags.tlsInterceptPort ?? []).length > 0 && "--tls-intercept-port",
    (flags.tlsBypass ?? []).length > 0 && "--tls-bypass",
    flags.noBlockQuic && "--no-block-quic",
    flags.tlsInterceptCaCert !== undefined && "--tls-intercept-ca-cert",
    flags.tlsInterceptCaKey !== undefined && "--tls-intercept-ca-key",
    (flags.tlsUpstreamCaCert ?? []).length > 0 && "--tls-upstream-ca-cert",
  ].filter((flag): flag is string => typeof flag === "string");
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65_535) {
    throw new UsageError(
      `invalid --tls-intercept-port ${JSON.stringify(text)}`,
      "give a port from 1 to 65535, e.g. 8443",
    );
  }
  return port;
}

function parseBypass(text: string): string {
  const host = normalizeDomain(text.trim());
  if (!isValidDomain(host.startsWith("*.") ? host.slice(2) : host)) {
    throw new UsageError(
      `invalid --tls-bypass ${JSON.stringify(text)}`,
      "give a domain or *.suffix, e.g. --tls-bypass *.example.com",
    );
  }
  return host;
}

function optionalFile(path: string | undefined, flag: string, cwd: string): string | null {
  return path === undefined ? null : existingFile(path, flag, cwd);
}

function existingFile(path: string, flag: string, cwd: string): string {
  const absolute = resolve(cwd, path);
  let isFile = false;
  try {
    isFile = statSync(absolute).isFile();
  } catch {
    // Reported below with the flag's name.
  }
  if (!isFile) throw new UsageError(`${flag} ${path}: no such file`, "give the path of a PEM file");
  return absolute;
}
