// `msb metrics` end to end on the namespace backend with the compiled binary: the figures move
// when the guest burns CPU, fills memory, writes to its disk and uses the network; --no-stream,
// --format json and the live terminal view; ps and inspect carry the same figures; and a
// supervisor nobody asks spends (almost) no CPU.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { MSB_BINARY } from "../helpers/msb-cli.ts";
import { spawnInPty } from "../helpers/pty.ts";
import {
  inspectSandbox,
  type SandboxEnv,
  sandboxSkipReason,
  setupSandboxEnv,
} from "../helpers/sandbox-fixtures.ts";

const skipReason = sandboxSkipReason("sandbox metrics");
const TEST_TIMEOUT_MS = 60_000;
const MIB = 1024 * 1024;
const ROW_KEYS = [
  "cpu_percent",
  "disk_read_bytes",
  "disk_write_bytes",
  "memory_bytes",
  "memory_limit_bytes",
  "name",
  "net_rx_bytes",
  "net_tx_bytes",
  "uptime_seconds",
];

interface Row {
  name: string;
  cpu_percent: number;
  memory_bytes: number;
  memory_limit_bytes: number;
  disk_read_bytes: number;
  disk_write_bytes: number;
  net_rx_bytes: number;
  net_tx_bytes: number;
  uptime_seconds: number;
}

