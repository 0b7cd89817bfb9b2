// The guest network of a namespace sandbox end to end, as root: the real agent as PID 1 creates
// and configures eth0 (TAP) from the boot config's network section and relays it to net.sock,
// where this test, playing the supervisor, runs a NetworkEngine. Checks the interface and
// resolv.conf the sandbox sees, ping to the gateway, HTTP to host loopback through allow@host,
// refusal of a private destination, DNS through a fake upstream, and that a boot config without
// a network keeps only lo.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Server, udp } from "bun";
import dnsPacket from "dns-packet";
import { type NamespaceSandbox, startNamespaceSandbox } from "../../src/backend/namespace.ts";
import { createUpperDisk } from "../../src/backend/upper-disk.ts";
import type { NetworkEngine } from "../../src/network/engine/network-engine.ts";
import { type GuestLinkListener, listenForGuestLink } from "../../src/network/engine/stream-link.ts";
import { guestNetworkConfig, networkPlan } from "../../src/network/plan.ts";
import type { FrameChannel } from "../../src/protocol/channel.ts";
import { listenUnix } from "../../src/protocol/channel-unix.ts";
import { FrameKind } from "../../src/protocol/messages.ts";
import { createNetworkEngine } from "../../src/supervisor/start-network.ts";
import {
  BUSYBOX,
  requireFilesystems,
  requireStaticBusybox,
  Supervisor,
} from "../helpers/agent-supervisor.ts";
import { REPO_ROOT } from "../helpers/msb-cli.ts";
import { announceSkip, firstSkipReason, requireLinux, requireRoot, requireTool } from "../helpers/skip.ts";
import { buildFixtureImage, type FixtureEntry, tempDir } from "../helpers/tar-fixtures.ts";

const APPLETS = ["sh", "ls", "cat", "ip", "ping", "wget", "nslookup", "grep"];
const MEMORY_BYTES = 256 * 1024 * 1024;
const BOOT_TIMEOUT_MS = 10_000;
const plan = networkPlan(0);
const GATEWAY = plan.gateway.ip;
const RESOLVED_ADDRESS = "93.184.216.34";

const skipReason = announceSkip(
  "namespace network",
  firstSkipReason(
    requireLinux(),
    requireRoot(),
    requireFilesystems(),
    existsSync("/dev/loop-control") ? undefined : "no /dev/loop-control (modprobe loop)",
    existsSync("/dev/net/tun") ? undefined : "no /dev/net/tun (modprobe tun)",
    requireTool("unshare", "apt-get install util-linux"),
    requireTool("/usr/sbin/mkfs.ext4", "apt-get install e2fsprogs"),
    requireStaticBusybox(),
  ),
);

const work = tempDir("nsnet");
const paths = {
  lower: join(work.path, "rootfs.erofs"),
  upper: join(work.path, "upper.ext4"),
  runtime: join(work.path, "run"),
  socket: join(work.path, "run", "agent.sock"),
  netSocket: join(work.path, "run", "net.sock"),
  boot: join(work.path, "run", "boot.json"),
  log: join(work.path, "sandbox.log"),
};
const cgroupName = `msb-test-net-${process.pid}`;

interface Booted {
  sandbox: NamespaceSandbox;
  supervisor: Supervisor;
}

async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  const timeout = Bun.sleep(BOOT_TIMEOUT_MS).then(() => {
    throw new Error(`timed out waiting for ${what}; sandbox log:\n${readFileSync(paths.log, "utf8")}`);
  });
  return Promise.race([promise, timeout]);
}

