// The namespace backend end to end, as root: a busybox image built with msb's own EROFS writer,
// a fresh upper.ext4, the real agent (`src/main.ts agent`) as PID 1 under unshare, and this
// test as the supervisor on agent.sock. Checks what the sandbox sees (its own pids, hostname,
// only `lo`, no host files, the mounts asked for and their modes, narrowed capabilities), that
// writes persist across a restart, and that every way of ending it (shutdown frame, SIGTERM,
// lost supervisor, kill -9) leaves no mount, loop device or cgroup behind on the host.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentExitCode } from "../../src/agent/run-agent.ts";
import { hostCgroupView } from "../../src/backend/cgroup.ts";
import { cgroupDirs, detectCgroupLayout } from "../../src/backend/cgroup-plan.ts";
import { type NamespaceSandbox, startNamespaceSandbox } from "../../src/backend/namespace.ts";
import { createUpperDisk } from "../../src/backend/upper-disk.ts";
import type { FrameChannel } from "../../src/protocol/channel.ts";
import { listenUnix } from "../../src/protocol/channel-unix.ts";
import { FrameKind } from "../../src/protocol/messages.ts";
import {
  BUSYBOX,
  requireFilesystems,
  requireStaticBusybox,
  Supervisor,
} from "../helpers/agent-supervisor.ts";
import { REPO_ROOT } from "../helpers/msb-cli.ts";
import { announceSkip, firstSkipReason, requireLinux, requireRoot, requireTool } from "../helpers/skip.ts";
import { buildFixtureImage, type FixtureEntry, tempDir } from "../helpers/tar-fixtures.ts";

/** Busybox applets the tests call, as symlinks in the image's /bin. */
const APPLETS = [
  ...["sh", "ls", "cat", "hostname", "sleep", "echo", "grep", "head", "wc", "touch", "test"],
  ...["mount", "readlink", "true"],
];
const MEMORY_BYTES = 256 * 1024 * 1024;
const SCRATCH_BYTES = 8 * 1024 * 1024;
const BOOT_TIMEOUT_MS = 10_000;

const skipReason = announceSkip(
  "namespace backend",
  firstSkipReason(
    requireLinux(),
    requireRoot(),
    requireFilesystems(),
    existsSync("/dev/loop-control") ? undefined : "no /dev/loop-control (modprobe loop)",
    requireTool("unshare", "apt-get install util-linux"),
    requireTool("/usr/sbin/mkfs.ext4", "apt-get install e2fsprogs"),
    requireStaticBusybox(),
  ),
);

const work = tempDir("ns");
const paths = {
  lower: join(work.path, "rootfs.erofs"),
  upper: join(work.path, "upper.ext4"),
  runtime: join(work.path, "run"),
  socket: join(work.path, "run", "agent.sock"),
  boot: join(work.path, "run", "boot.json"),
  log: join(work.path, "sandbox.log"),
  shareRw: join(work.path, "share-rw"),
  shareRo: join(work.path, "share-ro"),
};
const cgroupName = `msb-test-${process.pid}`;

interface Booted {
  sandbox: NamespaceSandbox;
  supervisor: Supervisor;
  readyMs: number;
}

function agentCommand(bootPath: string): string[] {
  return [process.execPath, join(REPO_ROOT, "src/main.ts"), "agent", bootPath];
}

async function boot(): Promise<Booted> {
  let accept!: (channel: FrameChannel) => void;
  const connected = new Promise<FrameChannel>((resolve) => (accept = resolve));
  const listener = await listenUnix(paths.socket, accept);
  const started = performance.now();
  const sandbox = await startNamespaceSandbox({
    agentCommand: agentCommand(paths.boot),
    cgroupName,
    cpus: 0.5,
    memoryBytes: MEMORY_BYTES,
    logFile: paths.log,
  });
  try {
    const supervisor = new Supervisor(await within(connected, "the agent to connect"));
    await within(supervisor.ready, "ready");
    return { sandbox, supervisor, readyMs: performance.now() - started };
  } catch (error) {
    sandbox.kill("SIGKILL");
    await sandbox.exited;
    await sandbox.cleanup();
    throw error;
  } finally {
    listener.close();
  }
}

