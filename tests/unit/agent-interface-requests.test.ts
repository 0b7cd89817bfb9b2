// Byte layouts of the ioctl requests that configure the guest's eth0 (interface-requests.ts),
// against the offsets of <net/if.h> and <linux/route.h> on LP64, and the boot config's check of
// its network section.
import { describe, expect, test } from "bun:test";
import {
  defaultRouteEntry,
  IFF_RUNNING,
  IFF_UP,
  ifreqFlags,
  ifreqForName,
  ifreqWithFlags,
  ifreqWithIpv4,
  ifreqWithMac,
  ifreqWithMtu,
  prefixToNetmask,
  RTENTRY_BYTES,
} from "../../src/agent/interface-requests.ts";
import { checkBootConfig } from "../../src/agent/read-boot-config.ts";
import { guestNetworkConfig, networkPlan } from "../../src/network/plan.ts";

/** "eth0" padded to IFNAMSIZ. */
const ETH0 = [0x65, 0x74, 0x68, 0x30, ...new Array(12).fill(0)];

describe("ifreq builders", () => {
  test.each<[string, Uint8Array, number[]]>([
    ["name only", ifreqForName("eth0"), []],
    [
      "MAC (ARPHRD_ETHER, then the 6 bytes)",
      ifreqWithMac("eth0", new Uint8Array([2, 0x6d, 0x73, 0, 0, 1])),
      [1, 0, 2, 0x6d, 0x73, 0, 0, 1],
    ],
    ["MTU 1500 as a little-endian int", ifreqWithMtu("eth0", 1500), [0xdc, 0x05, 0, 0]],
    ["MTU 65520", ifreqWithMtu("eth0", 65520), [0xf0, 0xff, 0, 0]],
    [
      "IPv4 address as sockaddr_in",
      ifreqWithIpv4("eth0", new Uint8Array([100, 96, 0, 2])),
      [2, 0, 0, 0, 100, 96, 0, 2],
    ],
    ["netmask /30", ifreqWithIpv4("eth0", prefixToNetmask(30)), [2, 0, 0, 0, 255, 255, 255, 252]],
    ["flags UP|RUNNING|MULTICAST", ifreqWithFlags("eth0", IFF_UP | IFF_RUNNING | 0x1000), [0x41, 0x10]],
  ])("%s", (_, request, union) => {
    const expected = new Uint8Array(40);
    expected.set(ETH0);
    expected.set(union, 16);
    expect(request).toEqual(expected);
  });

  test("ifreqFlags reads back the flags", () => {
    expect(ifreqFlags(ifreqWithFlags("eth0", 0x1043))).toBe(0x1043);
  });

  test.each(["", "a-name-of-16-byt"])("refuses the interface name %p", (name) => {
    expect(() => ifreqForName(name)).toThrow(RangeError);
  });

  test("refuses a MAC that is not 6 bytes and an address that is not 4", () => {
    expect(() => ifreqWithMac("eth0", new Uint8Array(5))).toThrow(RangeError);
    expect(() => ifreqWithIpv4("eth0", new Uint8Array(16))).toThrow(RangeError);
  });
});

describe("prefixToNetmask", () => {
  test.each<[number, number[]]>([
    [0, [0, 0, 0, 0]],
    [8, [255, 0, 0, 0]],
    [24, [255, 255, 255, 0]],
    [30, [255, 255, 255, 252]],
    [32, [255, 255, 255, 255]],
  ])("/%d", (prefix, mask) => {
    expect(prefixToNetmask(prefix)).toEqual(new Uint8Array(mask));
  });

  test.each([-1, 33, 1.5])("refuses /%p", (prefix) => {
    expect(() => prefixToNetmask(prefix)).toThrow(RangeError);
  });
});

describe("defaultRouteEntry", () => {
  test("0.0.0.0/0 via the gateway with RTF_UP|RTF_GATEWAY, everything else zero", () => {
    const entry = defaultRouteEntry(new Uint8Array([100, 96, 0, 1]));
    const expected = new Uint8Array(RTENTRY_BYTES);
    expected.set([2, 0], 8); // rt_dst: AF_INET 0.0.0.0
    expected.set([2, 0, 0, 0, 100, 96, 0, 1], 24); // rt_gateway
    expected.set([2, 0], 40); // rt_genmask: AF_INET 0.0.0.0
    expected.set([0x03, 0x00], 56); // rt_flags
    expect(RTENTRY_BYTES).toBe(120);
    expect(entry).toEqual(expected);
  });
});

describe("checkBootConfig network section", () => {
  const base = {
    version: 1,
    backend: "namespace",
    hostname: "box",
    lowerDisk: "/img/rootfs.erofs",
    upperDisk: "/sb/upper.ext4",
    runtimeDir: "/run/msb/ab12",
    agentSocket: "/run/msb/ab12/agent.sock",
    env: [],
    workdir: null,
    user: null,
    mounts: [],
    shutdownGraceMs: 5000,
  };
  const network = guestNetworkConfig(networkPlan(3));

  test.each([undefined, null, network])("accepts network %p", (value) => {
    expect(checkBootConfig({ ...base, network: value }, "boot.json").network).toEqual(value as never);
  });

  test.each<[string, unknown, string]>([
    ["a list", [], "network: not an object"],
    ["another interface", { ...network, interface: "eth1" }, "network: interface must be eth0"],
    ["a bad MAC", { ...network, mac: "02:6d:73" }, "network: mac must be"],
    ["a bad address", { ...network, address: "100.96.0.256" }, "network: address must be an IPv4 address"],
    ["a missing gateway", { ...network, gateway: undefined }, "network: gateway must be an IPv4 address"],
    ["a /31", { ...network, prefix: 31 }, "network: prefix must be an integer in 1..30"],
    ["a tiny MTU", { ...network, mtu: 576 }, "network: mtu must be in 1280..65520"],
    ["a DNS name", { ...network, dns: ["dns.example"] }, "network: dns must be a list of IPv4 addresses"],
  ])("refuses %s", (_, value, message) => {
    expect(() => checkBootConfig({ ...base, network: value }, "boot.json")).toThrow(
      `invalid boot config boot.json: ${message}`,
    );
  });

  test("accepts a network on the VM backend (its virtio-net NIC)", () => {
    const vm = { ...base, backend: "vm", network };
    expect(checkBootConfig(vm, "boot.json")).toEqual(vm as never);
  });
});
