// The VM spec builder over a table of sandbox configs: sizes, disks by serial, shares per bind
// mount (tmpfs needs no device), the NIC only with a network, and the agent port.
import { describe, expect, test } from "bun:test";
import type { BootMount } from "../../src/agent/boot-config.ts";
import type { GuestNetworkConfig } from "../../src/network/plan.ts";
import { msbPaths } from "../../src/paths.ts";
import type { NetworkSpec } from "../../src/sandbox/spec.ts";
import { buildVmSpec, guestMounts, type VmSpecInput } from "../../src/vmm/build-vm-spec.ts";
import {
  AGENT_PORT_NAME,
  diskPosition,
  LOWER_DISK_SERIAL,
  UPPER_DISK_SERIAL,
  type VmSpec,
} from "../../src/vmm/vm-spec.ts";

const MIB = 1024 * 1024;
const paths = msbPaths("/h");
const layout = {
  agentSocket: "/h/run/ab12/agent.sock",
  netSocket: "/h/run/ab12/net.sock",
  guestLog: "/h/sandboxes/box/logs/guest.log",
};
const network: NetworkSpec = {
  rules: [],
  blockedDomains: [],
  nameservers: [],
  rebindProtection: true,
  maxConnections: 256,
  ports: [{ bindAddress: "127.0.0.1", hostPort: 8080, guestPort: 80, protocol: "tcp" }],
};
const baseSpec: VmSpecInput["spec"] = {
  name: "box",
  manifestDigest: "sha256:abcd",
  cpus: 1,
  memoryBytes: 512 * MIB,
  mounts: [],
  network,
};
const disks = [
  { serial: LOWER_DISK_SERIAL, path: "/h/images/abcd/rootfs.erofs", readOnly: true },
  { serial: UPPER_DISK_SERIAL, path: "/h/sandboxes/box/upper.ext4", readOnly: false },
];
const agentPort = { name: AGENT_PORT_NAME, socket: "/h/run/ab12/agent.sock" };
const netOn = { socket: "/h/run/ab12/net.sock", mac: "02:6d:73:00:00:00" };

const volumes: BootMount[] = [
  { kind: "bind", source: "/src", target: "/work", readonly: false },
  { kind: "tmpfs", target: "/cache", sizeBytes: 64 * MIB },
  { kind: "bind", source: "/etc/ssl", target: "/ssl", readonly: true },
];

const expected = (overrides: Partial<VmSpec>): VmSpec => ({
  version: 1,
  cpus: 1,
  memoryMib: 512,
  consoleLog: "/h/sandboxes/box/logs/guest.log",
  disks,
  shares: [],
  network: netOn,
  agentPort,
  ...overrides,
});

describe("buildVmSpec", () => {
  test.each<[string, Partial<VmSpecInput["spec"]>, Partial<VmSpec>]>([
    ["defaults with a network (ports need nothing from the VMM)", {}, {}],
    ["cpu and memory limits", { cpus: 4, memoryBytes: 2048 * MIB }, { cpus: 4, memoryMib: 2048 }],
    ["the smallest memory", { memoryBytes: 64 * MIB }, { memoryMib: 64 }],
    ["--no-network: no NIC", { network: null }, { network: null }],
    ["a record from before networking: no NIC", { network: undefined }, { network: null }],
    [
      "binds become shares in order, tmpfs needs no device",
      { mounts: volumes },
      {
        shares: [
          { tag: "msb-m0", path: "/src", readOnly: false },
          { tag: "msb-m1", path: "/etc/ssl", readOnly: true },
        ],
      },
    ],
    ["tmpfs alone: no share", { mounts: [{ kind: "tmpfs", target: "/t", sizeBytes: null }] }, {}],
    [
      "disk volumes become disks after the upper, once each, read-only only if every use is",
      {
        mounts: [
          {
            kind: "disk",
            volume: "a",
            image: "/h/volumes/a.ext4",
            source: "msb-vol-0",
            target: "/a",
            readonly: true,
          },
          {
            kind: "disk",
            volume: "b",
            image: "/h/volumes/b.ext4",
            source: "msb-vol-1",
            target: "/b",
            readonly: true,
          },
          {
            kind: "disk",
            volume: "a",
            image: "/h/volumes/a.ext4",
            source: "msb-vol-0",
            target: "/a2",
            readonly: false,
          },
        ],
      },
      {
        disks: [
          ...disks,
          { serial: "msb-vol-0", path: "/h/volumes/a.ext4", readOnly: false },
          { serial: "msb-vol-1", path: "/h/volumes/b.ext4", readOnly: true },
        ],
      },
    ],
  ])("%s", (_, spec, overrides) => {
    expect(buildVmSpec({ paths, layout, spec: { ...baseSpec, ...spec } })).toEqual(expected(overrides));
  });

  test("the NIC takes the running engine's guest MAC", () => {
    const guestNetwork = { mac: "02:6d:73:00:00:07" } as GuestNetworkConfig;
    expect(buildVmSpec({ paths, layout, spec: baseSpec, guestNetwork }).network).toEqual({
      socket: "/h/run/ab12/net.sock",
      mac: "02:6d:73:00:00:07",
    });
  });

  test("the same record gives the same spec", () => {
    const input = { paths, layout, spec: { ...baseSpec, mounts: volumes } };
    expect(JSON.stringify(buildVmSpec(input))).toBe(JSON.stringify(buildVmSpec(input)));
  });

  test.each<[string, Partial<VmSpecInput["spec"]>, string]>([
    ["zero CPUs", { cpus: 0 }, "CPU count 0"],
    ["fractional CPUs", { cpus: 1.5 }, "CPU count 1.5"],
    ["too little memory", { memoryBytes: 32 * MIB }, "below the 64 MiB"],
  ])("refuses %s", (_, spec, message) => {
    expect(() => buildVmSpec({ paths, layout, spec: { ...baseSpec, ...spec } })).toThrow(message);
  });
});

describe("diskPosition", () => {
  test.each([
    ["msb-lower", 0],
    ["msb-upper", 1],
    ["msb-vol-0", 2],
    ["msb-vol-11", 13],
    ["other", -1],
  ])("%s is disk %d", (serial, position) => {
    expect(diskPosition(serial)).toBe(position);
  });
});

describe("guestMounts", () => {
  test("bind sources become the tags of their shares; tmpfs stays", () => {
    expect(guestMounts(volumes)).toEqual([
      { kind: "bind", source: "msb-m0", target: "/work", readonly: false },
      { kind: "tmpfs", target: "/cache", sizeBytes: 64 * MIB },
      { kind: "bind", source: "msb-m1", target: "/ssl", readonly: true },
    ]);
  });
});