/** utime + stime of a host process, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

describe.skipIf(skipReason !== undefined)("msb metrics (namespace backend)", () => {
  let env: SandboxEnv;

  async function metricsOf(name: string): Promise<Row> {
    const rows = JSON.parse((await env.msbOk(["metrics", name, "--format", "json"])).stdout) as Row[];
    expect(rows.length).toBe(1);
    return rows[0]!;
  }

  /** Polls until `check` holds for a fresh sample (figures lag the guest by up to a sample). */
  async function eventually(name: string, check: (row: Row) => boolean): Promise<Row> {
    let row = await metricsOf(name);
    for (let attempt = 0; attempt < 20 && !check(row); attempt++) {
      await Bun.sleep(250);
      row = await metricsOf(name);
    }
    return row;
  }

  beforeAll(async () => {
    env = await setupSandboxEnv();
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await env?.cleanup();
  }, TEST_TIMEOUT_MS);

  test("with nothing running: an empty table, [] and not-found for a name", async () => {
    expect(JSON.parse((await env.msbOk(["metrics", "--format", "json"])).stdout)).toEqual([]);
    const table = (await env.msbOk(["metrics", "--no-stream"])).stdout.trim().split("\n");
    expect(table).toEqual([expect.stringMatching(/^NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %/)]);
    const missing = await env.msb(["metrics", "ghost", "--no-stream"]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("sandbox not found: ghost");
  });

  test(
    "figures move when the guest burns CPU, fills memory, writes to disk and uses the network",
    async () => {
      await env.msbOk(["create", "--name", "busy", "-m", "512M", "-c", "1", env.image]);
      const idle = await metricsOf("busy");
      expect(Object.keys(idle).sort()).toEqual(ROW_KEYS);
      expect(idle.name).toBe("busy");
      expect(idle.memory_limit_bytes).toBe(512 * MIB);
      expect(idle.cpu_percent).toBeLessThan(30);
      expect(idle.uptime_seconds).toBeGreaterThanOrEqual(0);

      const burner = env.msb(["exec", "busy", "--", "timeout", "6", "sh", "-c", "while :; do :; done"]);
      const burning = await eventually("busy", (row) => row.cpu_percent > 50);
      expect(burning.cpu_percent).toBeGreaterThan(50);
      // -c 1: the cgroup's quota holds the guest to one CPU (plus sampling jitter).
      expect(burning.cpu_percent).toBeLessThan(130);
      await burner;

      await env.msbOk(["exec", "busy", "--", "sh", "-c", "head -c 96m /dev/zero > /dev/shm/fill"]);
      const filled = await metricsOf("busy");
      expect(filled.memory_bytes - idle.memory_bytes).toBeGreaterThan(80 * MIB);
      await env.msbOk(["exec", "busy", "--", "rm", "/dev/shm/fill"]);
      const freed = await eventually("busy", (row) => row.memory_bytes < filled.memory_bytes - 80 * MIB);
      expect(freed.memory_bytes).toBeLessThan(filled.memory_bytes - 80 * MIB);

      await env.msbOk([
        "exec",
        "busy",
        "--",
        "sh",
        "-c",
        "dd if=/dev/zero of=/root/blob bs=1M count=24 && sync",
      ]);
      const written = await metricsOf("busy");
      expect(written.disk_write_bytes - idle.disk_write_bytes).toBeGreaterThanOrEqual(24 * MIB);

      const gateway = "$(awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf)";
      await env.msb(["exec", "busy", "--", "sh", "-c", `ping -c 3 -W 1 ${gateway}`]);
      const networked = await metricsOf("busy");
      expect(networked.net_tx_bytes).toBeGreaterThan(idle.net_tx_bytes);
      expect(networked.net_rx_bytes).toBeGreaterThan(idle.net_rx_bytes);
    },
    TEST_TIMEOUT_MS,
  );

  test("--no-stream prints one table; ps and inspect carry the figures", async () => {
    const table = (await env.msbOk(["metrics", "--no-stream"])).stdout.trim().split("\n");
    expect(table.length).toBe(2);
    expect(table[1]).toMatch(
      /^busy\s+\d+\.\d%\s+[\d.]+ \S+ \/ 512\.0 MiB\s+\d+\.\d%\s+.* \/ .*\s+\d+(s|m\d\ds)$/,
    );

    const ps = JSON.parse((await env.msbOk(["ps", "--format", "json"])).stdout);
    expect(ps).toEqual([
      expect.objectContaining({
        name: "busy",
        cpu_percent: expect.any(Number),
        memory_bytes: expect.any(Number),
      }),
    ]);
    const psTable = (await env.msbOk(["ps"])).stdout.split("\n");
    expect(psTable[0]).toMatch(/STATUS\s+CPU %\s+MEM\s+PORTS/);
    expect(psTable[1]).toMatch(/running\s+\d+\.\d%\s+[\d.]+ (KiB|MiB)/);

    const inspected = (await inspectSandbox(env, "busy")) as unknown as { stats: Record<string, unknown> };
    expect(Object.keys(inspected.stats).sort()).toEqual(ROW_KEYS.filter((key) => key !== "name"));
    expect(inspected.stats.memory_limit_bytes).toBe(512 * MIB);
    expect((await env.msbOk(["inspect", "busy"])).stdout).toMatch(/Stats\n {2}CPU: +\d+\.\d%/);
  });

  test(
    "in a terminal it redraws every second until Ctrl-C",
    async () => {
      const session = spawnInPty([MSB_BINARY, "metrics", "busy"], {
        cols: 160,
        env: { ...process.env, MSB_HOME: env.home.path, MSB_ISOLATION: "namespace", NO_COLOR: "1" },
      });
      try {
        await session.waitForOutput(/(busy\s+\d+\.\d%[\s\S]*){3}/, 10_000);
        session.write("\x03");
        expect(await session.exited).toBe(0);
        expect(session.output().split("\x1b[2J").length).toBeGreaterThanOrEqual(4);
      } finally {
        session.kill();
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "an idle supervisor spends almost no CPU, also after being asked",
    async () => {
      const { supervisor_pid: pid } = await inspectSandbox(env, "busy");
      expect(pid).toBeNumber();
      await metricsOf("busy");
      const before = cpuTicks(pid!);
      await Bun.sleep(3_000);
      // 100 ticks a second: at most 50 ms of CPU in 3 s, for the supervisor of a sandbox at rest.
      expect(cpuTicks(pid!) - before).toBeLessThanOrEqual(5);
    },
    TEST_TIMEOUT_MS,
  );
  test(
    "a stopped sandbox: refused by name, left out of the list, no figures in ps -a and inspect",
    async () => {
      await env.msbOk(["stop", "busy"]);
      const refused = await env.msb(["metrics", "busy", "--no-stream"]);
      expect(refused.code).toBe(4);
      expect(refused.stderr).toContain("sandbox busy is stopped");
      expect(JSON.parse((await env.msbOk(["metrics", "--format", "json"])).stdout)).toEqual([]);
      const ps = JSON.parse((await env.msbOk(["ps", "-a", "--format", "json"])).stdout);
      expect(ps).toEqual([expect.objectContaining({ name: "busy", cpu_percent: null, memory_bytes: null })]);
      const inspected = (await inspectSandbox(env, "busy")) as unknown as { stats: unknown };
      expect(inspected.stats).toBeNull();
    },
    TEST_TIMEOUT_MS,
  );
});