async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  const timeout = Bun.sleep(BOOT_TIMEOUT_MS).then(() => {
    throw new Error(`timed out waiting for ${what}; sandbox log:\n${readFileSync(paths.log, "utf8")}`);
  });
  return Promise.race([promise, timeout]);
}

/** Loop devices backed by this test's files, from sysfs. */
function ourLoopDevices(): string[] {
  return readdirSync("/sys/block")
    .filter((name) => name.startsWith("loop"))
    .filter((name) => {
      try {
        return readFileSync(`/sys/block/${name}/loop/backing_file`, "utf8").startsWith(work.path);
      } catch {
        return false;
      }
    });
}

async function expectNothingLeftOnHost(): Promise<void> {
  const deadline = Date.now() + 3000;
  while (ourLoopDevices().length > 0 && Date.now() < deadline) await Bun.sleep(20);
  expect(ourLoopDevices()).toEqual([]);
  expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(work.path);
}

function imageEntries(): FixtureEntry[] {
  return [
    { path: "bin", type: "dir" },
    { path: "bin/busybox", data: new Uint8Array(readFileSync(BUSYBOX)), mode: 0o755 },
    ...APPLETS.map((name): FixtureEntry => ({ path: `bin/${name}`, type: "symlink", linkname: "busybox" })),
    { path: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\n" },
    { path: "etc/group", data: "root:x:0:\n" },
    { path: "root", type: "dir", mode: 0o700 },
    // An image trying to aim a mount outside its root.
    { path: "escape", type: "symlink", linkname: "../../../.." },
  ];
}

describe.skipIf(skipReason !== undefined)("namespace backend", () => {
  let first: Booted;
  const sandboxCgroupDirs = () => cgroupDirs(detectCgroupLayout(hostCgroupView()), cgroupName);

  beforeAll(async () => {
    await buildFixtureImage([{ entries: imageEntries() }], paths.lower);
    const started = performance.now();
    await createUpperDisk(paths.upper, 4 * 1024 ** 3);
    console.log(`upper.ext4 (4 GiB sparse) formatted in ${(performance.now() - started).toFixed(1)} ms`);
    for (const dir of [paths.runtime, join(paths.runtime, "scripts"), paths.shareRw, paths.shareRo]) {
      mkdirSync(dir, { recursive: true });
    }
    writeFileSync(join(paths.runtime, "scripts", "hello"), "#!/bin/sh\necho hello from a script\n", {
      mode: 0o755,
    });
    writeFileSync(join(paths.shareRo, "readme"), "read only\n");
    writeFileSync(
      paths.boot,
      JSON.stringify({
        version: 1,
        backend: "namespace",
        hostname: "sbx-test",
        lowerDisk: paths.lower,
        upperDisk: paths.upper,
        runtimeDir: paths.runtime,
        agentSocket: paths.socket,
        env: ["PATH=/bin", "HOME=/root"],
        workdir: null,
        user: null,
        mounts: [
          { kind: "bind", source: paths.shareRw, target: "/data", readonly: false },
          { kind: "bind", source: paths.shareRo, target: "/ro", readonly: true },
          { kind: "tmpfs", target: "/scratch", sizeBytes: SCRATCH_BYTES },
          { kind: "tmpfs", target: "/escape/hosttmp", sizeBytes: null },
        ],
        shutdownGraceMs: 2000,
      }),
    );
    first = await boot();
    console.log(`namespace sandbox: spawn → ready ${first.readyMs.toFixed(0)} ms (agent bootMs in ready)`);
  });

  afterAll(async () => {
    first?.sandbox.kill("SIGKILL");
    await first?.sandbox.exited;
    await first?.sandbox.cleanup();
    work.cleanup();
  });

  test("the hostname is the configured one, also in /etc/hostname and /etc/hosts", async () => {
    const { supervisor } = first;
    expect(await supervisor.sh("hostname")).toBe("sbx-test\n");
    expect(await supervisor.sh("cat /etc/hostname")).toBe("sbx-test\n");
    expect(await supervisor.sh("cat /etc/hosts")).toContain("127.0.1.1\tsbx-test");
  });

  test("only the sandbox's processes are visible, with the agent as PID 1", async () => {
    const { supervisor } = first;
    const pids = (await supervisor.sh("ls /proc | grep -E '^[0-9]+$'")).trim().split("\n").map(Number);
    expect(pids).toContain(1);
    expect(Math.max(...pids)).toBeLessThan(100);
    expect(await supervisor.sh("cat /proc/1/cmdline")).toContain("agent");
  });

  test("no host files: the root is the image, the runtime folder and the mounts asked for", async () => {
    const { supervisor } = first;
    const top = (await supervisor.sh("ls -a /")).trim().split("\n").sort();
    expect(top).toEqual(
      [
        ".",
        "..",
        ".msb",
        "bin",
        "data",
        "dev",
        "escape",
        "etc",
        "hosttmp",
        "proc",
        "ro",
        "root",
        "scratch",
        "sys",
        "tmp",
      ].sort(),
    );
    expect(await supervisor.sh(`test -e ${REPO_ROOT} && echo visible || echo gone`)).toBe("gone\n");
    // The image's symlink led the tmpfs to /hosttmp inside the root, not to the host's /.
    expect(await supervisor.sh("grep ' /hosttmp ' /proc/mounts | head -c 5")).toBe("tmpfs");
    expect(existsSync("/hosttmp")).toBe(false);
  });

  test("the network namespace has only lo, and it is up", async () => {
    const { supervisor } = first;
    expect(await supervisor.sh("ls /sys/class/net")).toBe("lo\n");
    expect(Number(await supervisor.sh("cat /sys/class/net/lo/flags")) & 1).toBe(1);
  });

  test("binds: read-write writes through to the host, read-only refuses writes", async () => {
    const { supervisor } = first;
    await supervisor.sh("echo from-sandbox > /data/out");
    expect(readFileSync(join(paths.shareRw, "out"), "utf8")).toBe("from-sandbox\n");
    expect(await supervisor.sh("cat /ro/readme")).toBe("read only\n");
    const refused = await supervisor.exec(["sh", "-c", "echo x > /ro/new"]);
    expect(refused.exited.code).not.toBe(0);
    expect(refused.stderr).toContain("Read-only file system");
    expect(existsSync(join(paths.shareRo, "new"))).toBe(false);
  });

  test("tmpfs mounts have the requested size; /.msb is read-only and its scripts are on PATH", async () => {
    const { supervisor } = first;
    expect(await supervisor.sh("grep ' /scratch ' /proc/mounts")).toContain(`size=${SCRATCH_BYTES / 1024}k`);
    expect(await supervisor.sh("hello")).toBe("hello from a script\n");
    expect((await supervisor.exec(["touch", "/.msb/x"])).exited.code).not.toBe(0);
  });

  test("devices and /proc protections", async () => {
    const { supervisor } = first;
    expect(await supervisor.sh("echo gone > /dev/null; head -c 16 /dev/urandom | wc -c")).toBe("16\n");
    expect(await supervisor.sh("ls /dev/pts/ptmx >/dev/null && readlink /dev/ptmx")).toBe("pts/ptmx\n");
    expect((await supervisor.exec(["sh", "-c", "echo 1 > /proc/sys/kernel/sysrq"])).exited.code).not.toBe(0);
  });

  test("programs run without the capabilities to mount or make devices", async () => {
    const { supervisor } = first;
    const bounding = BigInt(`0x${(await supervisor.sh("grep CapBnd /proc/self/status")).split(/\s+/)[1]}`);
    expect(bounding & (1n << 21n)).toBe(0n); // CAP_SYS_ADMIN
    expect(bounding & (1n << 27n)).toBe(0n); // CAP_MKNOD
    expect(bounding & (1n << 0n)).toBe(1n); // CAP_CHOWN stays
    const mount = await supervisor.exec(["mount", "-t", "tmpfs", "x", "/tmp"]);
    expect(mount.exited.code).not.toBe(0);
  });

  test("orphans re-parented to the agent are reaped", async () => {
    const { supervisor } = first;
    await supervisor.sh("(sleep 0.2 &); (sleep 0.2 &); true");
    await Bun.sleep(1500);
    const states = await supervisor.sh("cat /proc/[0-9]*/stat");
    expect(states.split("\n").filter((line) => /\) Z /.test(line))).toEqual([]);
  });

  test("the cgroup limits apply to the sandbox", async () => {
    const { sandbox, supervisor } = first;
    const memoryDir = sandboxCgroupDirs()[0] ?? "";
    const memoryFile = existsSync(`${memoryDir}/memory.max`) ? "memory.max" : "memory.limit_in_bytes";
    expect(Number(readFileSync(`${memoryDir}/${memoryFile}`, "utf8"))).toBe(MEMORY_BYTES);
    expect(readFileSync(`/proc/${sandbox.pid}/cgroup`, "utf8")).toContain(`/msb/${cgroupName}`);
    expect(await supervisor.sh("cat /proc/self/cgroup")).toContain(`/msb/${cgroupName}`);
  });

  test("shutdown: shutdownDone, exit 0, writes persist into the next boot, nothing left behind", async () => {
    await first.supervisor.sh("echo persisted > /root/file; sleep 1000 & echo started");
    first.supervisor.channel.sendJson(FrameKind.shutdown, 0, { graceMs: 1000 });
    await within(first.supervisor.shutdownDone, "shutdownDone");
    expect(await first.sandbox.exited).toEqual({ code: 0, signal: null });
    await first.sandbox.cleanup();
    await expectNothingLeftOnHost();
    for (const dir of sandboxCgroupDirs()) expect(existsSync(dir)).toBe(false);

    const second = await boot();
    expect(await second.supervisor.sh("cat /root/file")).toBe("persisted\n");
    second.sandbox.kill("SIGTERM");
    await within(second.supervisor.shutdownDone, "shutdownDone after SIGTERM");
    expect(await second.sandbox.exited).toEqual({ code: 0, signal: null });
    await second.sandbox.cleanup();
    await expectNothingLeftOnHost();
  });

  test("a lost supervisor connection shuts the sandbox down", async () => {
    const booted = await boot();
    booted.supervisor.channel.close();
    expect(await within(booted.sandbox.exited, "exit")).toEqual({ code: 0, signal: null });
    await booted.sandbox.cleanup();
    await expectNothingLeftOnHost();
  });

  test("kill -9 of unshare takes the sandbox down and leaves no mount, loop device or cgroup", async () => {
    const booted = await boot();
    await booted.supervisor.sh("sleep 1000 >/dev/null 2>&1 & echo started");
    booted.sandbox.kill("SIGKILL");
    expect(await within(booted.sandbox.exited, "exit")).toEqual({ code: null, signal: "SIGKILL" });
    await booted.sandbox.cleanup();
    for (const dir of sandboxCgroupDirs()) expect(existsSync(dir)).toBe(false);
    await expectNothingLeftOnHost();
  });

  test("a failure before ready is one line in the log and an exit code naming the stage", async () => {
    const badBoot = join(work.path, "bad-boot.json");
    const badLog = join(work.path, "bad.log");
    const missing = join(work.path, "missing.erofs");
    writeFileSync(
      badBoot,
      JSON.stringify({ ...JSON.parse(readFileSync(paths.boot, "utf8")), lowerDisk: missing }),
    );
    const sandbox = await startNamespaceSandbox({
      agentCommand: agentCommand(badBoot),
      cgroupName,
      cpus: 1,
      memoryBytes: MEMORY_BYTES,
      logFile: badLog,
    });
    expect(await within(sandbox.exited, "exit")).toEqual({ code: AgentExitCode.rootAssembly, signal: null });
    const log = readFileSync(badLog, "utf8");
    expect(log).toStartWith("msb agent: root assembly failed: ");
    expect(log).toContain(missing);
    expect(log.trimEnd().split("\n")).toHaveLength(1);
    await sandbox.cleanup();
    await expectNothingLeftOnHost();
  });
});
