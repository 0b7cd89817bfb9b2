// Egress policy tables: every denied range with its boundary addresses, IPv6 wrappings of IPv4
// addresses, the --net-rule grammar, rule precedence, ports, domains and the host group.
import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/errors.ts";
import { addressRange, embeddedIpv4, parseIpAddress } from "../../src/network/policy/address-class.ts";
import { EgressPolicy } from "../../src/network/policy/egress-policy.ts";
import { parseNetRule } from "../../src/network/policy/net-rule.ts";

const GATEWAY = "100.96.0.21";

function policy(rules: string[] = [], allowHost = false): EgressPolicy {
  return new EgressPolicy({ rules: rules.map(parseNetRule), allowHost, gateway: GATEWAY });
}

const defaults = policy();
const allowed = (ip: string, port = 443, proto: "tcp" | "udp" | "icmp" = "tcp") =>
  defaults.decide({ ip, port, proto }).allow;

describe("default public-only policy: IPv4", () => {
  // [address, allowed, range] — each special range with its first and last address and the
  // public neighbours just outside it.
  const table: Array<[string, boolean, string]> = [
    ["0.0.0.0", false, "unspecified"],
    ["0.255.255.255", false, "unspecified"],
    ["1.0.0.0", true, "unicast"],
    ["9.255.255.255", true, "unicast"],
    ["10.0.0.0", false, "private"],
    ["10.255.255.255", false, "private"],
    ["11.0.0.0", true, "unicast"],
    ["100.63.255.255", true, "unicast"],
    ["100.64.0.0", false, "carrierGradeNat"],
    ["100.100.100.200", false, "carrierGradeNat"],
    ["100.127.255.255", false, "carrierGradeNat"],
    ["100.128.0.0", true, "unicast"],
    ["126.255.255.255", true, "unicast"],
    ["127.0.0.0", false, "loopback"],
    ["127.0.0.1", false, "loopback"],
    ["127.255.255.255", false, "loopback"],
    ["128.0.0.0", true, "unicast"],
    ["168.63.129.16", false, "metadata"],
    ["169.253.255.255", true, "unicast"],
    ["169.254.0.0", false, "linkLocal"],
    ["169.254.169.254", false, "metadata"],
    ["169.254.255.255", false, "linkLocal"],
    ["169.255.0.0", true, "unicast"],
    ["172.15.255.255", true, "unicast"],
    ["172.16.0.0", false, "private"],
    ["172.31.255.255", false, "private"],
    ["172.32.0.0", true, "unicast"],
    ["191.255.255.255", true, "unicast"],
    ["192.0.0.0", false, "reserved"],
    ["192.0.0.255", false, "reserved"],
    ["192.0.1.255", true, "unicast"],
    ["192.0.2.0", false, "reserved"],
    ["192.0.2.255", false, "reserved"],
    ["192.0.3.0", true, "unicast"],
    ["192.31.196.1", false, "as112"],
    ["192.52.193.1", false, "amt"],
    ["192.88.99.1", false, "reserved"],
    ["192.167.255.255", true, "unicast"],
    ["192.168.0.0", false, "private"],
    ["192.168.255.255", false, "private"],
    ["192.169.0.0", true, "unicast"],
    ["192.175.48.1", false, "as112"],
    ["198.17.255.255", true, "unicast"],
    ["198.18.0.0", false, "reserved"],
    ["198.19.255.255", false, "reserved"],
    ["198.20.0.0", true, "unicast"],
    ["198.51.100.0", false, "reserved"],
    ["198.51.100.255", false, "reserved"],
    ["203.0.112.255", true, "unicast"],
    ["203.0.113.0", false, "reserved"],
    ["203.0.113.255", false, "reserved"],
    ["203.0.114.0", true, "unicast"],
    ["223.255.255.255", true, "unicast"],
    ["224.0.0.0", false, "multicast"],
    ["239.255.255.255", false, "multicast"],
    ["240.0.0.0", false, "reserved"],
    ["255.255.255.254", false, "reserved"],
    ["255.255.255.255", false, "broadcast"],
    ["8.8.8.8", true, "unicast"],
    ["93.184.216.34", true, "unicast"],
  ];
  for (const [ip, allow, range] of table) {
    test(`${ip} → ${allow ? "allow" : "deny"} (${range})`, () => {
      expect(addressRange(parseIpAddress(ip)!)).toBe(range);
      const decision = defaults.decide({ ip, port: 443, proto: "tcp" });
      expect(decision.allow).toBe(allow);
      expect(decision.rule).toBe(allow ? "default: allow public" : `default: deny ${range}`);
    });
  }
});

