// `-p [ADDR:]HOST:GUEST[/tcp|/udp]`: a guest port published on the host. Binds 127.0.0.1 unless
// an address is given (upstream's default: a published port is not exposed to the network by
// accident); an IPv6 address goes in brackets.
import { isIP } from "node:net";
import { UsageError } from "../errors.ts";
import type { PublishedPort } from "./spec.ts";

const FORMAT = "-p [ADDR:]HOST:GUEST[/tcp|/udp], e.g. -p 8080:80 or -p 0.0.0.0:5353:53/udp";

export function parsePort(spec: string): PublishedPort {
  const invalid = (why: string) => new UsageError(`invalid port ${JSON.stringify(spec)}: ${why}`, FORMAT);
  const [mapping, protocol = "tcp", ...rest] = spec.split("/");
  if (rest.length > 0 || (protocol !== "tcp" && protocol !== "udp"))
    throw invalid("the protocol must be tcp or udp");
  const match = /^(?:(\[[^\]]+\]|[^:]+):)?([^:]+):([^:]+)$/.exec(mapping ?? "");
  if (!match) throw invalid("expected HOST:GUEST or ADDR:HOST:GUEST");
  const [, address, host = "", guest = ""] = match;
  const bindAddress = address === undefined ? "127.0.0.1" : address.replace(/^\[|\]$/g, "");
  if (isIP(bindAddress) === 0) throw invalid(`${bindAddress} is not an IP address`);
  return {
    bindAddress,
    hostPort: portNumber(host, invalid),
    guestPort: portNumber(guest, invalid),
    protocol,
  };
}

export function parsePorts(specs: readonly string[]): PublishedPort[] {
  const ports = specs.map(parsePort);
  const seen = new Set<string>();
  for (const port of ports) {
    const key = `${port.bindAddress}:${port.hostPort}/${port.protocol}`;
    if (seen.has(key))
      throw new UsageError(`host port ${key} is published twice`, "give each -p its own host port");
    seen.add(key);
  }
  return ports;
}

function portNumber(text: string, invalid: (why: string) => UsageError): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65_535) throw invalid(`${text} is not a port (1-65535)`);
  return port;
}
