// The VM backend end to end, once per VMM: qemu (KVM where QEMU can use it, TCG otherwise: a real
// Debian guest kernel booting the initramfs, the boot disk and the agent as PID 1) and libkrun
// (where it is installed and KVM runs guests; skipped with the reason otherwise), with the same
// images, disks, sockets, supervisor and network engine as the namespace backend. The scenarios
// of the namespace suites that the guest side changes: run and exit statuses, stdin, a PTY, tmpfs
// mounts, host folders as virtio-fs shares (virtiofsd), the network through the engine with its
// policy, persistence across stop/start, a stop right after heavy writes losing nothing, and the
// failure paths (a root that cannot be assembled, a killed supervisor). One long-lived sandbox
// serves the exec cases, so the suite boots only a few VMs (each takes seconds under TCG).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelsUnder } from "../../src/guest/kernel.ts";
import { msbPaths } from "../../src/paths.ts";
import { probeQemuKvm } from "../../src/vmm/qemu-kvm-probe.ts";
import { selectVmm } from "../../src/vmm/select-vmm.ts";
import { gatherVmmFacts } from "../../src/vmm/vmm-facts.ts";
import {
  inspectSandbox,
  lsJson,
  requireStaticBusybox,
  type SandboxEnv,
  setupSandboxEnv,
} from "../helpers/sandbox-fixtures.ts";
import {
  announceSkip,
  firstSkipReason,
  requireDockerRegistry,
  requireLinux,
  requireRoot,
  requireTool,
} from "../helpers/skip.ts";

