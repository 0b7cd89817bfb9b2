// Wire codecs against hand-built reference bytes (TCP/IP/UDP references were cross-checked with
// Python's struct and an independent checksum), round trips, and the refusals: bad IPv4
// checksums, lengths and fragments, VLAN tags, malformed TCP options.
import { describe, expect, test } from "bun:test";
import { ipToString, ipv4FromString, macFromString, macToString } from "../../src/network/wire/address.ts";
import { ArpOperation, buildArp, parseArp } from "../../src/network/wire/arp.ts";
import { internetChecksum } from "../../src/network/wire/checksum.ts";
import { isDrop, type Parsed } from "../../src/network/wire/drop.ts";
import { buildEthernet, EtherType, parseEthernet } from "../../src/network/wire/ethernet.ts";
import {
  buildDestinationUnreachable,
  buildEchoReply,
  buildIcmpv4,
  IcmpType,
  parseIcmpv4,
  UnreachableCode,
} from "../../src/network/wire/icmpv4.ts";
import { buildIpv4, buildIpv4Frame, IpProtocol, parseIpv4 } from "../../src/network/wire/ipv4.ts";
import { parseIpv6 } from "../../src/network/wire/ipv6.ts";
import { buildTcp, parseTcp, TcpFlag, type TcpSegment } from "../../src/network/wire/tcp.ts";
import { buildUdp, parseUdp } from "../../src/network/wire/udp.ts";

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ""), "hex"));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

function ok<T extends object>(parsed: Parsed<T>): T {
  if (isDrop(parsed)) throw new Error(`unexpected drop: ${parsed.drop}`);
  return parsed;
}

function dropReason<T extends object>(parsed: Parsed<T>): string {
  if (!isDrop(parsed)) throw new Error("expected a drop");
  return parsed.drop;
}

const guestIp = ipv4FromString("10.0.0.2");
const remoteIp = ipv4FromString("93.184.216.34");

/** Python struct reference: SYN 10.0.0.2:40000 → 93.184.216.34:443, MSS 1460, SACK-OK, TS 1/0, WS 7. */
const REFERENCE_SYN = hex(
  "9c4001bb 01020304 00000000 a002 faf0 6b30 0000 020405b4 0402 080a0000000100000000 01030307",
);
const REFERENCE_SYN_IP_HEADER = hex("4500003c 00004000 4006fadf 0a000002 5db8d822");
const REFERENCE_UDP = hex("14e90035000d6707 68656c6c6f");

describe("addresses", () => {
  test("MAC and IP text forms round-trip", () => {
    expect(macToString(macFromString("02:6D:73:00:01:ff"))).toBe("02:6d:73:00:01:ff");
    expect(ipToString(ipv4FromString("100.96.0.1"))).toBe("100.96.0.1");
    expect(ipToString(new Uint8Array([0x20, 0x01, 0x0d, 0xb8, ...new Uint8Array(11), 1]))).toBe(
      "2001:db8::1",
    );
    expect(() => ipv4FromString("0x7f.1")).toThrow(TypeError);
    expect(() => macFromString("02:6d:73")).toThrow(TypeError);
  });
});

describe("ethernet", () => {
  const dst = macFromString("02:6d:73:00:00:01");
  const src = macFromString("06:6d:73:00:00:01");

  test("builds header bytes and parses them back", () => {
    const frame = buildEthernet(dst, src, EtherType.arp, new Uint8Array([1, 2, 3]));
    expect(toHex(frame)).toBe("026d73000001066d73000001080601 0203".replace(" ", ""));
    const parsed = ok(parseEthernet(frame));
    expect(parsed.etherType).toBe(EtherType.arp);
    expect([...parsed.payload]).toEqual([1, 2, 3]);
    expect(parsed.src).toEqual(src);
  });

  test("refuses short, VLAN-tagged and 802.3 frames", () => {
    expect(dropReason(parseEthernet(new Uint8Array(13)))).toContain("shorter");
    expect(dropReason(parseEthernet(buildEthernet(dst, src, 0x8100, new Uint8Array(4))))).toContain("VLAN");
    expect(dropReason(parseEthernet(buildEthernet(dst, src, 0x88a8, new Uint8Array(4))))).toContain("VLAN");
    expect(dropReason(parseEthernet(buildEthernet(dst, src, 46, new Uint8Array(46))))).toContain("802.3");
  });
});

