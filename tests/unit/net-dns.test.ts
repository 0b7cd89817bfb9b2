// The DNS server against fake upstreams (blocking, forwarding, rebinding protection, CNAME
// chains, truncation, malformed queries), the TCP framing, the resolved-name pins, resolv.conf
// parsing, and the socket upstream against UDP/TCP servers started on loopback by the test.
import { afterEach, describe, expect, test } from "bun:test";
import dnsPacket from "dns-packet";
import { UsageError } from "../../src/errors.ts";
import { DnsRcode, DnsServer, type DnsServerOptions } from "../../src/network/dns/dns-server.ts";
import { DomainBlocklist } from "../../src/network/dns/domain-blocklist.ts";
import { ResolvedNames } from "../../src/network/dns/resolved-names.ts";
import { frameTcpDnsMessage, TcpDnsReader } from "../../src/network/dns/tcp-dns-framing.ts";
import {
  type DnsUpstream,
  parseNameserver,
  parseResolvConf,
  SocketUpstream,
} from "../../src/network/dns/upstream.ts";
import { EgressPolicy } from "../../src/network/policy/egress-policy.ts";
import { parseNetRule } from "../../src/network/policy/net-rule.ts";

type Answer = dnsPacket.Answer;

function query(
  name: string,
  type: dnsPacket.RecordType = "A",
  options: { id?: number; ednsSize?: number } = {},
): Uint8Array {
  return dnsPacket.encode({
    type: "query",
    id: options.id ?? 0x4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: "IN" }],
    additionals:
      options.ednsSize === undefined
        ? []
        : [{ type: "OPT", name: ".", udpPayloadSize: options.ednsSize, flags: 0, options: [] } as never],
  });
}

function decode(bytes: Uint8Array | null): dnsPacket.DecodedPacket {
  if (bytes === null) throw new Error("no response");
  return dnsPacket.decode(Buffer.from(bytes));
}

const rcodeOf = (packet: dnsPacket.DecodedPacket): number => (packet.flags ?? 0) & 0xf;

/** An upstream that answers every query with `answers` (same id and question), and counts calls. */
class FakeUpstream implements DnsUpstream {
  calls = 0;
  constructor(private readonly answersFor: (name: string) => Answer[] | Error) {}

  async exchange(raw: Uint8Array): Promise<Uint8Array> {
    this.calls++;
    const request = decode(raw);
    const answers = this.answersFor(request.questions![0]!.name);
    if (answers instanceof Error) throw answers;
    return dnsPacket.encode({
      type: "response",
      id: request.id,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: request.questions,
      answers,
    });
  }
}

const a = (name: string, data: string, ttl = 60): Answer => ({ type: "A", name, data, ttl, class: "IN" });
const aaaa = (name: string, data: string, ttl = 60): Answer => ({
  type: "AAAA",
  name,
  data,
  ttl,
  class: "IN",
});
const cname = (name: string, data: string): Answer => ({ type: "CNAME", name, data, ttl: 60, class: "IN" });

function server(upstream: DnsUpstream, overrides: Partial<DnsServerOptions> = {}) {
  const resolvedNames = new ResolvedNames();
  const options: DnsServerOptions = {
    upstream,
    blocklist: new DomainBlocklist(["blocked.example", "ads.test."]),
    rebindProtection: true,
    policy: new EgressPolicy({
      rules: [parseNetRule("allow@intranet.corp")],
      allowHost: false,
      gateway: "100.96.0.1",
    }),
    resolvedNames,
    ...overrides,
  };
  return { dns: new DnsServer(options), resolvedNames: options.resolvedNames };
}

