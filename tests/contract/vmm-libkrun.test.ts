// `msb vmm vm.json` against the recording stand-in libkrun, started the way the supervisor starts
// it (under unshare as root): the exact call sequence and arguments for representative sandboxes
// (volumes and tmpfs, published ports, --no-network, CPU and memory limits), older builds, a build
// lacking a needed symbol, a failing call and a refused start. The stand-in's krun_start_enter
// exits like the real one, with the guest's status; as root it first reports what it can see of
// the filesystem, which must be the VM's boot root, shares and disks and nothing else.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { UnixSocketListener } from "bun";
import type { LibkrunGroup } from "../../ffi/libkrun.ts";
import type { BootMount } from "../../src/agent/boot-config.ts";
import { msbPaths } from "../../src/paths.ts";
import type { NetworkSpec } from "../../src/sandbox/spec.ts";
import { buildVmSpec, type VmSpecInput } from "../../src/vmm/build-vm-spec.ts";
import { buildVmmArgv, confinedPath } from "../../src/vmm/confine-plan.ts";
import { vmmConfines, vmmUnshare } from "../../src/vmm/confine-vmm.ts";
import type { VmSpec } from "../../src/vmm/vm-spec.ts";
import { MSB_BINARY, type MsbResult, runMsb, type TempDir, tempDir } from "../helpers/msb-cli.ts";
import { announceSkip, firstSkipReason } from "../helpers/skip.ts";
import {
  compileStubLibkrun,
  compileStubLibkrunfw,
  findCCompiler,
  readStubCalls,
  type StubCall,
  type StubLibkrunOptions,
} from "../helpers/stub-libkrun.ts";

const MIB = 1024 * 1024;
const ENOENT = 2;
const EROFS = 30;
const GUEST_STATUS = 42;
const compiler = findCCompiler();
const skipReason = announceSkip(
  "vmm libkrun contract",
  firstSkipReason(
    compiler === undefined ? "no C compiler (cc, gcc or clang) to build the stand-in libkrun" : undefined,
    existsSync(MSB_BINARY) ? undefined : `${MSB_BINARY} is missing (bun run build)`,
  ),
);

let root: TempDir;
let home: string;
let agentListener: UnixSocketListener<undefined> | undefined;
let netListener: UnixSocketListener<undefined> | undefined;
/** As root the vmm confines itself and hands libkrun paths relative to the VM's root. */
const confining = vmmConfines();
const confinementSkip = announceSkip(
  "vmm confinement",
  confining ? undefined : "needs root (only a root vmm makes a mount namespace and confines itself)",
);
const seenByLibkrun = (path: string) => (confining ? confinedPath(path) : path);
const agentReceived: string[] = [];

const network: NetworkSpec = {
  rules: [],
  blockedDomains: [],
  nameservers: [],
  rebindProtection: true,
  maxConnections: 256,
  ports: [{ bindAddress: "127.0.0.1", hostPort: 18080, guestPort: 80, protocol: "tcp" }],
};
/** Resolved mounts: two binds, a tmpfs and a disk volume (a third virtio-blk disk). */
const mounts = (): BootMount[] => [
  { kind: "bind", source: join(root.path, "srv/src"), target: "/work", readonly: false },
  { kind: "tmpfs", target: "/cache", sizeBytes: 64 * MIB },
  { kind: "bind", source: join(root.path, "srv/data"), target: "/data", readonly: true },
  {
    kind: "disk",
    volume: "db",
    image: join(root.path, "volumes/db.ext4"),
    source: "msb-vol-0",
    target: "/db",
    readonly: false,
  },
];

/** The host files the VMs above use (a confining vmm binds them, so they must exist). */
function createHostFiles(): void {
  for (const dir of ["srv/src", "srv/data", "volumes"]) mkdirSync(join(root.path, dir), { recursive: true });
  for (const dir of ["images/abcd", "sandboxes/box"]) mkdirSync(join(home, dir), { recursive: true });
  writeFileSync(join(root.path, "volumes/db.ext4"), "");
  writeFileSync(join(home, "images/abcd/rootfs.erofs"), "");
  writeFileSync(join(home, "sandboxes/box/upper.ext4"), "");
  writeFileSync(join(root.path, "host-only-marker"), "not for the guest");
}