describe("arp", () => {
  test("a who-has request parses; build(parse(x)) is x", () => {
    const request = hex("0001 0800 06 04 0001 026d73000001 0a000002 000000000000 0a000001");
    const parsed = ok(parseArp(request));
    expect(parsed.operation).toBe(ArpOperation.request);
    expect(ipToString(parsed.targetIp)).toBe("10.0.0.1");
    expect(buildArp(parsed)).toEqual(request);
  });

  test("refuses other hardware or protocol types and unknown operations", () => {
    expect(isDrop(parseArp(hex("0006 0800 06 04 0001") as Uint8Array))).toBe(true);
    expect(isDrop(parseArp(hex("0001 86dd 06 04 0001 026d73000001 0a000002 000000000000 0a000001")))).toBe(
      true,
    );
    expect(isDrop(parseArp(hex("0001 0800 06 04 0003 026d73000001 0a000002 000000000000 0a000001")))).toBe(
      true,
    );
  });
});

describe("ipv4", () => {
  const header = { src: guestIp, dst: remoteIp, protocol: IpProtocol.tcp };

  test("builds the reference header byte for byte: TTL 64, DF, checksum", () => {
    const packet = buildIpv4(header, REFERENCE_SYN);
    expect(toHex(packet.subarray(0, 20))).toBe(toHex(REFERENCE_SYN_IP_HEADER));
    expect(packet.subarray(20)).toEqual(REFERENCE_SYN);
  });

  test("round-trips and trims Ethernet padding by total length", () => {
    const packet = buildIpv4(
      { ...header, ttl: 17, identification: 0x1234, tos: 0x10 },
      new Uint8Array([9, 9]),
    );
    const padded = new Uint8Array(46);
    padded.set(packet);
    const parsed = ok(parseIpv4(padded));
    expect(parsed).toMatchObject({
      ttl: 17,
      identification: 0x1234,
      tos: 0x10,
      dontFragment: true,
      totalLength: 22,
    });
    expect([...parsed.payload]).toEqual([9, 9]);
    expect(ipToString(parsed.src)).toBe("10.0.0.2");
  });

  test("accepts options and skips them", () => {
    const withOptions = hex("4600001c 00004000 40060000 0a000002 5db8d822 01010100 aabbccdd");
    const checksum = internetChecksum(withOptions.subarray(0, 24));
    withOptions[10] = checksum >>> 8;
    withOptions[11] = checksum & 0xff;
    const parsed = ok(parseIpv4(withOptions));
    expect(parsed.headerLength).toBe(24);
    expect(toHex(parsed.payload)).toBe("aabbccdd");
  });

  test("drops bad version, header length, total length, checksum, fragments and TTL 0", () => {
    const good = buildIpv4(header, new Uint8Array(8));
    /** `good` with bytes[index] = value for each pair, checksum recomputed unless told not to. */
    const mutate = (changes: Array<[number, number]>, fixChecksum = true): Uint8Array => {
      const bytes = good.slice();
      for (const [index, value] of changes) bytes[index] = value;
      if (fixChecksum) {
        bytes[10] = 0;
        bytes[11] = 0;
        const checksum = internetChecksum(bytes.subarray(0, 20));
        bytes[10] = checksum >>> 8;
        bytes[11] = checksum & 0xff;
      }
      return bytes;
    };
    expect(dropReason(parseIpv4(good.subarray(0, 19)))).toContain("shorter");
    expect(dropReason(parseIpv4(mutate([[0, 0x65]])))).toContain("version");
    expect(dropReason(parseIpv4(mutate([[0, 0x44]])))).toContain("header length");
    expect(dropReason(parseIpv4(mutate([[3, 29]])))).toContain("beyond the frame");
    expect(dropReason(parseIpv4(mutate([[3, 19]])))).toContain("shorter than the header");
    expect(dropReason(parseIpv4(mutate([[8, 63]], false)))).toContain("checksum");
    expect(dropReason(parseIpv4(mutate([[6, 0x20]])))).toBe("ipv4: fragment");
    expect(
      dropReason(
        parseIpv4(
          mutate([
            [6, 0],
            [7, 1],
          ]),
        ),
      ),
    ).toBe("ipv4: fragment");
    expect(dropReason(parseIpv4(mutate([[8, 0]])))).toContain("TTL");
  });

  test("buildIpv4Frame writes Ethernet and IP headers in one buffer", () => {
    const mac = macFromString("02:00:00:00:00:01");
    const frame = buildIpv4Frame({ dst: mac, src: mac }, header, REFERENCE_SYN);
    const ethernet = ok(parseEthernet(frame));
    expect(ethernet.etherType).toBe(EtherType.ipv4);
    expect(ethernet.payload).toEqual(buildIpv4(header, REFERENCE_SYN));
  });
});

