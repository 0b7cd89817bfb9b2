// The gateway's own answers: ARP for the gateway address, pings to the gateway, and DHCP. Each
// test feeds frames in and compares the frames that come out.
import { describe, expect, test } from "bun:test";
import { answerArp } from "../../src/network/arp-responder.ts";
import { answerDhcp } from "../../src/network/dhcp-server.ts";
import { answerGatewayPing } from "../../src/network/icmp-echo.ts";
import { networkPlan } from "../../src/network/plan.ts";
import { ipToString, ipv4FromString } from "../../src/network/wire/address.ts";
import { internetChecksum } from "../../src/network/wire/checksum.ts";
import {
  buildDhcp,
  DHCP_FLAG_BROADCAST,
  type DhcpMessage,
  DhcpMessageType,
  DhcpOp,
  DhcpOption,
  parseDhcp,
} from "../../src/network/wire/dhcp.ts";
import { isDrop, type Parsed } from "../../src/network/wire/drop.ts";
import { type EthernetFrame, parseEthernet } from "../../src/network/wire/ethernet.ts";
import { buildIcmpv4, IcmpType } from "../../src/network/wire/icmpv4.ts";
import { buildIpv4Frame, IpProtocol, type Ipv4Packet, parseIpv4 } from "../../src/network/wire/ipv4.ts";
import { parseUdp, type UdpDatagram } from "../../src/network/wire/udp.ts";

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ""), "hex"));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

function ok<T extends object>(parsed: Parsed<T>): T {
  if (isDrop(parsed)) throw new Error(`unexpected drop: ${parsed.drop}`);
  return parsed;
}

/** Slot 5: gateway 100.96.0.21 (64600015) 06:6d:73:00:00:05, guest 100.96.0.22 (64600016) 02:6d:73:00:00:05. */
const plan = networkPlan(5, { mtu: 65520 });

describe("answerArp", () => {
  const request = hex(
    "ffffffffffff 026d73000005 0806  0001 0800 06 04 0001 026d73000005 64600016 000000000000 64600015",
  );

  test("who-has gateway → is-at gateway MAC, addressed to the asker", () => {
    const outcome = answerArp(ok(parseEthernet(request)), plan.gateway);
    expect(outcome.replies.map(toHex)).toEqual([
      toHex(
        hex(
          "026d73000005 066d73000005 0806  0001 0800 06 04 0002 066d73000005 64600015 026d73000005 64600016",
        ),
      ),
    ]);
    expect(toHex(outcome.sender!.mac)).toBe("026d73000005");
    expect(ipToString(outcome.sender!.ip)).toBe("100.96.0.22");
  });

  test("requests for other addresses and replies are not answered, but still teach the sender", () => {
    const other = request.slice();
    other[41] = 0x99;
    const outcome = answerArp(ok(parseEthernet(other)), plan.gateway);
    expect(outcome.replies).toEqual([]);
    expect(outcome.sender).not.toBeNull();
    const reply = request.slice();
    reply[21] = 2;
    expect(answerArp(ok(parseEthernet(reply)), plan.gateway).replies).toEqual([]);
  });

  test("garbage is ignored", () => {
    expect(answerArp(ok(parseEthernet(request.subarray(0, 30))), plan.gateway)).toEqual({
      replies: [],
      sender: null,
    });
  });
});

function pingFrame(
  dst: string,
  type: number = IcmpType.echoRequest,
): { frame: EthernetFrame; ip: Ipv4Packet } {
  const icmp = buildIcmpv4({
    type,
    code: 0,
    restOfHeader: 0x00070003,
    data: new TextEncoder().encode("ping!"),
  });
  const bytes = buildIpv4Frame(
    { dst: plan.gateway.macBytes, src: plan.guest.macBytes },
    { src: plan.guest.ipBytes, dst: ipv4FromString(dst), protocol: IpProtocol.icmp, identification: 9 },
    icmp,
  );
  const frame = ok(parseEthernet(bytes));
  return { frame, ip: ok(parseIpv4(frame.payload)) };
}

describe("answerGatewayPing", () => {
  test("an echo request to the gateway gets an echo reply from it", () => {
    const { frame, ip } = pingFrame(plan.gateway.ip);
    const replies = answerGatewayPing(frame, ip, plan.gateway);
    expect(replies).toHaveLength(1);
    expect(toHex(replies[0]!)).toBe(
      toHex(
        hex(
          // Ethernet to the guest, IPv4 (DF, TTL 64), ICMP echo reply id 7 seq 3 "ping!"; checksums from Python.
          "026d73000005 066d73000005 0800" +
            "45000021 00004000 4001 71f1 64600015 64600016" +
            "0000 0025 0007 0003 70696e6721",
        ),
      ),
    );
    const replyIp = ok(parseIpv4(replies[0]!.subarray(14)));
    expect(internetChecksum(replyIp.payload)).toBe(0);
  });

  test("pings elsewhere, echo replies and other protocols are left alone", () => {
    const elsewhere = pingFrame("1.1.1.1");
    expect(answerGatewayPing(elsewhere.frame, elsewhere.ip, plan.gateway)).toEqual([]);
    const reply = pingFrame(plan.gateway.ip, IcmpType.echoReply);
    expect(answerGatewayPing(reply.frame, reply.ip, plan.gateway)).toEqual([]);
  });
});