beforeAll(async () => {
  if (skipReason !== undefined) return;
  root = await tempDir("msb-vmm-contract");
  home = join(root.path, "home");
  mkdirSync(join(home, "lib"), { recursive: true });
  await compileStubLibkrunfw(compiler!, join(home, "lib"));
  createHostFiles();
  netListener = Bun.listen({ unix: join(root.path, "net.sock"), socket: { data() {} } });
  agentListener = Bun.listen({
    unix: join(root.path, "agent.sock"),
    socket: {
      data(_socket, data) {
        agentReceived.push(data.toString());
      },
    },
  });
});

afterAll(async () => {
  agentListener?.stop(true);
  netListener?.stop(true);
  await root?.remove();
});

function layout() {
  return {
    agentSocket: join(root.path, "agent.sock"),
    netSocket: join(root.path, "net.sock"),
    guestLog: join(root.path, "guest.log"),
  };
}

function vmSpec(spec: Partial<VmSpecInput["spec"]>): VmSpec {
  return buildVmSpec({
    paths: msbPaths(home),
    layout: layout(),
    spec: {
      name: "box",
      manifestDigest: "sha256:abcd",
      cpus: 1,
      memoryBytes: 512 * MIB,
      mounts: [],
      network,
      ...spec,
    },
  });
}

interface Scenario {
  name: string;
  vm: VmSpec;
  stub: Omit<StubLibkrunOptions, "logPath">;
  /** Run `msb vmm` itself, not the way the supervisor does. */
  direct?: boolean;
}

let counter = 0;

async function runScenario({
  name,
  vm,
  stub,
  direct,
}: Scenario): Promise<{ result: MsbResult; calls: StubCall[] }> {
  const dir = join(root.path, `${counter++}-${name}`);
  const logPath = join(dir, "calls.jsonl");
  const library = await compileStubLibkrun(compiler!, join(dir, "lib"), {
    startExitCode: GUEST_STATUS,
    features: BUILT_IN,
    ...stub,
    logPath,
  });
  const specPath = join(dir, "vm.json");
  writeFileSync(specPath, JSON.stringify(vm));
  const result = await runMsb(["vmm", specPath], {
    msbHome: home,
    env: { MSB_LIBKRUN: library },
    ...(direct ? {} : { wrap: (command: string[]) => buildVmmArgv(command, vmmUnshare()) }),
  });
  return { result, calls: readStubCalls(logPath) };
}

/** krun_has_feature: BLK (1) and NET (0) built in. */
const BUILT_IN = { 0: 1, 1: 1 };
const featureQueries: StubCall[] = [
  { fn: "krun_has_feature", args: [1] },
  { fn: "krun_has_feature", args: [0] },
];
const ctx = 0;
const bootRoot = () =>
  expect.stringMatching(new RegExp(`^${confining ? "\\." : ""}${home}/lib/boot/[0-9a-f]{16}$`));
const anyFd = expect.any(Number);
const diskCalls = (vm: VmSpec) =>
  vm.disks.map((disk) => ({
    fn: "krun_add_disk3",
    args: [ctx, disk.serial, seenByLibkrun(disk.path), 0, disk.readOnly, false, 2],
  }));

/** Everything after the devices: consoles, the agent port, the exec, the start. */
const tail = (consoleId = 0): StubCall[] => [
  { fn: "krun_disable_implicit_console", args: [ctx] },
  { fn: "krun_add_virtio_console_default", args: [ctx, -1, -1, -1] },
  { fn: "krun_set_kernel_console", args: [ctx, "hvc0"] },
  { fn: "krun_add_virtio_console_multiport", args: [ctx] },
  { fn: "krun_add_console_port_inout", args: [ctx, consoleId, "msb-agent", anyFd, anyFd] },
  { fn: "krun_set_exec", args: [ctx, "/msb", ["agent", "--vm"], ["KRUN_INIT_PID1=1"]] },
  { fn: "krun_start_enter", args: [ctx] },
];

