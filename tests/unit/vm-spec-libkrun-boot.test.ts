// The libkrun side of a VmSpec that needs no library: the boot description, which symbol groups a
// boot needs (and the refusal naming what a build lacks), vm.json's shape check, sockaddr_un.
import { describe, expect, test } from "bun:test";
import type { LibkrunGroup } from "../../ffi/libkrun.ts";
import {
  buildLibkrunBoot,
  checkLibkrunFeatures,
  checkLibkrunGroups,
  requiredLibkrunGroups,
} from "../../src/vmm/libkrun-boot.ts";
import { vmSpecProblem } from "../../src/vmm/read-vm-spec.ts";
import { sockaddrUn } from "../../src/vmm/unix-connect.ts";
import type { VmSpec } from "../../src/vmm/vm-spec.ts";

const vm: VmSpec = {
  version: 1,
  cpus: 2,
  memoryMib: 512,
  consoleLog: "/h/guest.log",
  disks: [{ serial: "msb-lower", path: "/h/rootfs.erofs", readOnly: true }],
  shares: [{ tag: "msb-m0", path: "/src", readOnly: false }],
  network: { socket: "/h/run/x/net.sock", mac: "02:6d:73:00:00:00" },
  agentPort: { name: "msb-agent", socket: "/h/run/x/agent.sock" },
};
const ALL: Record<LibkrunGroup, boolean> = {
  block: true,
  blockOptions: true,
  net: true,
  console: true,
  consolePorts: true,
  vsock: true,
  features: true,
  virtiofs3: true,
  overlay: true,
};

describe("buildLibkrunBoot", () => {
  test("libkrun's init execs /msb agent --vm as PID 1, with no host environment", () => {
    expect(buildLibkrunBoot(vm, "/h/lib/boot/k")).toEqual({
      vm,
      root: "/h/lib/boot/k",
      exec: { path: "/msb", args: ["agent", "--vm"], env: ["KRUN_INIT_PID1=1"] },
      logLevel: 2,
    });
  });

  test("groups: virtio-net only with a network", () => {
    const base: LibkrunGroup[] = ["virtiofs3", "block", "vsock", "console", "consolePorts"];
    expect(requiredLibkrunGroups(buildLibkrunBoot(vm, "/r"))).toEqual([...base, "net"]);
    expect(requiredLibkrunGroups(buildLibkrunBoot({ ...vm, network: null }, "/r"))).toEqual(base);
  });

  test.each<[LibkrunGroup, string]>([
    ["vsock", "lacks krun_disable_implicit_vsock, needed for turning off TSI"],
    ["virtiofs3", "lacks krun_add_virtiofs3, needed for the read-only boot share"],
    ["block", "lacks krun_add_disk, needed for the image and upper disks"],
    ["net", "lacks krun_add_net_unixstream, needed for the sandbox's network"],
  ])("a build without %s is refused, naming the symbol", (group, message) => {
    const missing = {
      vsock: "krun_disable_implicit_vsock",
      virtiofs3: "krun_add_virtiofs3",
      block: "krun_add_disk",
      net: "krun_add_net_unixstream",
    };
    const check = () =>
      checkLibkrunGroups(
        { ...ALL, [group]: false },
        missing,
        "/lib/libkrun.so.1.17.0",
        buildLibkrunBoot(vm, "/r"),
      );
    expect(check).toThrow(`libkrun at /lib/libkrun.so.1.17.0 ${message}`);
  });

  test("a NET-less build is fine for --no-network; overlay and disk3 are never required", () => {
    const groups = { ...ALL, net: false, overlay: false, blockOptions: false, features: false };
    expect(() =>
      checkLibkrunGroups(groups, {}, "/l", buildLibkrunBoot({ ...vm, network: null }, "/r")),
    ).not.toThrow();
  });
});

describe("checkLibkrunFeatures", () => {
  const answers = (net: number, blk: number) => (feature: bigint) => (feature === 0n ? net : blk);
  test.each<[string, number, number, VmSpec, string | undefined]>([
    ["both built in", 1, 1, vm, undefined],
    ["no NET, with a network", 0, 1, vm, "built without NET (virtio-net)"],
    ["no NET, without a network", 0, 1, { ...vm, network: null }, undefined],
    ["no BLK", 1, 0, vm, "built without BLK (virtio-blk disks)"],
    ["an older build that does not know the numbers (-EINVAL)", -22, -22, vm, undefined],
  ])("%s", (_, net, blk, spec, message) => {
    const check = () =>
      checkLibkrunFeatures(answers(net, blk), "/l/libkrun.so.1", buildLibkrunBoot(spec, "/r"));
    if (message === undefined) expect(check).not.toThrow();
    else expect(check).toThrow(`libkrun at /l/libkrun.so.1 was ${message}`);
  });

  test("no krun_has_feature: nothing to ask", () => {
    expect(() => checkLibkrunFeatures(undefined, "/l", buildLibkrunBoot(vm, "/r"))).not.toThrow();
  });
});

describe("vmSpecProblem", () => {
  test.each<[string, unknown, string | undefined]>([
    ["a complete spec", vm, undefined],
    ["no network", { ...vm, network: null }, undefined],
    ["an array", [], "not a JSON object"],
    ["another version", { ...vm, version: 2 }, "unsupported version 2"],
    ["zero CPUs", { ...vm, cpus: 0 }, "cpus must be"],
    ["fractional memory", { ...vm, memoryMib: 1.5 }, "memoryMib must be"],
    ["a disk without readOnly", { ...vm, disks: [{ serial: "s", path: "/p" }] }, "disks must be"],
    ["a share without tag", { ...vm, shares: [{ path: "/p", readOnly: true }] }, "shares must be"],
    ["a network without MAC", { ...vm, network: { socket: "/s" } }, "network must be"],
    ["no agent port", { ...vm, agentPort: undefined }, "agentPort must be"],
  ])("%s", (_, value, problem) => {
    if (problem === undefined) expect(vmSpecProblem(value)).toBeUndefined();
    else expect(vmSpecProblem(value)).toStartWith(problem);
  });
});

describe("sockaddrUn", () => {
  test("family AF_UNIX, the path, NUL padding; 110 bytes", () => {
    const address = sockaddrUn("/run/a.sock");
    expect(address.length).toBe(110);
    expect(address.readUInt16LE(0)).toBe(1);
    expect(address.subarray(2, 13).toString()).toBe("/run/a.sock");
    expect(address[13]).toBe(0);
  });

  test.each([
    ["", "empty"],
    ["/x\0y", "NUL"],
    [`/${"a".repeat(107)}`, "longer than 107 bytes"],
  ])("refuses %p", (path) => {
    expect(() => sockaddrUn(path)).toThrow("unix socket path");
  });
});