describe("ipv6", () => {
  test("parses enough to classify and refuses a lying payload length", () => {
    const packet = new Uint8Array(48);
    packet.set([0x60, 0, 0, 0, 0, 8, 58, 255]);
    packet[8] = 0xfe;
    packet[9] = 0x80;
    const parsed = ok(parseIpv6(packet));
    expect(parsed).toMatchObject({ nextHeader: 58, hopLimit: 255 });
    expect(ipToString(parsed.src)).toBe("fe80::");
    packet[5] = 9;
    expect(isDrop(parseIpv6(packet))).toBe(true);
    expect(isDrop(parseIpv6(new Uint8Array(48).fill(0x40)))).toBe(true);
  });
});

describe("icmpv4", () => {
  const request = hex("0800 0000 1234 0001 6162636465");
  const checksum = internetChecksum(request);
  request[2] = checksum >>> 8;
  request[3] = checksum & 0xff;

  test("an echo request becomes a reply with the same id, sequence and data", () => {
    const parsed = ok(parseIcmpv4(request, { verifyChecksum: true }));
    expect(parsed).toMatchObject({ type: IcmpType.echoRequest, code: 0, restOfHeader: 0x12340001 });
    const reply = buildEchoReply(parsed);
    expect(internetChecksum(reply)).toBe(0);
    expect(reply[0]).toBe(IcmpType.echoReply);
    expect(toHex(reply.subarray(4))).toBe("123400016162636465");
  });

  test("a corrupted message is dropped when verifying", () => {
    const corrupt = request.slice();
    corrupt[8] = 0;
    expect(isDrop(parseIcmpv4(corrupt, { verifyChecksum: true }))).toBe(true);
    expect(isDrop(parseIcmpv4(corrupt, { verifyChecksum: false }))).toBe(false);
  });

  test("destination unreachable quotes the offending packet", () => {
    const offending = buildIpv4({ src: guestIp, dst: remoteIp, protocol: IpProtocol.udp }, REFERENCE_UDP);
    const message = buildDestinationUnreachable(UnreachableCode.port, offending);
    expect([...message.subarray(0, 2)]).toEqual([3, 3]);
    expect(internetChecksum(message)).toBe(0);
    expect(message.subarray(8)).toEqual(offending);
    const long = buildDestinationUnreachable(UnreachableCode.host, new Uint8Array(2000));
    expect(long.length).toBe(576 - 20);
  });

  test("build(parse(x)) is x", () => {
    const message = buildIcmpv4({ type: 11, code: 0, restOfHeader: 0, data: new Uint8Array([1, 2, 3]) });
    const parsed = ok(parseIcmpv4(message, { verifyChecksum: true }));
    expect(buildIcmpv4(parsed)).toEqual(message);
  });
});

