// What happens to sandboxes when things die or race, on the namespace backend as root: kill -9
// of a supervisor (the next CLI call sees `crashed`, nothing is left on the host, start boots it
// again with its data), kill -9 of the sandbox itself (its agent, PID 1), kill -9 of the CLI of
// an unnamed run (the abandoned sandbox removes itself), ten `msb run` at once, and two
// `create` of one name at once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { MSB_BINARY } from "../helpers/msb-cli.ts";
import {
  agentPid,
  agentPids,
  expectNoHostLeftovers,
  homeEntries,
  inspectSandbox,
  isAlive,
  loopDevicesUnder,
  lsJson,
  mountsUnder,
  processesOfHome,
  type SandboxEnv,
  sandboxCgroupDirs,
  sandboxSkipReason,
  setupSandboxEnv,
  socketsUnderRun,
  statusOf,
  waitForExit,
  waitForStatus,
} from "../helpers/sandbox-fixtures.ts";

const skipReason = sandboxSkipReason("sandbox robustness");
const TEST_TIMEOUT_MS = 60_000;

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(50);
  }
  return true;
}

describe.skipIf(skipReason !== undefined)("sandbox robustness (namespace backend)", () => {
  let env: SandboxEnv;
  const exec = (name: string, command: string[]) => env.msb(["exec", name, "--", ...command]);

  /** No process, socket, loop device, mount or runtime folder of this home is left. */
  async function expectHostClean(): Promise<void> {
    await waitUntil(() => processesOfHome(env).length === 0, 5_000);
    expect(processesOfHome(env)).toEqual([]);
    expect(socketsUnderRun(env)).toEqual([]);
    expect(homeEntries(env, "run")).toEqual([]);
    expect(await expectNoHostLeftovers(env)).toEqual({ loops: [], mounts: [] });
  }

  /**
   * Cleanup after a test: a graceful stop first, then rm. (`rm -f` of a running sandbox is what
   * the last test checks; the others do not depend on it.)
   */
  async function removeSandbox(name: string): Promise<void> {
    await env.msb(["stop", name]);
    await env.msb(["rm", "-f", name]);
  }

  beforeAll(async () => {
    env = await setupSandboxEnv();
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await env?.cleanup();
  }, TEST_TIMEOUT_MS);

  test(
    "kill -9 of the supervisor: ls shows crashed, nothing is left on the host, start boots it with its data",
    async () => {
      await env.msbOk(["create", "--name", "victim", env.image], { env: { HOST_ONLY_MARKER: "host-only" } });
      try {
        expect((await exec("victim", ["sh", "-c", "echo survived > /root/data; echo ok"])).stdout).toBe(
          "ok\n",
        );
        const { id, supervisor_pid: supervisor } = await inspectSandbox(env, "victim");
        const agent = agentPid(env, id);
        expect(supervisor).toBeNumber();
        expect(agent).toBeNumber();
        // The agent is the guest's PID 1: the user's host variables stay out of its environment.
        expect(readFileSync(`/proc/${agent}/environ`, "utf8")).not.toContain("host-only");

        process.kill(supervisor!, "SIGKILL");
        expect(await waitForExit(supervisor!, 5_000)).toBe(true);
        // The sandbox does not outlive its supervisor.
        expect(await waitForExit(agent!, 10_000)).toBe(true);
        expect(await statusOf(env, "victim")).toBe("crashed");
        const after = await inspectSandbox(env, "victim");
        expect(after.status).toBe("crashed");
        expect(after.supervisor_pid).toBeNull();
        await expectHostClean();
        for (const dir of sandboxCgroupDirs(id)) expect(existsSync(dir)).toBe(false);

        await env.msbOk(["start", "victim"]);
        expect(await statusOf(env, "victim")).toBe("running");
        expect((await exec("victim", ["cat", "/root/data"])).stdout).toBe("survived\n");
      } finally {
        await removeSandbox("victim");
      }
      await expectHostClean();
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "kill -9 of the sandbox (its agent, PID 1 inside): crashed or stopped, and it starts again",
    async () => {
      await env.msbOk(["create", "--name", "victim2", env.image]);
      try {
        expect((await exec("victim2", ["sh", "-c", "echo kept > /root/data; sync; echo ok"])).stdout).toBe(
          "ok\n",
        );
        const { id, supervisor_pid: supervisor } = await inspectSandbox(env, "victim2");
        const agent = agentPid(env, id);
        expect(agent).toBeNumber();
        process.kill(agent!, "SIGKILL");
        expect(await waitForStatus(env, "victim2", ["crashed", "stopped"], 15_000)).toMatch(
          /^(crashed|stopped)$/,
        );
        expect(await waitForExit(supervisor!, 10_000)).toBe(true);
        await expectHostClean();
        for (const dir of sandboxCgroupDirs(id)) expect(existsSync(dir)).toBe(false);

        await env.msbOk(["start", "victim2"]);
        expect((await exec("victim2", ["cat", "/root/data"])).stdout).toBe("kept\n");
      } finally {
        await removeSandbox("victim2");
      }
      await expectHostClean();
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "kill -9 of the CLI of an unnamed run: the abandoned sandbox stops and removes itself",
    async () => {
      const cli = Bun.spawn([MSB_BINARY, "run", env.image, "--", "sleep", "100"], {
        env: { ...process.env, MSB_HOME: env.home.path, MSB_ISOLATION: "namespace", NO_COLOR: "1" },
        stdin: "ignore",
        stdout: "ignore",
        stderr: "ignore",
      });
      const deadline = Date.now() + 15_000;
      let rows = await lsJson(env);
      while (!rows.some((row) => row.status === "running") && Date.now() < deadline) {
        await Bun.sleep(50);
        rows = await lsJson(env);
      }
      expect(rows.map((row) => row.status)).toEqual(["running"]);
      // Let the command start before the CLI goes.
      await Bun.sleep(300);
      cli.kill("SIGKILL");
      await cli.exited;
      const gone = Date.now() + 20_000;
      while ((await lsJson(env)).length > 0 && Date.now() < gone) await Bun.sleep(200);
      expect(await lsJson(env)).toEqual([]);
      expect(homeEntries(env, "sandboxes")).toEqual([]);
      await expectHostClean();
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "ten msb run at once all succeed, each in its own sandbox, and all are cleaned up",
    async () => {
      const started = performance.now();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, index) =>
          env.msb(["run", env.image, "--", "sh", "-c", `echo $((${index} * ${index})); hostname`]),
        ),
      );
      const elapsed = performance.now() - started;
      console.log(`10 concurrent msb run: ${elapsed.toFixed(0)} ms`);
      const failures = results
        .map((result, index) => ({ index, ...result }))
        .filter(
          (result) => result.code !== 0 || !result.stdout.startsWith(`${result.index * result.index}\n`),
        );
      expect(failures).toEqual([]);
      const hostnames = new Set(results.map((result) => result.stdout.split("\n")[1]));
      expect(hostnames.size).toBe(10);
      expect(await lsJson(env)).toEqual([]);
      expect(homeEntries(env, "sandboxes")).toEqual([]);
      await expectHostClean();
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "two create of one name at once: exactly one wins, the other fails cleanly with a conflict",
    async () => {
      try {
        const results = await Promise.all([
          env.msb(["create", "--name", "twin", env.image]),
          env.msb(["create", "--name", "twin", env.image]),
        ]);
        const codes = results.map((result) => result.code).sort();
        expect(codes).toEqual([0, 4]);
        const loser = results.find((result) => result.code !== 0)!;
        expect(loser.stderr).toMatch(/^error: .*twin/m);
        expect(await lsJson(env)).toEqual([expect.objectContaining({ name: "twin", status: "running" })]);
        expect((await exec("twin", ["hostname"])).stdout).toBe("twin\n");
        // Exactly one supervisor and one agent run for it.
        const { id } = await inspectSandbox(env, "twin");
        const runDir = join(env.home.path, "run", id);
        const agents = agentPids().filter((pid) => processesOfHome(env).some((p) => p.pid === pid));
        expect(agents).toHaveLength(1);
        expect(agentPid(env, id)).toBe(agents[0]!);
        expect(existsSync(runDir)).toBe(true);
      } finally {
        await removeSandbox("twin");
      }
      await expectHostClean();
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "rm -f of running sandboxes leaves no runtime folder, cgroup, process, loop device or mount behind",
    async () => {
      await env.msbOk(["create", "--name", "a", env.image]);
      await env.msbOk(["run", "-d", "--name", "b", env.image]);
      const inspected = [await inspectSandbox(env, "a"), await inspectSandbox(env, "b")];
      const pids = inspected.map((sandbox) => sandbox.supervisor_pid!);
      await env.msbOk(["rm", "-f", "a", "b"]);
      // Their runtime folders (sockets) go with them: no later call would ever clean them up.
      for (const { id } of inspected) expect(existsSync(join(env.home.path, "run", id))).toBe(false);
      for (const pid of pids) expect(await waitForExit(pid, 5_000)).toBe(true);
      expect(pids.filter(isAlive)).toEqual([]);
      expect(await lsJson(env)).toEqual([]);
      expect(loopDevicesUnder(join(env.home.path, "sandboxes"))).toEqual([]);
      expect(mountsUnder(env.home.path)).toEqual([]);
      await expectHostClean();
      for (const { id } of inspected) {
        for (const dir of sandboxCgroupDirs(id)) expect(existsSync(dir)).toBe(false);
      }
    },
    TEST_TIMEOUT_MS,
  );
});
