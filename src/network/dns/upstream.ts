// Where the DNS server forwards queries: the host's nameservers (from /etc/resolv.conf, or the
// --dns-nameserver override), asked over UDP with a timeout and retries across the list, and
// again over TCP when a UDP answer comes back truncated. Each UDP query uses a fresh socket, so
// a fresh random source port, and only a reply from the server with the query's id is accepted.
import { MsbError, UsageError } from "../../errors.ts";
import { parseIpAddress } from "../policy/address-class.ts";
import { frameTcpDnsMessage, TcpDnsReader } from "./tcp-dns-framing.ts";

/** Forwards one raw DNS query and resolves with the raw response. */
export interface DnsUpstream {
  exchange(query: Uint8Array): Promise<Uint8Array>;
}

export interface Nameserver {
  address: string;
  port: number;
}

const DNS_PORT = 53;
const TRUNCATED_FLAG = 0x02;

/**
 * The `nameserver` lines of a resolv.conf. Loopback servers such as systemd-resolved's
 * 127.0.0.53 are kept: the engine runs on the host and can reach them.
 */
export function parseResolvConf(text: string): Nameserver[] {
  const servers: Nameserver[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] !== "nameserver" || fields[1] === undefined) continue;
    // Zone-scoped link-local servers (fe80::1%eth0) cannot be addressed from Bun's UDP API.
    const address = parseIpAddress(fields[1]);
    if (address !== null) servers.push({ address: address.toString(), port: DNS_PORT });
  }
  return servers;
}

/** A --dns-nameserver value: `1.1.1.1`, `1.1.1.1:5353`, `2606:4700::1111` or `[::1]:5353`. */
export function parseNameserver(spec: string): Nameserver {
  const text = spec.trim();
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const host = match === null ? text : match[1]!;
  const port = match?.[2] === undefined ? DNS_PORT : Number(match[2]);
  const address = parseIpAddress(host);
  if (address === null || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(
      `invalid --dns-nameserver "${spec}"`,
      "give an IP address with an optional port: 1.1.1.1, 1.1.1.1:53, [2606:4700::1111]:53",
    );
  }
  return { address: address.toString(), port };
}

export interface SocketUpstreamOptions {
  /** Per attempt. Default 2000 ms. */
  timeoutMs?: number;
  /** Passes over the whole server list. Default 2. */
  rounds?: number;
}

export class SocketUpstream implements DnsUpstream {
  private readonly timeoutMs: number;
  private readonly rounds: number;

  constructor(
    private readonly nameservers: readonly Nameserver[],
    options: SocketUpstreamOptions = {},
  ) {
    if (nameservers.length === 0) {
      throw new UsageError(
        "no DNS nameserver to forward to",
        "pass --dns-nameserver or fix /etc/resolv.conf",
      );
    }
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.rounds = options.rounds ?? 2;
  }

  async exchange(query: Uint8Array): Promise<Uint8Array> {
    const failures: string[] = [];
    for (let round = 0; round < this.rounds; round++) {
      for (const server of this.nameservers) {
        try {
          const response = await this.exchangeUdp(server, query);
          if ((response[2]! & TRUNCATED_FLAG) === 0) return response;
          return await this.exchangeTcp(server, query);
        } catch (error) {
          failures.push(
            `${server.address}:${server.port}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    }
    throw new MsbError(`no DNS nameserver answered: ${[...new Set(failures)].join("; ")}`, {
      code: "unavailable",
    });
  }

  private async exchangeUdp(server: Nameserver, query: Uint8Array): Promise<Uint8Array> {
    const { promise, resolve, reject } = Promise.withResolvers<Uint8Array>();
    const ipv6 = server.address.includes(":");
    const socket = await Bun.udpSocket({
      hostname: ipv6 ? "::" : "0.0.0.0",
      socket: {
        data(_socket, data, port, address) {
          if (port !== server.port || parseIpAddress(address)?.toString() !== server.address) return;
          if (data.length >= 12 && data[0] === query[0] && data[1] === query[1])
            resolve(new Uint8Array(data));
        },
      },
    });
    const timer = setTimeout(
      () => reject(new Error(`no UDP answer in ${this.timeoutMs} ms`)),
      this.timeoutMs,
    );
    try {
      socket.send(query, server.port, server.address);
      return await promise;
    } finally {
      clearTimeout(timer);
      socket.close();
    }
  }

  private async exchangeTcp(server: Nameserver, query: Uint8Array): Promise<Uint8Array> {
    const { promise, resolve, reject } = Promise.withResolvers<Uint8Array>();
    const reader = new TcpDnsReader();
    const timer = setTimeout(
      () => reject(new Error(`no TCP answer in ${this.timeoutMs} ms`)),
      this.timeoutMs,
    );
    const socket = await Bun.connect({
      hostname: server.address,
      port: server.port,
      socket: {
        open(socket) {
          socket.write(frameTcpDnsMessage(query));
        },
        data(_socket, chunk) {
          for (const message of reader.push(chunk)) {
            if (message.length >= 12 && message[0] === query[0] && message[1] === query[1]) resolve(message);
          }
        },
        close() {
          reject(new Error("TCP connection closed before an answer"));
        },
        error(_socket, error) {
          reject(error);
        },
      },
    }).catch((error: unknown) => {
      clearTimeout(timer);
      throw error;
    });
    try {
      return await promise;
    } finally {
      clearTimeout(timer);
      socket.end();
    }
  }
}