describe("default public-only policy: IPv6", () => {
  const table: Array<[string, boolean]> = [
    ["::", false],
    ["::1", false],
    ["2606:4700:4700::1111", true],
    ["2a00:1450:4001:80b::200e", true],
    ["2001:db8::1", false],
    ["2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false],
    ["2001:db9::1", true],
    ["2001::1", false],
    ["2001:2::1", false],
    ["2001:10::1", false],
    ["2001:20::1", false],
    ["3fff::1", false],
    ["5f00::1", false],
    ["100::1", false],
    ["fbff:ffff::1", true],
    ["fc00::", false],
    ["fd00:ec2::254", false],
    ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false],
    ["fe00::1", true],
    ["fe7f:ffff::1", true],
    ["fe80::", false],
    ["febf:ffff::1", false],
    ["fec0::1", false],
    ["ff02::1", false],
    ["ff00::", false],
    ["64:ff9b:1::1", false],
  ];
  for (const [ip, allow] of table) {
    test(`${ip} → ${allow ? "allow" : "deny"}`, () => expect(allowed(ip)).toBe(allow));
  }
});

describe("IPv4 embedded in IPv6 is judged as IPv4", () => {
  const table: Array<[string, string | null, boolean]> = [
    ["::ffff:127.0.0.1", "127.0.0.1", false],
    ["::ffff:7f00:1", "127.0.0.1", false],
    ["::ffff:169.254.169.254", "169.254.169.254", false],
    ["::ffff:10.1.2.3", "10.1.2.3", false],
    ["::ffff:8.8.8.8", "8.8.8.8", true],
    ["64:ff9b::10.0.0.1", "10.0.0.1", false],
    ["64:ff9b::7f00:1", "127.0.0.1", false],
    ["64:ff9b::a9fe:a9fe", "169.254.169.254", false],
    ["64:ff9b::8.8.8.8", "8.8.8.8", true],
    ["2002:7f00:1::", "127.0.0.1", false],
    ["2002:c0a8:101::1", "192.168.1.1", false],
    ["2002:0808:0808::1", "8.8.8.8", true],
    ["::127.0.0.1", "127.0.0.1", false],
    ["::10.0.0.1", "10.0.0.1", false],
    ["::8.8.8.8", "8.8.8.8", true],
    ["::2", "0.0.0.2", false],
    ["::1", null, false],
    ["::", null, false],
    ["2606:4700::1111", null, true],
  ];
  for (const [ip, embedded, allow] of table) {
    test(`${ip} → ${embedded ?? "no IPv4"} → ${allow ? "allow" : "deny"}`, () => {
      const address = parseIpAddress(ip)!;
      expect(address.kind()).toBe("ipv6");
      expect(embeddedIpv4(address as never)?.toString() ?? null).toBe(embedded);
      expect(allowed(ip)).toBe(allow);
    });
  }

  test("byte-form addresses classify the same as text", () => {
    const mapped = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
    expect(defaults.decide({ ip: mapped, port: 80, proto: "tcp" }).allow).toBe(false);
    expect(defaults.decide({ ip: new Uint8Array([1, 1, 1, 1]), port: 80, proto: "tcp" }).allow).toBe(true);
  });

  test("malformed and non-canonical addresses are denied", () => {
    for (const ip of ["0x7f.1", "127.1", "1.2.3", "not-an-ip", ""]) {
      expect(defaults.decide({ ip, port: 80, proto: "tcp" })).toEqual({
        allow: false,
        rule: "default: invalid address",
      });
    }
    expect(defaults.decide({ ip: new Uint8Array(5), port: 80, proto: "tcp" }).allow).toBe(false);
  });
});