describe("udp", () => {
  test("builds the reference datagram with its pseudo-header checksum", () => {
    const datagram = buildUdp(
      { srcPort: 5353, dstPort: 53, payload: new TextEncoder().encode("hello") },
      guestIp,
      remoteIp,
    );
    expect(toHex(datagram)).toBe(toHex(REFERENCE_UDP));
    const parsed = ok(parseUdp(datagram, guestIp, remoteIp, { verifyChecksum: true }));
    expect(parsed).toMatchObject({ srcPort: 5353, dstPort: 53 });
    expect(new TextDecoder().decode(parsed.payload)).toBe("hello");
  });

  test("zero checksum means none; a wrong one is dropped only when verifying", () => {
    const unchecked = REFERENCE_UDP.slice();
    unchecked[6] = 0;
    unchecked[7] = 0;
    expect(isDrop(parseUdp(unchecked, guestIp, remoteIp, { verifyChecksum: true }))).toBe(false);
    const wrong = REFERENCE_UDP.slice();
    wrong[7]! ^= 1;
    expect(dropReason(parseUdp(wrong, guestIp, remoteIp, { verifyChecksum: true }))).toContain("checksum");
    expect(isDrop(parseUdp(wrong, guestIp, remoteIp, { verifyChecksum: false }))).toBe(false);
  });

  test("the length field bounds the payload; lengths past the packet are dropped", () => {
    const padded = new Uint8Array(REFERENCE_UDP.length + 4);
    padded.set(REFERENCE_UDP);
    expect(ok(parseUdp(padded, guestIp, remoteIp, { verifyChecksum: true })).payload.length).toBe(5);
    const long = REFERENCE_UDP.slice();
    long[5] = 14;
    expect(isDrop(parseUdp(long, guestIp, remoteIp, { verifyChecksum: false }))).toBe(true);
    long[5] = 7;
    expect(isDrop(parseUdp(long, guestIp, remoteIp, { verifyChecksum: false }))).toBe(true);
  });

  test("a computed checksum of zero is sent as ffff", () => {
    // Pick a payload whose sum makes the checksum 0: adjust two bytes until it is.
    const payload = new Uint8Array(2);
    const base = buildUdp({ srcPort: 1, dstPort: 2, payload }, guestIp, remoteIp);
    const needed = (base[6]! << 8) | base[7]!;
    payload[0] = needed >>> 8;
    payload[1] = needed & 0xff;
    const datagram = buildUdp({ srcPort: 1, dstPort: 2, payload }, guestIp, remoteIp);
    expect(toHex(datagram.subarray(6, 8))).toBe("ffff");
    expect(isDrop(parseUdp(datagram, guestIp, remoteIp, { verifyChecksum: true }))).toBe(false);
  });
});