describe("DnsServer", () => {
  const records: Record<string, Answer[]> = {
    "public.example": [a("public.example", "93.184.216.34"), aaaa("public.example", "2606:2800:220:1::1")],
    "rebind.example": [a("rebind.example", "127.0.0.1"), aaaa("rebind.example", "::ffff:10.0.0.1")],
    "mixed.example": [a("mixed.example", "192.168.1.10"), a("mixed.example", "1.1.1.1")],
    "alias.example": [cname("alias.example", "cdn.blocked.example"), a("cdn.blocked.example", "1.2.3.4")],
    "intranet.corp": [a("intranet.corp", "10.1.2.3")],
    "meta.example": [a("meta.example", "169.254.169.254")],
    "txt.example": [{ type: "TXT", name: "txt.example", data: "hello", ttl: 60, class: "IN" }],
  };
  const upstream = new FakeUpstream((name) => records[name] ?? []);

  test("a blocked name and its subdomains get NXDOMAIN with the question echoed, never forwarded", async () => {
    const { dns } = server(upstream);
    const before = upstream.calls;
    for (const name of ["blocked.example", "WWW.Blocked.Example", "ads.test", "x.y.ads.test."]) {
      const response = decode(await dns.handleQuery(query(name, "AAAA", { id: 7 }), "udp"));
      expect(response).toMatchObject({ id: 7, type: "response", flag_rd: true, flag_ra: true });
      expect(rcodeOf(response)).toBe(DnsRcode.nxDomain);
      expect(response.questions).toEqual([{ name: name.replace(/\.$/, ""), type: "AAAA", class: "IN" }]);
      expect(response.answers).toEqual([]);
    }
    expect(upstream.calls).toBe(before);
  });

  test("names that merely end like a blocked one are forwarded", async () => {
    const { dns } = server(upstream);
    const response = decode(await dns.handleQuery(query("notblocked.example"), "udp"));
    expect(rcodeOf(response)).toBe(DnsRcode.noError);
  });

  test("public answers pass through unchanged and are recorded as pins", async () => {
    const { dns, resolvedNames } = server(upstream);
    const raw = query("public.example");
    const response = decode(await dns.handleQuery(raw, "udp"));
    expect(response.id).toBe(0x4242);
    expect(response.answers!.map((record) => ("data" in record ? record.data : null))).toEqual([
      "93.184.216.34",
      "2606:2800:220:1::1",
    ]);
    expect(resolvedNames.resolvedTo("public.example", "93.184.216.34")).toBe(true);
    expect(resolvedNames.resolvedTo("PUBLIC.example.", new Uint8Array([93, 184, 216, 34]))).toBe(true);
    expect(resolvedNames.namesFor("2606:2800:220:1:0:0:0:1")).toEqual(["public.example"]);
    expect(resolvedNames.resolvedTo("other.example", "93.184.216.34")).toBe(false);
  });

  test("rebinding: answers that are all unreachable become NXDOMAIN", async () => {
    const { dns, resolvedNames } = server(upstream);
    for (const name of ["rebind.example", "meta.example"]) {
      const response = decode(await dns.handleQuery(query(name), "udp"));
      expect(rcodeOf(response)).toBe(DnsRcode.nxDomain);
      expect(response.answers).toEqual([]);
    }
    expect(resolvedNames.namesFor("127.0.0.1")).toEqual([]);
  });

  test("rebinding: unreachable records are removed, reachable ones kept", async () => {
    const { dns, resolvedNames } = server(upstream);
    const response = decode(await dns.handleQuery(query("mixed.example"), "udp"));
    expect(rcodeOf(response)).toBe(DnsRcode.noError);
    expect(response.answers!.map((record) => ("data" in record ? record.data : null))).toEqual(["1.1.1.1"]);
    expect(resolvedNames.namesFor("192.168.1.10")).toEqual([]);
  });

  test("rebinding: an explicit allow rule for the name keeps its private answer", async () => {
    const { dns, resolvedNames } = server(upstream);
    const response = decode(await dns.handleQuery(query("intranet.corp"), "udp"));
    expect(response.answers).toHaveLength(1);
    expect(resolvedNames.resolvedTo("intranet.corp", "10.1.2.3")).toBe(true);
  });

  test("with rebinding protection off, private answers pass", async () => {
    const { dns } = server(upstream, { rebindProtection: false });
    const response = decode(await dns.handleQuery(query("rebind.example"), "udp"));
    expect(response.answers).toHaveLength(2);
  });

  test("a CNAME into a blocked domain is NXDOMAIN", async () => {
    const { dns } = server(upstream);
    expect(rcodeOf(decode(await dns.handleQuery(query("alias.example"), "udp")))).toBe(DnsRcode.nxDomain);
  });

  test("non-address answers pass untouched", async () => {
    const { dns } = server(upstream);
    const response = decode(await dns.handleQuery(query("txt.example", "TXT"), "udp"));
    expect(response.answers).toHaveLength(1);
  });

  test("upstream failure or a mismatched answer → SERVFAIL", async () => {
    const failing = server(new FakeUpstream(() => new Error("timeout"))).dns;
    expect(rcodeOf(decode(await failing.handleQuery(query("x.example"), "udp")))).toBe(DnsRcode.servFail);
    const wrongId: DnsUpstream = { exchange: async () => query("x.example", "A", { id: 1 }) };
    expect(rcodeOf(decode(await server(wrongId).dns.handleQuery(query("x.example"), "udp")))).toBe(
      DnsRcode.servFail,
    );
    const garbage: DnsUpstream = { exchange: async () => new Uint8Array([0x42, 0x42, 0x81]) };
    expect(rcodeOf(decode(await server(garbage).dns.handleQuery(query("x.example"), "udp")))).toBe(
      DnsRcode.servFail,
    );
  });

  const big = new FakeUpstream((name) =>
    Array.from({ length: 40 }, (_, index) =>
      a(name, `203.0.${index >> 8}.${index & 0xff}`.replace("203.0", "8.8")),
    ),
  );

  test("UDP answers over 512 bytes are truncated to the question with TC set", async () => {
    const { dns } = server(big);
    const raw = await dns.handleQuery(query("big.example"), "udp");
    expect(raw!.length).toBeLessThanOrEqual(512);
    const response = decode(raw);
    expect(response.flag_tc).toBe(true);
    expect(response.id).toBe(0x4242);
    expect(response.questions).toEqual([{ name: "big.example", type: "A", class: "IN" }]);
    expect(response.answers).toEqual([]);
  });

  test("the query's EDNS size raises the UDP limit; TCP is never truncated", async () => {
    const { dns } = server(big);
    const edns = decode(await dns.handleQuery(query("big.example", "A", { ednsSize: 1232 }), "udp"));
    expect(edns.flag_tc).toBe(false);
    expect(edns.answers).toHaveLength(40);
    const tcp = decode(await dns.handleQuery(query("big.example"), "tcp"));
    expect(tcp.flag_tc).toBe(false);
    expect(tcp.answers).toHaveLength(40);
  });

  test("malformed queries get FORMERR, responses and runts are dropped, other opcodes NOTIMP", async () => {
    const { dns } = server(upstream);
    const formErr = await dns.handleQuery(
      new Uint8Array([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xff]),
      "udp",
    );
    expect([...formErr!]).toEqual([0x12, 0x34, 0x81, 0x81, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(await dns.handleQuery(new Uint8Array(11), "udp")).toBeNull();
    const response = await upstream.exchange(query("public.example"));
    expect(await dns.handleQuery(response, "udp")).toBeNull();
    const noQuestion = dnsPacket.encode({ type: "query", id: 5, questions: [] });
    expect(rcodeOf(decode(await dns.handleQuery(noQuestion, "udp")))).toBe(DnsRcode.formErr);
    const update = query("public.example");
    update[2] = 0x28; // opcode 5 (UPDATE)
    const notImp = decode(await dns.handleQuery(update, "udp"));
    expect(rcodeOf(notImp)).toBe(DnsRcode.notImp);
  });
});

describe("DomainBlocklist", () => {
  test("refuses entries that are not domain names", () => {
    expect(() => new DomainBlocklist(["good.example", "bad domain"])).toThrow(UsageError);
    expect(() => new DomainBlocklist([""])).toThrow(UsageError);
  });
});

describe("TCP DNS framing", () => {
  test("frames with a 2-byte length and splits a stream at any boundary", () => {
    const messages = [query("a.example"), query("b.example", "AAAA"), new Uint8Array(0)];
    const stream = Buffer.concat(messages.map(frameTcpDnsMessage));
    expect([...frameTcpDnsMessage(new Uint8Array([7, 8]))]).toEqual([0, 2, 7, 8]);
    for (let split = 0; split <= stream.length; split++) {
      const reader = new TcpDnsReader();
      const read = [...reader.push(stream.subarray(0, split)), ...reader.push(stream.subarray(split))];
      expect(read).toEqual(messages);
    }
  });

  test("a TCP-framed query through the server", async () => {
    const { dns } = server(new FakeUpstream((name) => [a(name, "1.1.1.1")]));
    const reader = new TcpDnsReader();
    const [message] = reader.push(frameTcpDnsMessage(query("tcp.example")));
    const response = decode(await dns.handleQuery(message!, "tcp"));
    expect(response.answers).toHaveLength(1);
  });
});

describe("ResolvedNames", () => {
  test("entries live for max(TTL, floor) and then expire", () => {
    let now = 0;
    const names = new ResolvedNames({ minTtlSeconds: 10, now: () => now });
    names.record("short.example", "1.1.1.1", 1);
    names.record("long.example", "1.1.1.1", 100);
    now = 9_999;
    expect(names.namesFor("1.1.1.1").sort()).toEqual(["long.example", "short.example"]);
    now = 10_000;
    expect(names.namesFor("1.1.1.1")).toEqual(["long.example"]);
    now = 100_000;
    expect(names.namesFor("1.1.1.1")).toEqual([]);
  });

  test("is bounded, forgetting the least recently recorded addresses", () => {
    const names = new ResolvedNames({ maxAddresses: 2 });
    names.record("a.example", "1.0.0.1", 60);
    names.record("b.example", "1.0.0.2", 60);
    names.record("a.example", "1.0.0.1", 60);
    names.record("c.example", "1.0.0.3", 60);
    expect(names.namesFor("1.0.0.2")).toEqual([]);
    expect(names.namesFor("1.0.0.1")).toEqual(["a.example"]);
    expect(names.namesFor("1.0.0.3")).toEqual(["c.example"]);
  });
});

describe("nameservers", () => {
  test("resolv.conf: nameserver lines only, loopback kept, junk skipped", () => {
    const text = [
      "# generated",
      "nameserver 127.0.0.53",
      "  nameserver   1.1.1.1  # comment",
      "nameserver 2606:4700:4700::1111",
      "nameserver fe80::1%eth0",
      "nameserver not-an-ip",
      "search corp",
      "options edns0",
      "nameserver",
    ].join("\n");
    expect(parseResolvConf(text)).toEqual([
      { address: "127.0.0.53", port: 53 },
      { address: "1.1.1.1", port: 53 },
      { address: "2606:4700:4700::1111", port: 53 },
    ]);
  });

  test("--dns-nameserver forms", () => {
    expect(parseNameserver("9.9.9.9")).toEqual({ address: "9.9.9.9", port: 53 });
    expect(parseNameserver("9.9.9.9:5353")).toEqual({ address: "9.9.9.9", port: 5353 });
    expect(parseNameserver("2620:fe::fe")).toEqual({ address: "2620:fe::fe", port: 53 });
    expect(parseNameserver("[::1]:5353")).toEqual({ address: "::1", port: 5353 });
    for (const bad of ["dns.google", "1.1.1.1:0", "1.1.1.1:99999", "[::1]:x", ""]) {
      expect(() => parseNameserver(bad)).toThrow(UsageError);
    }
  });
});

describe("SocketUpstream against loopback servers", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  function answer(raw: Uint8Array, answers: Answer[], truncated = false): Uint8Array {
    const request = decode(raw);
    return dnsPacket.encode({
      type: "response",
      id: request.id,
      flags: dnsPacket.RECURSION_AVAILABLE | (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0),
      questions: request.questions,
      answers,
    });
  }

  async function udpServer(reply: (query: Uint8Array) => Uint8Array[]): Promise<number> {
    const socket = await Bun.udpSocket({
      hostname: "127.0.0.1",
      socket: {
        data(socket, data, port, address) {
          for (const response of reply(new Uint8Array(data))) socket.send(response, port, address);
        },
      },
    });
    cleanups.push(() => socket.close());
    return socket.port;
  }

  test("answers over UDP; retries over TCP on the same port when truncated", async () => {
    const port = await udpServer((raw) => [answer(raw, [], true)]);
    const listener = Bun.listen({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(socket, chunk) {
          for (const message of new TcpDnsReader().push(chunk)) {
            socket.write(frameTcpDnsMessage(answer(message, [a("t.example", "1.2.3.4")])));
          }
        },
      },
    });
    cleanups.push(() => listener.stop(true));
    const upstream = new SocketUpstream([{ address: "127.0.0.1", port }], { timeoutMs: 1000 });
    const response = decode(await upstream.exchange(query("t.example")));
    expect(response.flag_tc).toBe(false);
    expect(response.answers).toHaveLength(1);
  });

  test("a silent server times out and the next one answers; ids must match", async () => {
    const silent = await udpServer(() => []);
    const wrongIdThenRight = await udpServer((raw) => {
      const wrongId = answer(raw, [a("x.example", "9.9.9.9")]);
      wrongId[0]! ^= 0xff;
      return [wrongId, answer(raw, [a("x.example", "5.6.7.8")])];
    });
    const upstream = new SocketUpstream(
      [
        { address: "127.0.0.1", port: silent },
        { address: "127.0.0.1", port: wrongIdThenRight },
      ],
      { timeoutMs: 150, rounds: 1 },
    );
    const response = decode(await upstream.exchange(query("x.example")));
    expect(response.answers).toMatchObject([{ type: "A", data: "5.6.7.8" }]);
  });

  test("all servers silent → an error naming them", async () => {
    const silent = await udpServer(() => []);
    const upstream = new SocketUpstream([{ address: "127.0.0.1", port: silent }], {
      timeoutMs: 100,
      rounds: 2,
    });
    await expect(upstream.exchange(query("x.example"))).rejects.toThrow(`127.0.0.1:${silent}: no UDP answer`);
  });

  test("no nameservers at all is a usage error", () => {
    expect(() => new SocketUpstream([])).toThrow(UsageError);
  });
});