describe("the gateway stands for the host", () => {
  test("denied by default, even on ports and through CIDR rules that cover it", () => {
    expect(defaults.decide({ ip: GATEWAY, port: 8080, proto: "tcp" })).toEqual({
      allow: false,
      rule: "default: deny host",
    });
    const broad = policy(["allow@100.64.0.0/10", "allow@private", "allow@public"]);
    expect(broad.decide({ ip: GATEWAY, port: 8080, proto: "tcp" }).allow).toBe(false);
    expect(broad.decide({ ip: "100.96.0.20", port: 8080, proto: "tcp" }).allow).toBe(true);
    expect(defaults.decide({ ip: `::ffff:${GATEWAY}`, port: 80, proto: "tcp" }).rule).toBe(
      "default: deny host",
    );
  });

  test("allowHost redirects to the host's loopback", () => {
    expect(policy([], true).decide({ ip: GATEWAY, port: 8080, proto: "tcp" })).toEqual({
      allow: true,
      rule: "allow-host",
      redirectToHostLoopback: true,
    });
  });

  test("allow@host rules, with ports, do too", () => {
    const hostRules = policy(["allow@host:tcp:8080"]);
    expect(hostRules.decide({ ip: GATEWAY, port: 8080, proto: "tcp" })).toEqual({
      allow: true,
      rule: "allow@host:tcp:8080",
      redirectToHostLoopback: true,
    });
    expect(hostRules.decide({ ip: GATEWAY, port: 8081, proto: "tcp" }).allow).toBe(false);
    expect(policy(["deny@host:tcp:22"], true).decide({ ip: GATEWAY, port: 22, proto: "tcp" })).toEqual({
      allow: false,
      rule: "deny@host:tcp:22",
    });
    expect(hostRules.decide({ ip: "8.8.8.8", port: 8080, proto: "tcp" }).rule).toBe("default: allow public");
  });
});

