// The network flags of run/create: defaults, each flag, and every refusal before anything exists.
import { describe, expect, test } from "bun:test";
import { DEFAULT_MAX_CONNECTIONS, parseNetworkFlags } from "../../src/sandbox/parse-network.ts";

describe("parseNetworkFlags", () => {
  test("defaults to public-only egress with rebinding protection", () => {
    expect(parseNetworkFlags({})).toEqual({
      rules: [],
      blockedDomains: [],
      nameservers: [],
      rebindProtection: true,
      maxConnections: DEFAULT_MAX_CONNECTIONS,
      ports: [],
    });
  });

  test("keeps every flag's values", () => {
    expect(
      parseNetworkFlags({
        netRule: ["allow@host", "allow@10.200.0.0/24:tcp:80,443"],
        dnsBlockDomain: ["ads.example"],
        dnsNameserver: ["192.0.2.53:5353"],
        noDnsRebindProtection: true,
        maxConnections: "1000",
        port: ["8080:80"],
      }),
    ).toEqual({
      rules: ["allow@host", "allow@10.200.0.0/24:tcp:80,443"],
      blockedDomains: ["ads.example"],
      nameservers: ["192.0.2.53:5353"],
      rebindProtection: false,
      maxConnections: 1000,
      ports: [{ bindAddress: "127.0.0.1", hostPort: 8080, guestPort: 80, protocol: "tcp" }],
    });
  });

  test("--no-network means no NIC", () => {
    expect(parseNetworkFlags({ noNetwork: true })).toBeNull();
  });

  test.each([
    [{ netRule: ["maybe@host"] }, /maybe@host/],
    [{ dnsBlockDomain: ["not a domain"] }, /not a domain/],
    [{ dnsNameserver: ["nowhere"] }, /nowhere/],
    [{ maxConnections: "0" }, /--max-connections "0"/],
    [{ maxConnections: "lots" }, /--max-connections "lots"/],
    [{ noNetwork: true, netRule: ["allow@host"] }, /--no-network cannot be combined with --net-rule/],
    [{ noNetwork: true, port: ["8080:80"] }, /--no-network cannot be combined with -p/],
  ])("%p is refused", (flags, message) => {
    expect(() => parseNetworkFlags(flags)).toThrow(message);
  });
});