function clientMessage(
  type: number,
  extra: Array<[number, number[]]> = [],
  fields: Partial<DhcpMessage> = {},
): UdpDatagram {
  const zero = new Uint8Array(4);
  const message: DhcpMessage = {
    op: DhcpOp.request,
    xid: 0xdeadbeef,
    secs: 3,
    flags: 0,
    ciaddr: zero,
    yiaddr: zero,
    siaddr: zero,
    giaddr: zero,
    chaddr: plan.guest.macBytes,
    options: new Map<number, Uint8Array>([
      [DhcpOption.messageType, new Uint8Array([type])],
      ...extra.map(([code, data]): [number, Uint8Array] => [code, new Uint8Array(data)]),
    ]),
    ...fields,
  };
  return { srcPort: 68, dstPort: 67, payload: buildDhcp(message) };
}

interface DecodedReply {
  ethernet: EthernetFrame;
  ip: Ipv4Packet;
  dhcp: DhcpMessage;
}

function decodeReply(frame: Uint8Array): DecodedReply {
  const ethernet = ok(parseEthernet(frame));
  const ip = ok(parseIpv4(ethernet.payload));
  const udp = ok(parseUdp(ip.payload, ip.src, ip.dst, { verifyChecksum: true }));
  expect([udp.srcPort, udp.dstPort]).toEqual([67, 68]);
  return { ethernet, ip, dhcp: ok(parseDhcp(udp.payload)) };
}

function optionBytes(dhcp: DhcpMessage, code: number): number[] | undefined {
  const data = dhcp.options.get(code);
  return data === undefined ? undefined : [...data];
}