describe("rules", () => {
  test("first match wins, then the default", () => {
    const rules = policy([
      "deny@8.8.8.8",
      "allow@8.8.0.0/16",
      "allow@10.1.0.0/16:tcp:443",
      "deny@public:tcp:25",
    ]);
    expect(rules.decide({ ip: "8.8.8.8", port: 53, proto: "udp" })).toEqual({
      allow: false,
      rule: "deny@8.8.8.8",
    });
    expect(rules.decide({ ip: "8.8.4.4", port: 53, proto: "udp" })).toEqual({
      allow: true,
      rule: "allow@8.8.0.0/16",
    });
    expect(rules.decide({ ip: "10.1.2.3", port: 443, proto: "tcp" }).allow).toBe(true);
    expect(rules.decide({ ip: "10.1.2.3", port: 443, proto: "udp" }).rule).toBe("default: deny private");
    expect(rules.decide({ ip: "10.1.2.3", port: 80, proto: "tcp" }).allow).toBe(false);
    expect(rules.decide({ ip: "1.1.1.1", port: 25, proto: "tcp" })).toEqual({
      allow: false,
      rule: "deny@public:tcp:25",
    });
    expect(rules.decide({ ip: "1.1.1.1", port: 587, proto: "tcp" }).allow).toBe(true);
  });

  test("port lists and ranges; icmp never matches a port rule", () => {
    const rules = policy(["allow@10.0.0.0/8:tcp:80,443,8000-8100", "allow@192.168.0.0/16:any:53"]);
    for (const port of [80, 443, 8000, 8050, 8100])
      expect(rules.decide({ ip: "10.0.0.1", port, proto: "tcp" }).allow).toBe(true);
    for (const port of [79, 81, 7999, 8101])
      expect(rules.decide({ ip: "10.0.0.1", port, proto: "tcp" }).allow).toBe(false);
    expect(rules.decide({ ip: "192.168.1.1", port: 53, proto: "udp" }).allow).toBe(true);
    expect(rules.decide({ ip: "192.168.1.1", port: 53, proto: "tcp" }).allow).toBe(true);
    expect(rules.decide({ ip: "192.168.1.1", port: 0, proto: "icmp" }).allow).toBe(false);
  });

  test("protocol-only rules", () => {
    const rules = policy(["deny@public:udp", "allow@10.0.0.1:icmp"]);
    expect(rules.decide({ ip: "1.1.1.1", port: 443, proto: "udp" }).allow).toBe(false);
    expect(rules.decide({ ip: "1.1.1.1", port: 443, proto: "tcp" }).allow).toBe(true);
    expect(rules.decide({ ip: "10.0.0.1", port: 0, proto: "icmp" }).allow).toBe(true);
    expect(rules.decide({ ip: "10.0.0.1", port: 80, proto: "tcp" }).allow).toBe(false);
  });

  test("the private group is RFC 1918, CGNAT and ULA, not loopback or link-local", () => {
    const rules = policy(["allow@private"]);
    for (const ip of ["10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fd00::1", "::ffff:10.0.0.1"]) {
      expect(rules.decide({ ip, port: 80, proto: "tcp" }).allow).toBe(true);
    }
    for (const ip of ["127.0.0.1", "169.254.169.254", "fe80::1", "224.0.0.1"]) {
      expect(rules.decide({ ip, port: 80, proto: "tcp" }).allow).toBe(false);
    }
  });

  test("deny@public turns the default around", () => {
    const rules = policy(["allow@api.example.com", "deny@public"]);
    expect(rules.decide({ ip: "1.2.3.4", port: 443, proto: "tcp" }).allow).toBe(false);
    expect(rules.decide({ ip: "1.2.3.4", port: 443, proto: "tcp", domain: "API.Example.com." }).allow).toBe(
      true,
    );
  });

  test("domain and *.suffix rules match the names the sandbox resolved", () => {
    const rules = policy(["allow@internal.corp", "allow@*.svc.corp:tcp:443", "deny@*.bad.example"]);
    expect(rules.decide({ ip: "10.0.0.5", port: 80, proto: "tcp", domain: "internal.corp" }).allow).toBe(
      true,
    );
    expect(rules.decide({ ip: "10.0.0.5", port: 80, proto: "tcp", domain: "x.internal.corp" }).allow).toBe(
      false,
    );
    expect(rules.decide({ ip: "10.0.0.6", port: 443, proto: "tcp", domain: "a.svc.corp" }).allow).toBe(true);
    expect(
      rules.decide({ ip: "10.0.0.6", port: 443, proto: "tcp", domain: ["other", "b.a.svc.corp"] }).allow,
    ).toBe(true);
    expect(rules.decide({ ip: "10.0.0.6", port: 443, proto: "tcp", domain: "svc.corp" }).allow).toBe(false);
    expect(rules.decide({ ip: "10.0.0.6", port: 443, proto: "tcp" }).allow).toBe(false);
    expect(rules.decide({ ip: "1.2.3.4", port: 443, proto: "tcp", domain: "x.bad.example" }).allow).toBe(
      false,
    );
    expect(rules.decide({ ip: "1.2.3.4", port: 443, proto: "tcp", domain: "bad.example" }).allow).toBe(true);
  });

  test("address rules also match the IPv4 address inside IPv6 forms", () => {
    const rules = policy(["deny@8.8.8.8", "allow@10.0.0.0/8"]);
    expect(rules.decide({ ip: "::ffff:8.8.8.8", port: 53, proto: "udp" }).allow).toBe(false);
    expect(rules.decide({ ip: "64:ff9b::8.8.8.8", port: 53, proto: "udp" }).allow).toBe(false);
    expect(rules.decide({ ip: "::ffff:10.9.9.9", port: 53, proto: "udp" }).allow).toBe(true);
  });

  test("IPv6 rules, bare and bracketed", () => {
    const rules = policy(["allow@fd00::/8:tcp:22", "deny@[2606:4700::1111]:udp:53", "deny@2a00:1450::/32"]);
    expect(rules.decide({ ip: "fd12::1", port: 22, proto: "tcp" }).allow).toBe(true);
    expect(rules.decide({ ip: "2606:4700::1111", port: 53, proto: "udp" }).allow).toBe(false);
    expect(rules.decide({ ip: "2606:4700::1111", port: 443, proto: "tcp" }).allow).toBe(true);
    expect(rules.decide({ ip: "2a00:1450::1", port: 443, proto: "tcp" }).allow).toBe(false);
  });
});