async function boot(bootConfig: object): Promise<Booted> {
  writeFileSync(paths.boot, JSON.stringify(bootConfig));
  let accept!: (channel: FrameChannel) => void;
  const connected = new Promise<FrameChannel>((resolve) => (accept = resolve));
  const listener = await listenUnix(paths.socket, accept);
  const sandbox = await startNamespaceSandbox({
    agentCommand: [process.execPath, join(REPO_ROOT, "src/main.ts"), "agent", paths.boot],
    cgroupName,
    cpus: 1,
    memoryBytes: MEMORY_BYTES,
    logFile: paths.log,
  });
  try {
    const supervisor = new Supervisor(await within(connected, "the agent to connect"));
    await within(supervisor.ready, "ready");
    return { sandbox, supervisor };
  } catch (error) {
    await killSandbox({ sandbox });
    throw error;
  } finally {
    listener.close();
  }
}

/** Kills the sandbox outright: these tests check the network, not the shutdown path. */
async function killSandbox(booted: { sandbox: NamespaceSandbox } | undefined): Promise<void> {
  if (booted === undefined) return;
  booted.sandbox.kill("SIGKILL");
  await booted.sandbox.exited;
  await booted.sandbox.cleanup();
}

function bootConfig(network: object | null): object {
  return {
    version: 1,
    backend: "namespace",
    hostname: "sbx-net",
    lowerDisk: paths.lower,
    upperDisk: paths.upper,
    runtimeDir: paths.runtime,
    agentSocket: paths.socket,
    env: ["PATH=/bin", "HOME=/root"],
    workdir: null,
    user: null,
    mounts: [],
    shutdownGraceMs: 1000,
    network,
  };
}

