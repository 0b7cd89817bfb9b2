// Where a registry's HTTP API lives. Plain HTTP is only used for registries on this machine
// (traffic never leaves loopback) or when the user opted in with --insecure.
import { DEFAULT_REGISTRY } from "../reference.ts";

/** Host (and port) serving the API of a normalized registry name; Docker Hub's differs. */
export function registryApiHost(registry: string): string {
  return registry === DEFAULT_REGISTRY ? "registry-1.docker.io" : registry;
}

/** The host part of `host[:port]`, brackets of an IPv6 literal removed. */
function hostName(hostWithPort: string): string {
  const bracketed = /^\[([^\]]+)\]/.exec(hostWithPort);
  if (bracketed) return bracketed[1] ?? "";
  return hostWithPort.replace(/:[0-9]*$/, "");
}

export function isLoopbackHost(hostWithPort: string): boolean {
  const host = hostName(hostWithPort).toLowerCase();
  if (host === "localhost" || host === "::1" || host === "0:0:0:0:0:0:0:1") return true;
  return /^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/.test(host);
}

export function registryScheme(registry: string, insecure: boolean): "http" | "https" {
  return insecure || isLoopbackHost(registry) ? "http" : "https";
}

/** `https://registry-1.docker.io/v2/` style base for API paths. */
export function registryBaseUrl(registry: string, insecure: boolean): string {
  return `${registryScheme(registry, insecure)}://${registryApiHost(registry)}/v2/`;
}