/** Pids of the VMM processes (qemu-system, or `msb vmm`) whose command line mentions `home`. */
function vmmProcessesOf(home: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        const isVmm = argv[0]?.endsWith("qemu-system-x86_64") === true || argv[1] === "vmm";
        return isVmm && argv.some((arg) => arg.includes(home));
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** A guest kernel is on the host, or msb can fetch Debian's package with apt. */
function requireGuestKernel(): string | undefined {
  if (kernelsUnder("/").length > 0 || Bun.which("apt-get") !== null) return undefined;
  return "no guest kernel: no /boot/vmlinuz-* with modules and no apt-get to fetch linux-image-amd64";
}

const commonSkipReason = firstSkipReason(
  requireLinux(),
  requireRoot(),
  requireDockerRegistry(),
  requireStaticBusybox(),
  requireTool("/usr/sbin/mkfs.ext4", "apt-get install e2fsprogs"),
);

/** libkrun loads with libkrunfw, and KVM really runs guests (QEMU's probe says so where QEMU is). */
async function requireLibkrunVm(): Promise<string | undefined> {
  const paths = msbPaths(join(tmpdir(), "msb-vm-suite-probe"));
  try {
    // Throws, naming what is missing, when libkrun cannot run here.
    selectVmm({ ...gatherVmmFacts(paths), requested: "libkrun" });
    const qemu = Bun.which("qemu-system-x86_64");
    if (qemu === null) return undefined;
    const kvm = await probeQemuKvm(qemu, join(paths.home, "kvm-probe.json"));
    return kvm.usable ? undefined : `KVM cannot run guests here (${kvm.reason})`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const skipReasons = {
  qemu: announceSkip(
    "vm sandboxes (qemu)",
    firstSkipReason(
      commonSkipReason,
      requireTool("qemu-system-x86_64", "apt-get install qemu-system-x86"),
      requireTool("/usr/lib/qemu/virtiofsd", "apt-get install qemu-system-x86 (qemu-system-common ships it)"),
      requireGuestKernel(),
    ),
  ),
  libkrun: announceSkip(
    "vm sandboxes (libkrun)",
    firstSkipReason(commonSkipReason, await requireLibkrunVm()),
  ),
};

/** First boot also builds the guest files (kernel, initramfs, boot disk). */
const BOOT_TIMEOUT_MS = 240_000;
const TEST_TIMEOUT_MS = 120_000;
const PUBLISHED_PORT = 18_100 + Math.floor(Math.random() * 800);

for (const vmm of ["qemu", "libkrun"] as const) {
  describe.skipIf(skipReasons[vmm] !== undefined)(`VM sandboxes on the ${vmm} VMM`, () => {
    const VM_ENV = { MSB_ISOLATION: "vm", MSB_VMM: vmm };
    let env: SandboxEnv;
    let server: ReturnType<typeof Bun.serve>;
    const msb = (args: string[], options: { stdin?: string; timeoutMs?: number } = {}) =>
      env.msb(args, { env: VM_ENV, timeoutMs: TEST_TIMEOUT_MS, ...options });
    const msbOk = (args: string[], options: { timeoutMs?: number } = {}) =>
      env.msbOk(args, { env: VM_ENV, timeoutMs: TEST_TIMEOUT_MS, ...options });
    const inBox = (script: string, options: { stdin?: string } = {}) =>
      msb(["exec", "box", "--", "sh", "-c", script], options);

    beforeAll(async () => {
      env = await setupSandboxEnv();
      server = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: () => new Response("hello from the host\n"),
      });
      await msbOk(
        [
          "create",
          "--name",
          "box",
          "--net-rule",
          "allow@host",
          "--tmpfs",
          "/cache:8M",
          "--cpus",
          "2",
          "--memory",
          "768M",
          "-p",
          `${PUBLISHED_PORT}:8000`,
          env.image,
        ],
        { timeoutMs: BOOT_TIMEOUT_MS },
      );
    }, BOOT_TIMEOUT_MS);

    afterAll(async () => {
      server?.stop(true);
      await env?.cleanup();
    }, TEST_TIMEOUT_MS);

    test(
      "msb run boots a VM, relays stdout, stderr and the exit status, and leaves nothing behind",
      async () => {
        const result = await msb(["run", env.image, "--", "sh", "-c", "echo out; echo err >&2; exit 7"]);
        expect(result.stdout).toBe("out\n");
        expect(result.stderr).toContain("err\n");
        expect(result.code).toBe(7);
        expect((await lsJson(env)).map((row) => row.name)).toEqual(["box"]);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "the guest runs its own kernel with the agent as PID 1 and the overlay root",
      async () => {
        const result = await inBox("uname -r; tr '\\0' ' ' < /proc/1/cmdline; echo; grep ' / ' /proc/mounts");
        expect(result.code).toBe(0);
        const [kernel, init, root] = result.stdout.split("\n");
        expect(kernel).not.toBe(Bun.spawnSync(["uname", "-r"]).stdout.toString().trim());
        expect(init).toBe("/msb agent --vm ");
        expect(root).toStartWith("overlay / overlay");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "--cpus and --memory size the VM",
      async () => {
        const result = await inBox("nproc; grep MemTotal /proc/meminfo");
        const [cpus, memory] = result.stdout.split("\n");
        expect(cpus).toBe("2");
        const kib = Number(memory?.match(/(\d+) kB/)?.[1]);
        // The kernel keeps some of the 768 MiB for itself.
        expect(kib).toBeGreaterThan(600 * 1024);
        expect(kib).toBeLessThanOrEqual(768 * 1024);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "msb metrics reads the guest's own figures: memory of the VM, CPU moving under load",
      async () => {
        const sample = async () =>
          (
            JSON.parse((await msbOk(["metrics", "box", "--format", "json"])).stdout) as {
              cpu_percent: number | null;
              memory_bytes: number | null;
              memory_limit_bytes: number | null;
            }[]
          )[0]!;
        const idle = await sample();
        expect(idle.memory_limit_bytes).toBeGreaterThan(600 * 1024 * 1024);
        expect(idle.memory_limit_bytes).toBeLessThanOrEqual(768 * 1024 * 1024);
        expect(idle.memory_bytes).toBeGreaterThan(0);
        await inBox("(timeout 8 sh -c 'while :; do :; done' &) ; echo started");
        let busiest = 0;
        for (let attempt = 0; attempt < 6 && busiest <= 30; attempt++) {
          busiest = Math.max(busiest, (await sample()).cpu_percent ?? 0);
        }
        expect(busiest).toBeGreaterThan(30);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "stdin reaches the process and ends with EOF; exit statuses and signals come back",
      async () => {
        const piped = await inBox("wc -c", { stdin: "twelve bytes" });
        expect(piped.stdout.trim()).toBe("12");
        expect((await inBox("exit 42")).code).toBe(42);
        expect((await inBox("kill -TERM $$")).code).toBe(143);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "bulk data crosses the virtio-console channel intact both ways",
      async () => {
        const input = new Uint8Array(8 << 20).map((_, index) => (index * 2654435761) >>> 24);
        const expected = createHash("sha256").update(input).digest("hex");
        const uploaded = await env.msb(["exec", "box", "--", "sha256sum"], {
          env: VM_ENV,
          stdin: input,
          timeoutMs: TEST_TIMEOUT_MS,
        });
        expect(uploaded.stdout.split(" ")[0]).toBe(expected);
        const downloaded = await inBox("dd if=/dev/zero bs=1M count=32 2>/dev/null");
        expect(downloaded.stdout.length).toBe(32 << 20);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "a PTY session sees a terminal with a size",
      async () => {
        const result = await msb(["exec", "-t", "box", "--", "sh", "-c", "tty; stty size"]);
        expect(result.code).toBe(0);
        expect(result.stdout).toMatch(/^\/dev\/pts\/\d+\r?\n\d+ \d+\r?\n$/);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "a --tmpfs mount is there with its size",
      async () => {
        const tmpfs = await inBox("grep ' /cache ' /proc/mounts");
        expect(tmpfs.stdout).toMatch(/^tmpfs \/cache tmpfs .*size=8192k/);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "-v host folders are virtio-fs shares: writable both ways, and read-only even after a guest remount",
      async () => {
        const shared = join(env.home.path, "shared");
        const readOnly = join(env.home.path, "read-only");
        mkdirSync(shared);
        mkdirSync(readOnly);
        writeFileSync(join(shared, "from-host"), "host\n");
        writeFileSync(join(readOnly, "kept"), "ro\n");
        const result = await msb([
          "run",
          "-v",
          `${shared}:/shared`,
          "-v",
          `${readOnly}:/ro:ro`,
          env.image,
          "--",
          "sh",
          "-c",
          "cat /shared/from-host; echo guest > /shared/from-guest; cat /ro/kept; " +
            "echo x > /ro/new 2>/dev/null || echo refused; mount -o remount,rw /ro; echo x > /ro/new2 2>/dev/null || echo refused",
        ]);
        expect(result.stdout).toBe("host\nro\nrefused\nrefused\n");
        expect(readFileSync(join(shared, "from-guest"), "utf8")).toBe("guest\n");
        expect(readdirSync(readOnly)).toEqual(["kept"]);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "named volumes: a sized one is a virtio-blk disk with its quota, a directory one a share; data outlives the sandbox; the interception CA is installed",
      async () => {
        await env.msbOk(["volume", "create", "vmdisk", "--size", "16M"]);
        const first = await msb([
          "run",
          "--tls-intercept",
          "-v",
          "vmdisk:/disk",
          "-v",
          "vmdir:/dir",
          env.image,
          "--",
          "sh",
          "-c",
          "echo kept > /disk/file; echo kept > /dir/file; " +
            "dd if=/dev/zero of=/disk/fill bs=1M count=32 2>&1 | grep -o 'No space left on device'; " +
            'grep -q "BEGIN CERTIFICATE" "$SSL_CERT_FILE" && echo ca-installed',
        ]);
        expect(first.stdout).toBe("No space left on device\nca-installed\n");
        expect(first.code).toBe(0);
        const second = await msb([
          "run",
          "-v",
          "vmdisk:/disk:ro",
          "-v",
          "vmdir:/dir",
          env.image,
          "--",
          "cat",
          "/disk/file",
          "/dir/file",
        ]);
        expect(second).toMatchObject({ code: 0, stdout: "kept\nkept\n" });
        expect(statSync(join(env.home.path, "volumes", "vmdisk.ext4")).blocks * 512).toBeLessThanOrEqual(
          16 * 1024 * 1024,
        );
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "eth0 goes through the network engine: allowed host server reached, private address refused",
      async () => {
        const config = await inBox("ip addr show eth0; ip route; cat /etc/resolv.conf");
        expect(config.stdout).toContain("inet 100.96.0.2/30");
        expect(config.stdout).toContain("default via 100.96.0.1 dev eth0");
        expect(config.stdout).toContain("nameserver 100.96.0.1");
        const allowed = await inBox(`wget -qO- http://100.96.0.1:${server.port}/`);
        expect(allowed.stdout).toBe("hello from the host\n");
        const denied = await inBox("wget -qO- http://10.200.0.1:8080/ 2>&1");
        expect(denied.stdout).toContain("Connection refused");
        const log = readFileSync(join(env.home.path, "sandboxes/box/logs/supervisor.log"), "utf8");
        expect(log).toContain("deny tcp 10.200.0.1:8080 (default: deny private)");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "-p publishes a guest port on the host's loopback through the engine",
      async () => {
        await inBox("mkdir -p /www && echo published > /www/index.html && httpd -p 8000 -h /www");
        let body = "";
        for (let attempt = 0; attempt < 40 && body === ""; attempt++) {
          body = await fetch(`http://127.0.0.1:${PUBLISHED_PORT}/index.html`)
            .then((response) => response.text())
            .catch(() => "");
          if (body === "") await Bun.sleep(100);
        }
        expect(body).toBe("published\n");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "writes made right before a stop survive it and the next start",
      async () => {
        const write = await inBox(
          "echo kept > /root/note && dd if=/dev/urandom of=/root/blob bs=1M count=16 2>/dev/null && md5sum /root/blob > /root/blob.md5",
        );
        expect(write.code).toBe(0);
        await msbOk(["stop", "box"]);
        expect((await lsJson(env)).find((row) => row.name === "box")?.status).toBe("stopped");
        await msbOk(["start", "box"], { timeoutMs: BOOT_TIMEOUT_MS });
        const read = await inBox("cat /root/note && md5sum -c /root/blob.md5");
        expect(read.stdout).toBe("kept\n/root/blob: OK\n");
      },
      BOOT_TIMEOUT_MS,
    );

    test(
      "a killed supervisor takes its VM with it (no guest left writing to the disk)",
      async () => {
        await msbOk(["create", "--name", "doomed", env.image], { timeoutMs: BOOT_TIMEOUT_MS });
        const { supervisor_pid: supervisor } = await inspectSandbox(env, "doomed");
        const vmms = () => vmmProcessesOf(env.home.path);
        expect(vmms().length).toBe(2);
        process.kill(supervisor as number, "SIGKILL");
        const deadline = Date.now() + 5_000;
        while (vmms().length > 1 && Date.now() < deadline) await Bun.sleep(50);
        expect(vmms().length).toBe(1);
        await msbOk(["rm", "-f", "doomed"]);
      },
      BOOT_TIMEOUT_MS,
    );

    test(
      "a guest that cannot assemble its root fails to start with the agent's reason, and its VM ends",
      async () => {
        await msbOk(["create", "--name", "broken", env.image], { timeoutMs: BOOT_TIMEOUT_MS });
        await msbOk(["stop", "broken"]);
        // Zero the ext4 superblock of the sandbox's writable disk.
        const upper = join(env.home.path, "sandboxes/broken/upper.ext4");
        const fd = openSync(upper, "r+");
        writeSync(fd, new Uint8Array(8192), 0, 8192, 0);
        closeSync(fd);
        const start = await msb(["start", "broken"], { timeoutMs: BOOT_TIMEOUT_MS });
        expect(start.code).not.toBe(0);
        expect(start.stderr).toContain("the agent failed: root assembly failed: mount");
        expect(start.stderr).toContain("ext4 from /dev/vdb");
        expect(vmmProcessesOf(env.home.path).length).toBe(1);
        await msbOk(["rm", "-f", "broken"]);
      },
      BOOT_TIMEOUT_MS,
    );

    test(
      "--no-network gives the guest no NIC at all",
      async () => {
        const result = await msb(["run", "--no-network", env.image, "--", "ls", "/sys/class/net"]);
        expect(result.code).toBe(0);
        expect(result.stdout).toBe("lo\n");
      },
      TEST_TIMEOUT_MS,
    );
  });
}