describe("answerDhcp", () => {
  test("DISCOVER → OFFER with every option, unicast to the offered address", () => {
    const replies = answerDhcp(clientMessage(DhcpMessageType.discover, [[55, [1, 3, 6, 26, 51, 54]]]), plan);
    expect(replies).toHaveLength(1);
    const { ethernet, ip, dhcp } = decodeReply(replies[0]!);
    expect(toHex(ethernet.dst)).toBe("026d73000005");
    expect(toHex(ethernet.src)).toBe("066d73000005");
    expect(ipToString(ip.src)).toBe("100.96.0.21");
    expect(ipToString(ip.dst)).toBe("100.96.0.22");
    expect(dhcp).toMatchObject({ op: DhcpOp.reply, xid: 0xdeadbeef, flags: 0 });
    expect(ipToString(dhcp.yiaddr)).toBe("100.96.0.22");
    expect(toHex(dhcp.chaddr)).toBe("026d73000005");
    expect([...dhcp.options.keys()]).toEqual([53, 54, 51, 1, 3, 6, 26]);
    expect(optionBytes(dhcp, DhcpOption.messageType)).toEqual([DhcpMessageType.offer]);
    expect(optionBytes(dhcp, DhcpOption.serverId)).toEqual([100, 96, 0, 21]);
    expect(optionBytes(dhcp, DhcpOption.leaseTime)).toEqual([255, 255, 255, 255]);
    expect(optionBytes(dhcp, DhcpOption.subnetMask)).toEqual([255, 255, 255, 252]);
    expect(optionBytes(dhcp, DhcpOption.router)).toEqual([100, 96, 0, 21]);
    expect(optionBytes(dhcp, DhcpOption.dnsServers)).toEqual([100, 96, 0, 21]);
    expect(optionBytes(dhcp, DhcpOption.interfaceMtu)).toEqual([0xff, 0xf0]);
    expect(ip.payload.length - 8).toBeGreaterThanOrEqual(300);
  });

  test("the broadcast flag makes the reply go to 255.255.255.255 and ff:ff:ff:ff:ff:ff", () => {
    const replies = answerDhcp(
      clientMessage(DhcpMessageType.discover, [], { flags: DHCP_FLAG_BROADCAST }),
      plan,
    );
    const { ethernet, ip, dhcp } = decodeReply(replies[0]!);
    expect(toHex(ethernet.dst)).toBe("ffffffffffff");
    expect(ipToString(ip.dst)).toBe("255.255.255.255");
    expect(dhcp.flags).toBe(DHCP_FLAG_BROADCAST);
  });

  test("DISCOVER with Rapid Commit → ACK at once, carrying option 80", () => {
    const { dhcp } = decodeReply(answerDhcp(clientMessage(DhcpMessageType.discover, [[80, []]]), plan)[0]!);
    expect(optionBytes(dhcp, DhcpOption.messageType)).toEqual([DhcpMessageType.ack]);
    expect(optionBytes(dhcp, DhcpOption.rapidCommit)).toEqual([]);
  });

  test("REQUEST for the offered address → ACK", () => {
    const request = clientMessage(DhcpMessageType.request, [
      [50, [100, 96, 0, 22]],
      [54, [100, 96, 0, 21]],
    ]);
    const { dhcp } = decodeReply(answerDhcp(request, plan)[0]!);
    expect(optionBytes(dhcp, DhcpOption.messageType)).toEqual([DhcpMessageType.ack]);
    expect(ipToString(dhcp.yiaddr)).toBe("100.96.0.22");
  });

  test("REQUEST for another address → broadcast NAK without configuration", () => {
    const request = clientMessage(DhcpMessageType.request, [[50, [192, 168, 1, 50]]]);
    const { ethernet, ip, dhcp } = decodeReply(answerDhcp(request, plan)[0]!);
    expect(optionBytes(dhcp, DhcpOption.messageType)).toEqual([DhcpMessageType.nak]);
    expect([...dhcp.options.keys()]).toEqual([53, 54]);
    expect(ipToString(dhcp.yiaddr)).toBe("0.0.0.0");
    expect(ipToString(ip.dst)).toBe("255.255.255.255");
    expect(toHex(ethernet.dst)).toBe("ffffffffffff");
  });

  test("renewing REQUEST (ciaddr set) is ACKed by unicast to ciaddr", () => {
    const request = clientMessage(DhcpMessageType.request, [], { ciaddr: plan.guest.ipBytes });
    const { ip, dhcp } = decodeReply(answerDhcp(request, plan)[0]!);
    expect(optionBytes(dhcp, DhcpOption.messageType)).toEqual([DhcpMessageType.ack]);
    expect(ipToString(ip.dst)).toBe("100.96.0.22");
    expect(ipToString(dhcp.ciaddr)).toBe("100.96.0.22");
  });

  test("REQUEST naming another server is ignored", () => {
    expect(answerDhcp(clientMessage(DhcpMessageType.request, [[54, [10, 0, 0, 1]]]), plan)).toEqual([]);
  });

  test("INFORM → ACK with configuration but no address or lease", () => {
    const inform = clientMessage(DhcpMessageType.inform, [], { ciaddr: plan.guest.ipBytes });
    const { ip, dhcp } = decodeReply(answerDhcp(inform, plan)[0]!);
    expect(optionBytes(dhcp, DhcpOption.messageType)).toEqual([DhcpMessageType.ack]);
    expect(dhcp.options.has(DhcpOption.leaseTime)).toBe(false);
    expect(optionBytes(dhcp, DhcpOption.router)).toEqual([100, 96, 0, 21]);
    expect(ipToString(dhcp.yiaddr)).toBe("0.0.0.0");
    expect(ipToString(ip.dst)).toBe("100.96.0.22");
  });

  test("RELEASE, DECLINE, other clients, relayed and server messages get nothing", () => {
    expect(answerDhcp(clientMessage(DhcpMessageType.release), plan)).toEqual([]);
    expect(answerDhcp(clientMessage(DhcpMessageType.decline), plan)).toEqual([]);
    const stranger = clientMessage(DhcpMessageType.discover, [], { chaddr: hex("020000000001") });
    expect(answerDhcp(stranger, plan)).toEqual([]);
    const relayed = clientMessage(DhcpMessageType.discover, [], { giaddr: hex("0a000001") });
    expect(answerDhcp(relayed, plan)).toEqual([]);
    expect(answerDhcp(clientMessage(DhcpMessageType.offer, [], { op: DhcpOp.reply }), plan)).toEqual([]);
    expect(answerDhcp({ ...clientMessage(DhcpMessageType.discover), dstPort: 68 }, plan)).toEqual([]);
  });

  test("malformed messages are parsed with bounds checks and ignored", () => {
    const good = clientMessage(DhcpMessageType.discover).payload;
    const truncatedOption = good.slice(0, 243);
    truncatedOption[240] = 12;
    truncatedOption[241] = 200;
    expect(isDrop(parseDhcp(truncatedOption))).toBe(true);
    expect(answerDhcp({ srcPort: 68, dstPort: 67, payload: truncatedOption }, plan)).toEqual([]);
    const lengthless = good.slice(0, 241);
    lengthless[240] = 12;
    expect(isDrop(parseDhcp(lengthless))).toBe(true);
    const noCookie = good.slice();
    noCookie[236] = 0;
    expect(isDrop(parseDhcp(noCookie))).toBe(true);
    expect(isDrop(parseDhcp(good.subarray(0, 200)))).toBe(true);
    const noType = clientMessage(DhcpMessageType.discover).payload.slice();
    noType[240] = DhcpOption.end;
    expect(answerDhcp({ srcPort: 68, dstPort: 67, payload: noType }, plan)).toEqual([]);
  });

  test("repeated options are concatenated (RFC 3396)", () => {
    const message = clientMessage(DhcpMessageType.discover).payload.slice();
    message.set([12, 2, 0x61, 0x62, 12, 1, 0x63, 255], 243);
    const parsed = ok(parseDhcp(message));
    expect(new TextDecoder().decode(parsed.options.get(12))).toBe("abc");
  });
});