function imageEntries(): FixtureEntry[] {
  return [
    { path: "bin", type: "dir" },
    { path: "bin/busybox", data: new Uint8Array(readFileSync(BUSYBOX)), mode: 0o755 },
    ...APPLETS.map((name): FixtureEntry => ({ path: `bin/${name}`, type: "symlink", linkname: "busybox" })),
    { path: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\n" },
    { path: "etc/group", data: "root:x:0:\n" },
    { path: "root", type: "dir", mode: 0o700 },
  ];
}

/** Answers A questions with RESOLVED_ADDRESS and anything else with no records. */
async function startFakeUpstream(): Promise<udp.Socket<"buffer">> {
  return Bun.udpSocket({
    hostname: "127.0.0.1",
    socket: {
      data(socket, data, port, address) {
        const query = dnsPacket.decode(data);
        const question = query.questions?.[0];
        const answers =
          question?.type === "A"
            ? [{ type: "A" as const, name: question.name, ttl: 60, data: RESOLVED_ADDRESS }]
            : [];
        const flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE;
        socket.send(
          dnsPacket.encode({ type: "response", id: query.id, flags, questions: query.questions, answers }),
          port,
          address,
        );
      },
    },
  });
}

describe.skipIf(skipReason !== undefined)("namespace sandbox with a guest network", () => {
  let booted: Booted | undefined;
  let engine: NetworkEngine | undefined;
  let listener: GuestLinkListener | undefined;
  let httpServer: Server<undefined> | undefined;
  let fakeUpstream: udp.Socket<"buffer"> | undefined;
  const logLines: string[] = [];

  beforeAll(async () => {
    await buildFixtureImage([{ entries: imageEntries() }], paths.lower);
    await createUpperDisk(paths.upper, 1024 ** 3);
    mkdirSync(paths.runtime, { recursive: true });
    httpServer = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response("hello from host\n"),
    });
    fakeUpstream = await startFakeUpstream();
    engine = createNetworkEngine(
      {
        rules: ["allow@host"],
        blockedDomains: [],
        nameservers: [`127.0.0.1:${fakeUpstream.port}`],
        rebindProtection: true,
        maxConnections: 256,
      },
      plan,
      (line) => logLines.push(line),
    );
    listener = listenForGuestLink(paths.netSocket, engine);
    booted = await boot(bootConfig(guestNetworkConfig(plan)));
  });

  afterAll(async () => {
    await killSandbox(booted);
    listener?.stop();
    engine?.close();
    httpServer?.stop(true);
    fakeUpstream?.close();
    work.cleanup();
  });

  const sandbox = () => booted!.supervisor;

  test("eth0 has the planned MAC, MTU and address next to lo, with a default route via the gateway", async () => {
    expect((await sandbox().sh("ls /sys/class/net")).trim().split("\n").sort()).toEqual(["eth0", "lo"]);
    const eth0 = await sandbox().sh("ip addr show eth0");
    expect(eth0).toContain(`inet ${plan.guest.ip}/${plan.prefix}`);
    expect(eth0).toContain(`link/ether ${plan.guest.mac}`);
    expect(eth0).toContain(`mtu ${plan.mtu}`);
    expect(Number(await sandbox().sh("cat /sys/class/net/eth0/flags")) & 1).toBe(1);
    expect(await sandbox().sh("ip route")).toContain(`default via ${GATEWAY} dev eth0`);
  });

  test("/etc/resolv.conf names the gateway", async () => {
    expect(await sandbox().sh("cat /etc/resolv.conf")).toBe(`nameserver ${GATEWAY}\n`);
  });

  test("the gateway answers ping", async () => {
    // The relay connects to net.sock in the background: the first ping may go unanswered.
    let result = await sandbox().exec(["ping", "-c1", "-W1", GATEWAY]);
    for (let attempt = 0; attempt < 10 && result.exited.code !== 0; attempt++) {
      result = await sandbox().exec(["ping", "-c1", "-W1", GATEWAY]);
    }
    expect(result.stdout).toContain("1 packets received");
  });

  test("HTTP to a server on host loopback goes through allow@host", async () => {
    const body = await sandbox().sh(`wget -qO- http://${GATEWAY}:${httpServer!.port}/`);
    expect(body).toBe("hello from host\n");
  });

  test("a private destination is refused", async () => {
    const result = await sandbox().exec(["wget", "-qO-", "http://10.200.0.1/"]);
    expect(result.exited.code).not.toBe(0);
    expect(result.stderr).toContain("refused");
    expect(logLines).toContain("deny tcp 10.200.0.1:80 (default: deny private)");
  });

  test("DNS resolves through the gateway to the upstream", async () => {
    expect(await sandbox().sh(`nslookup example.test ${GATEWAY}`)).toContain(RESOLVED_ADDRESS);
  });

  test("the TAP device's descriptor does not leak into programs", async () => {
    const descriptors = await sandbox().sh("ls -l /proc/self/fd");
    expect(descriptors).toContain("0 -> ");
    expect(descriptors).not.toContain("tun");
  });

  test("a relay that cannot reach net.sock leaves one line in the log, and the sandbox runs on", async () => {
    await killSandbox(booted);
    booted = undefined;
    listener?.stop();
    listener = undefined;
    const logBefore = readFileSync(paths.log, "utf8");
    booted = await boot(bootConfig(guestNetworkConfig(plan)));
    expect(await sandbox().sh("ls /sys/class/net")).toBe("eth0\nlo\n");
    const deadline = Date.now() + 3000;
    while (readFileSync(paths.log, "utf8") === logBefore && Date.now() < deadline) await Bun.sleep(20);
    const newLines = readFileSync(paths.log, "utf8").slice(logBefore.length).trimEnd().split("\n");
    expect(newLines).toHaveLength(1);
    expect(newLines[0]).toStartWith("msb agent: guest network relay to /.msb/net.sock failed: ");
  });

  test("without a network section the sandbox has only lo", async () => {
    await killSandbox(booted);
    booted = undefined;
    booted = await boot(bootConfig(null));
    expect(await sandbox().sh("ls /sys/class/net")).toBe("lo\n");
    booted.supervisor.channel.sendJson(FrameKind.shutdown, 0, { graceMs: 500 });
    await within(booted.supervisor.shutdownDone, "shutdownDone");
    expect(await booted.sandbox.exited).toEqual({ code: 0, signal: null });
    await booted.sandbox.cleanup();
    booted = undefined;
  });
});