describe.skipIf(skipReason !== undefined)("msb vmm against the stand-in libkrun", () => {
  test("volumes, tmpfs, published ports, CPU and memory limits: the whole sequence", async () => {
    const vm = vmSpec({ cpus: 2, memoryBytes: 1536 * MIB, mounts: mounts() });
    expect(vm.disks.map((disk) => [disk.serial, disk.path])).toEqual([
      ["msb-lower", join(home, "images/abcd/rootfs.erofs")],
      ["msb-upper", join(home, "sandboxes/box/upper.ext4")],
      ["msb-vol-0", join(root.path, "volumes/db.ext4")],
    ]);
    agentReceived.length = 0;
    const { result, calls } = await runScenario({
      name: "full",
      vm,
      stub: { groups: "all", returns: { krun_add_virtio_console_multiport: 1 } },
    });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: GUEST_STATUS, stderr: "" });
    expect(calls).toEqual([
      ...featureQueries,
      { fn: "krun_init_log", args: [anyFd, 2, 2, 1] },
      { fn: "krun_create_ctx", args: [] },
      { fn: "krun_set_vm_config", args: [ctx, 2, 1536] },
      { fn: "krun_add_virtiofs3", args: [ctx, "/dev/root", bootRoot(), 0, true] },
      ...diskCalls(vm),
      {
        fn: "krun_add_virtiofs3",
        args: [ctx, "msb-m0", seenByLibkrun(join(root.path, "srv/src")), 0, false],
      },
      {
        fn: "krun_add_virtiofs3",
        args: [ctx, "msb-m1", seenByLibkrun(join(root.path, "srv/data")), 0, true],
      },
      { fn: "krun_disable_implicit_vsock", args: [ctx] },
      // A connected socket, no path: libkrun never needs to reach net.sock by name.
      { fn: "krun_add_net_unixstream", args: [ctx, null, anyFd, "02:6d:73:00:00:00", 0, 0] },
      ...tail(1),
    ]);
    const port = calls.find((call) => call.fn === "krun_add_console_port_inout")!;
    expect(port.args[3]).toBe(port.args[4]);
    // The port's fd is connected to agent.sock; ports are the engine's job, never krun_set_port_map.
    // The stub wrote before exiting; the bytes may reach this process after the exit status does.
    for (let waited = 0; agentReceived.join("") === "" && waited < 5_000; waited += 20) await Bun.sleep(20);
    expect(agentReceived.join("")).toBe("msb-agent\n");
    expect(calls.map((call) => call.fn)).not.toContain("krun_set_port_map");
  });

  test("the boot root holds the agent binary and the mount points init needs", async () => {
    const { calls } = await runScenario({ name: "boot-root", vm: vmSpec({}), stub: { groups: "all" } });
    const seen = calls.find((call) => call.fn === "krun_add_virtiofs3")!.args[2] as string;
    const rootDir = confining ? seen.slice(1) : seen;
    for (const entry of ["msb", "proc", "sys", "dev"]) expect(existsSync(join(rootDir, entry))).toBe(true);
  });

  test("libkrunfw in $MSB_HOME/lib is loaded first, so libkrun finds it by soname", async () => {
    const { result, calls } = await runScenario({
      name: "firmware",
      vm: vmSpec({}),
      stub: { groups: "all", firmwareBySoname: true },
    });
    expect(result.code).toBe(GUEST_STATUS);
    const created = calls.findIndex((call) => call.fn === "krun_create_ctx");
    expect(calls[created + 1]).toEqual({ fn: "dlopen(libkrunfw.so.5)", args: [5] });
  });

  test("--no-network: no NIC, vsock disabled and none added; a NET-less build suffices", async () => {
    const vm = vmSpec({ network: null });
    const groups = [
      "block",
      "blockOptions",
      "console",
      "consolePorts",
      "vsock",
      "virtiofs3",
    ] as LibkrunGroup[];
    const { result, calls } = await runScenario({ name: "no-network", vm, stub: { groups } });
    expect(result.code).toBe(GUEST_STATUS);
    expect(calls).toEqual([
      { fn: "krun_init_log", args: [anyFd, 2, 2, 1] },
      { fn: "krun_create_ctx", args: [] },
      { fn: "krun_set_vm_config", args: [ctx, 1, 512] },
      { fn: "krun_add_virtiofs3", args: [ctx, "/dev/root", bootRoot(), 0, true] },
      ...diskCalls(vm),
      { fn: "krun_disable_implicit_vsock", args: [ctx] },
      ...tail(),
    ]);
  });

  test("a build without krun_add_disk3 gets krun_add_disk2 with the raw format", async () => {
    const vm = vmSpec({});
    const groups = ["block", "net", "console", "consolePorts", "vsock", "virtiofs3"] as LibkrunGroup[];
    const { result, calls } = await runScenario({ name: "disk2", vm, stub: { groups } });
    expect(result.code).toBe(GUEST_STATUS);
    expect(calls.filter((call) => call.fn.startsWith("krun_add_disk"))).toEqual([
      { fn: "krun_add_disk2", args: [ctx, "msb-lower", seenByLibkrun(vm.disks[0]!.path), 0, true] },
      { fn: "krun_add_disk2", args: [ctx, "msb-upper", seenByLibkrun(vm.disks[1]!.path), 0, false] },
    ]);
  });

  test.each<[string, string, string]>([
    ["krun_disable_implicit_vsock", "krun_disable_implicit_vsock", "needed for turning off TSI"],
    ["krun_add_virtiofs3", "krun_add_virtiofs3", "needed for the read-only boot share"],
    ["krun_add_net_unixstream", "krun_add_net_unixstream", "needed for the sandbox's network"],
    [
      "krun_add_console_port_inout",
      "krun_add_console_port_inout",
      "needed for the agent's named console port",
    ],
  ])("a build lacking %s is refused before any call", async (_, omitted, purpose) => {
    const { result, calls } = await runScenario({
      name: `omit-${omitted}`,
      vm: vmSpec({}),
      stub: { groups: "all", omit: [omitted] },
    });
    expect(result.code).toBe(125);
    expect(result.stderr).toContain(`lacks ${omitted}, ${purpose}`);
    expect(result.stderr).toContain("hint: install libkrun");
    expect(calls).toEqual([]);
  });

  test("krun_has_feature saying NET is not built in is believed over the symbol table", async () => {
    const { result, calls } = await runScenario({
      name: "no-net-feature",
      vm: vmSpec({}),
      stub: { groups: "all", features: { 0: 0, 1: 1 } },
    });
    expect(result.code).toBe(125);
    expect(result.stderr).toContain("was built without NET (virtio-net) (krun_has_feature)");
    expect(calls).toEqual(featureQueries);
  });

  test("a failing call names the call and the errno and stops there", async () => {
    const { result, calls } = await runScenario({
      name: "einval",
      vm: vmSpec({}),
      stub: { groups: "all", returns: { krun_add_disk3: -22 } },
    });
    expect(result.code).toBe(125);
    expect(result.stderr).toContain("error: krun_add_disk3 failed: EINVAL (22)");
    expect(calls.at(-1)).toMatchObject({ fn: "krun_add_disk3" });
    expect(calls.map((call) => call.fn)).not.toContain("krun_start_enter");
  });

  test("krun_start_enter refusing to start is reported with its errno", async () => {
    const { result, calls } = await runScenario({
      name: "start-enoent",
      vm: vmSpec({}),
      stub: { groups: "all", returns: { krun_start_enter: -2 } },
    });
    expect(result.code).toBe(125);
    expect(result.stderr).toContain("krun_start_enter failed: ENOENT (2)");
    expect(calls.at(-1)).toEqual({ fn: "krun_start_enter", args: [ctx] });
  });

  test("no supervisor on agent.sock: connect fails before libkrun is configured", async () => {
    const vm = { ...vmSpec({}), agentPort: { name: "msb-agent", socket: join(root.path, "nobody.sock") } };
    const { result, calls } = await runScenario({ name: "no-agent", vm, stub: { groups: "all" } });
    expect(result.code).toBe(125);
    expect(result.stderr).toContain(`connect to ${join(root.path, "nobody.sock")} failed: ENOENT`);
    expect(calls.map((call) => call.fn)).toEqual(["krun_has_feature", "krun_has_feature", "krun_init_log"]);
  });

  test.skipIf(confinementSkip !== undefined)(
    "confined: libkrun reaches the boot root, shares and disks, nothing else",
    async () => {
      const marker = join(root.path, "host-only-marker");
      const vm = vmSpec({ mounts: mounts() });
      const { result, calls } = await runScenario({
        name: "confined",
        vm,
        stub: { groups: "all", probe: { marker, list: ["./.msb-vmm"] } },
      });
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: GUEST_STATUS, stderr: "" });
      const fact = (fn: string) => calls.filter((call) => call.fn === fn).map((call) => call.args);
      const sorted = (entries: unknown) => (entries as string[]).toSorted();
      // The process root: only what libkrun opens by absolute path (/proc/self/fd, /dev/kvm).
      expect(sorted(fact("fs:root")[0]![0])).toEqual(existsSync("/dev/kvm") ? ["dev", "proc"] : ["proc"]);
      expect(fact("fs:proc")).toEqual([[0]]);
      // The VM's root (the cwd, and the top of every share): the first folder of each bound path and
      // the empty cover over the process root, read-only. The marker beside the shares is in neither.
      const top = [...new Set([root.path, home].map((path) => path.split("/")[1]!)), ".msb-vmm"].toSorted();
      expect(sorted(fact("fs:cwd")[0]![0])).toEqual(top);
      expect(fact("fs:cwd")[0]![1]).toBe(EROFS);
      expect(fact("fs:list")).toEqual([["./.msb-vmm", []]]);
      expect(fact("fs:marker")).toEqual([[ENOENT, ENOENT]]);
      const paths = fact("fs:path").map(([path, exists, write, reached]) => [
        path,
        exists,
        write,
        reached === null ? null : sorted(reached),
      ]);
      const share = (path: string, write: number) => [seenByLibkrun(path), 0, write, top];
      const disk = (path: string, write: number) => [seenByLibkrun(path), 0, write, null];
      expect(paths).toEqual([
        [bootRoot(), 0, EROFS, top],
        disk(vm.disks[0]!.path, EROFS),
        disk(vm.disks[1]!.path, 0),
        disk(vm.disks[2]!.path, 0),
        share(join(root.path, "srv/src"), 0),
        share(join(root.path, "srv/data"), EROFS),
      ]);
      // Every mount was made in the vmm's own namespace: the host's mount table never saw one.
      expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(root.path);
    },
  );

  test.skipIf(confinementSkip !== undefined)(
    "as root in the host's mount namespace the vmm refuses to start",
    async () => {
      const { result, calls } = await runScenario({
        name: "unconfined",
        vm: vmSpec({}),
        stub: { groups: "all" },
        direct: true,
      });
      expect(result.code).toBe(125);
      expect(result.stderr).toContain("msb vmm runs as root in the host's mount namespace");
      expect(result.stderr).toContain("hint: let the sandbox supervisor start it");
      expect(calls).toEqual([]);
    },
  );

  test("a VM spec that is not one is refused", async () => {
    const path = join(root.path, "bad.json");
    writeFileSync(path, JSON.stringify({ version: 1, cpus: 0 }));
    const result = await runMsb(["vmm", path], { msbHome: home });
    expect(result.code).toBe(125);
    expect(result.stderr).toContain(`invalid VM spec ${path}: cpus must be a whole number of at least 1`);
    rmSync(path);
  });
});