describe("mayReach (used by DNS rebinding protection)", () => {
  test("public yes, private no, unless a rule opens some port", () => {
    expect(defaults.mayReach("8.8.8.8")).toBe(true);
    expect(defaults.mayReach("10.0.0.1")).toBe(false);
    expect(defaults.mayReach("::ffff:127.0.0.1")).toBe(false);
    expect(policy(["allow@10.0.0.1:tcp:443"]).mayReach("10.0.0.1")).toBe(true);
    expect(policy(["allow@internal.corp"]).mayReach("10.0.0.1", "internal.corp")).toBe(true);
    expect(policy(["allow@internal.corp"]).mayReach("10.0.0.1", "other.corp")).toBe(false);
  });

  test("a whole-address deny stops it; a port-limited deny does not", () => {
    expect(policy(["deny@8.8.8.8"]).mayReach("8.8.8.8")).toBe(false);
    expect(policy(["deny@8.8.8.8:tcp:25"]).mayReach("8.8.8.8")).toBe(true);
    expect(policy(["deny@public:tcp", "allow@10.0.0.0/8"]).mayReach("1.1.1.1")).toBe(true);
    expect(policy(["deny@10.0.0.1:udp", "allow@10.0.0.0/8:udp"]).mayReach("10.0.0.1")).toBe(true);
  });

  test("the gateway only with host access", () => {
    expect(defaults.mayReach(GATEWAY)).toBe(false);
    expect(policy([], true).mayReach(GATEWAY)).toBe(true);
  });
});

describe("parseNetRule", () => {
  test("parses every target kind, protocol and port form", () => {
    expect(parseNetRule("allow@1.2.3.4")).toMatchObject({ action: "allow", protocol: "any", ports: null });
    expect(parseNetRule("DENY@10.0.0.0/8:TCP")).toMatchObject({
      action: "deny",
      protocol: "tcp",
      ports: null,
    });
    expect(parseNetRule("allow@example.com:tcp:80-90,443")).toMatchObject({
      target: { kind: "domain", name: "example.com" },
      ports: [
        { first: 80, last: 90 },
        { first: 443, last: 443 },
      ],
    });
    expect(parseNetRule("allow@*.Example.COM.:udp:53").target).toEqual({
      kind: "domainSuffix",
      suffix: "example.com",
    });
    expect(parseNetRule("allow@public").target).toEqual({ kind: "group", group: "public" });
    expect(parseNetRule("allow@host:any:8080").target).toEqual({ kind: "group", group: "host" });
    expect(parseNetRule("deny@2001:db8::1").target).toMatchObject({ kind: "network", prefix: 128 });
    expect(parseNetRule("deny@2001:db8::/32:tcp:443")).toMatchObject({
      target: { prefix: 32 },
      protocol: "tcp",
    });
    expect(parseNetRule("deny@[::1]:tcp").target).toMatchObject({ kind: "network", prefix: 128 });
    expect(parseNetRule("allow@icmp-host.example:icmp").protocol).toBe("icmp");
  });

  const bad: Array<[string, string]> = [
    ["1.2.3.4", "allow@ or deny@"],
    ["permit@1.2.3.4", "allow@ or deny@"],
    ["allow@", "allow@ or deny@"],
    ["allow@1.2.3.4:443", "ports need a protocol"],
    ["allow@1.2.3.4:tcp:0", "outside 1..65535"],
    ["allow@1.2.3.4:tcp:70000", "outside 1..65535"],
    ["allow@1.2.3.4:tcp:90-80", "outside 1..65535"],
    ["allow@1.2.3.4:tcp:http", "not a port"],
    ["allow@1.2.3.4:icmp:1", "icmp has no ports"],
    ["allow@10.0.0.0/33", "not a valid CIDR"],
    ["allow@10.0.0", "not an address, CIDR, domain"],
    ["allow@0x7f.1", "not an address, CIDR, domain"],
    ["allow@exa mple.com", "not an address, CIDR, domain"],
    ["allow@*.", "not a valid domain pattern"],
    ["allow@-bad-.com", "not an address, CIDR, domain"],
  ];
  for (const [text, reason] of bad) {
    test(`refuses ${JSON.stringify(text)}`, () => {
      let error: unknown;
      try {
        parseNetRule(text);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).message).toContain(`"${text}"`);
      expect((error as UsageError).message).toContain(reason);
    });
  }
});