describe("tcp", () => {
  const syn: TcpSegment = {
    srcPort: 40000,
    dstPort: 443,
    seq: 0x01020304,
    ack: 0,
    flags: TcpFlag.syn,
    window: 64240,
    options: { mss: 1460, sackPermitted: true, timestamp: [1, 0], wscale: 7 },
    payload: new Uint8Array(0),
  };

  test("builds the reference SYN byte for byte, options in Linux order", () => {
    expect(toHex(buildTcp(syn, guestIp, remoteIp))).toBe(toHex(REFERENCE_SYN));
  });

  test("parses the reference SYN and verifies its checksum", () => {
    expect(ok(parseTcp(REFERENCE_SYN, guestIp, remoteIp, { verifyChecksum: true }))).toEqual(syn);
  });

  test("round-trips segments with every option combination and a payload", () => {
    const optionSets = [
      {},
      { mss: 65480 },
      { wscale: 14 },
      { sackPermitted: true },
      { timestamp: [0xffffffff, 0x80000000] as [number, number] },
      { mss: 1460, wscale: 0 },
      { sackPermitted: true, wscale: 9 },
      { mss: 536, timestamp: [5, 6] as [number, number], wscale: 2 },
    ];
    for (const options of optionSets) {
      const segment: TcpSegment = {
        srcPort: 443,
        dstPort: 40000,
        seq: 0xfffffff0,
        ack: 0x80000001,
        flags: TcpFlag.ack | TcpFlag.psh | TcpFlag.fin,
        window: 65535,
        options,
        payload: new Uint8Array([1, 2, 3, 4, 5]),
      };
      const bytes = buildTcp(segment, remoteIp, guestIp);
      expect(bytes[12]! >>> 4).toBe((bytes.length - segment.payload.length) / 4);
      expect(ok(parseTcp(bytes, remoteIp, guestIp, { verifyChecksum: true }))).toEqual(segment);
    }
  });

  test("sequence numbers are written modulo 2^32", () => {
    const bytes = buildTcp({ ...syn, seq: 2 ** 32 + 5, ack: -1, options: {} }, guestIp, remoteIp);
    const parsed = ok(parseTcp(bytes, guestIp, remoteIp, { verifyChecksum: true }));
    expect(parsed.seq).toBe(5);
    expect(parsed.ack).toBe(0xffffffff);
  });

  test("a partial (offloaded) checksum passes when not verifying", () => {
    const partial = REFERENCE_SYN.slice();
    partial[16] = 0x12;
    expect(isDrop(parseTcp(partial, guestIp, remoteIp, { verifyChecksum: true }))).toBe(true);
    expect(ok(parseTcp(partial, guestIp, remoteIp, { verifyChecksum: false })).options.mss).toBe(1460);
  });

  function withOptions(optionBytes: number[]): Uint8Array {
    const header = REFERENCE_SYN.slice(0, 20);
    const bytes = new Uint8Array(20 + optionBytes.length);
    bytes.set(header);
    bytes.set(optionBytes, 20);
    bytes[12] = (bytes.length / 4) << 4;
    return bytes;
  }

  test("option parsing is bounded: zero or one length and overruns drop the segment", () => {
    for (const options of [
      [2, 0, 0, 0],
      [2, 1, 0, 0],
      [1, 1, 1, 2],
      [8, 10, 0, 0],
      [1, 1, 3, 4],
    ]) {
      expect(dropReason(parseTcp(withOptions(options), guestIp, remoteIp, { verifyChecksum: false }))).toBe(
        "tcp: malformed option",
      );
    }
  });

  test("EOL ends the list, wrong-length known options are skipped, window scale clamps to 14", () => {
    const parse = (options: number[]) =>
      ok(parseTcp(withOptions(options), guestIp, remoteIp, { verifyChecksum: false }));
    expect(parse([0, 2, 0, 0]).options).toEqual({});
    expect(parse([2, 3, 5, 1]).options).toEqual({});
    expect(parse([3, 3, 20, 0]).options).toEqual({ wscale: 14 });
    expect(parse([30, 4, 1, 2]).options).toEqual({});
  });

  test("data offset below 5 or past the segment is dropped", () => {
    const bytes = REFERENCE_SYN.slice();
    bytes[12] = 0x40;
    expect(dropReason(parseTcp(bytes, guestIp, remoteIp, { verifyChecksum: false }))).toBe(
      "tcp: bad data offset",
    );
    bytes[12] = 0xf0;
    expect(dropReason(parseTcp(bytes, guestIp, remoteIp, { verifyChecksum: false }))).toBe(
      "tcp: bad data offset",
    );
    expect(isDrop(parseTcp(bytes.subarray(0, 19), guestIp, remoteIp, { verifyChecksum: false }))).toBe(true);
  });
});
