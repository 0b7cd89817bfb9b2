// Persistent sandboxes end to end on the namespace backend: create (boots in the background),
// ls/ps/inspect, exec and shell with their options, several clients in one sandbox at once, the
// cgroup limits from -m/-c, stop/start with data kept, rm (refused while running without -f),
// named `msb run` (persists, is reused, --replace), `run -d`, and the --max-duration and
// --idle-timeout timers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  cgroupCpuQuota,
  cgroupMemoryLimit,
  inspectSandbox,
  isAlive,
  loopDevicesUnder,
  lsJson,
  type SandboxEnv,
  sandboxCgroupDirs,
  sandboxSkipReason,
  setupSandboxEnv,
  statusOf,
  waitForExit,
  waitForStatus,
} from "../helpers/sandbox-fixtures.ts";

const skipReason = sandboxSkipReason("sandbox lifecycle");
const TEST_TIMEOUT_MS = 60_000;
const GIB = 1024 ** 3;

describe.skipIf(skipReason !== undefined)("persistent sandboxes (namespace backend)", () => {
  let env: SandboxEnv;
  const exec = (name: string, command: string[], flags: string[] = []) =>
    env.msb(["exec", ...flags, name, "--", ...command]);

  /** Cleanup where `rm -f` itself is not under test: a graceful stop, then rm. */
  async function discard(name: string): Promise<void> {
    await env.msb(["stop", name]);
    await env.msb(["rm", "-f", name]);
  }

  beforeAll(async () => {
    env = await setupSandboxEnv();
    // One sandbox most tests share: 1.5 GiB, 2 CPUs, an env var, ash as its shell.
    await env.msbOk([
      "create",
      "--name",
      "dev",
      "-m",
      "1.5G",
      "-c",
      "2",
      "-e",
      "CREATED_WITH=flag",
      "--shell",
      "/bin/ash",
      env.image,
    ]);
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await env?.cleanup();
  }, TEST_TIMEOUT_MS);

  describe("create, ls, ps, inspect", () => {
    test(
      "create returns with the sandbox running; ls, ps and inspect agree",
      async () => {
        expect(await lsJson(env)).toEqual([
          { name: "dev", status: "running", image: env.image, created_at: expect.any(String) },
        ]);
        const inspected = await inspectSandbox(env, "dev");
        expect(inspected.name).toBe("dev");
        expect(inspected.status).toBe("running");
        expect(inspected.ephemeral).toBe(false);
        expect(inspected.supervisor_pid).toBeNumber();
        expect(isAlive(inspected.supervisor_pid!)).toBe(true);
        expect(inspected.config.hostname).toBe("dev");

        const ps = JSON.parse((await env.msbOk(["ps", "--format", "json"])).stdout);
        expect(ps).toEqual([expect.objectContaining({ name: "dev", status: "running", image: env.image })]);
        const one = JSON.parse((await env.msbOk(["ps", "dev", "--format", "json"])).stdout);
        expect(one).toEqual(expect.objectContaining({ name: "dev", status: "running" }));

        expect((await lsJson(env, ["--running"])).map((row) => row.name)).toEqual(["dev"]);
        expect(await lsJson(env, ["--stopped"])).toEqual([]);
        expect((await env.msbOk(["ls", "-q"])).stdout).toBe("dev\n");
        const table = (await env.msbOk(["ls"])).stdout;
        expect(table).toMatch(/^NAME\s+IMAGE\s+STATUS\s+CREATED/);
        expect(table).toMatch(/\ndev\s+\S+\s+running\s+/);
        const text = (await env.msbOk(["inspect", "dev"])).stdout;
        expect(text).toMatch(/Name:\s+dev/);
        expect(text).toMatch(/Status:\s+running/);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "-m and -c become the sandbox's cgroup limits on the host",
      async () => {
        const { id, config } = await inspectSandbox(env, "dev");
        expect(config.memoryBytes).toBe(1.5 * GIB);
        expect(cgroupMemoryLimit(id).bytes).toBe(1.5 * GIB);
        const cpu = cgroupCpuQuota(id);
        expect(cpu).toBeDefined();
        expect(cpu!.quotaUs / cpu!.periodUs).toBe(2);
        // The guest's processes are in that cgroup.
        expect((await exec("dev", ["cat", "/proc/self/cgroup"])).stdout).toContain(`/msb/${id}`);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "a second create with the same name fails with a conflict (exit 4)",
      async () => {
        const again = await env.msb(["create", "--name", "dev", env.image]);
        expect(again.code).toBe(4);
        expect(again.stderr).toMatch(/^error: .*dev/m);
        expect(await statusOf(env, "dev")).toBe("running");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "unknown sandboxes: exit 3 and 'sandbox not found'",
      async () => {
        for (const command of [
          ["exec", "ghost", "--", "true"],
          ["stop", "ghost"],
          ["start", "ghost"],
          ["rm", "ghost"],
          ["inspect", "ghost"],
          ["shell", "ghost", "--", "true"],
        ]) {
          const result = await env.msb(command);
          expect({ command, code: result.code }).toEqual({ command, code: 3 });
          expect(result.stderr).toContain("sandbox not found: ghost");
        }
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("exec and shell", () => {
    test(
      "exec: output, exit status, hostname, the create-time env",
      async () => {
        const result = await exec("dev", ["sh", "-c", "hostname; echo $CREATED_WITH; echo oops >&2; exit 7"]);
        expect(result).toEqual({ code: 7, stdout: "dev\nflag\n", stderr: "oops\n" });
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "exec -e, -w, -u",
      async () => {
        const result = await exec(
          "dev",
          ["sh", "-c", "echo $ONE $TWO; pwd; id -u; id -g"],
          ["-e", "ONE=1", "-e", "TWO=a b", "-w", "/srv/app", "-u", "1000:1000"],
        );
        expect(result.stdout).toBe("1 a b\n/srv/app\n1000\n1000\n");
        expect((await exec("dev", ["id", "-un"], ["-u", "user"])).stdout).toBe("user\n");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "exec failures: 127, 126, 122, 123 and --timeout 124, each with an error line",
      async () => {
        const cases: [string[], string[], number][] = [
          [[], ["no-such-command"], 127],
          [[], ["/usr/bin/not-exec"], 126],
          [["-w", "/nope"], ["pwd"], 122],
          [["-u", "bogus"], ["id"], 123],
          [["--timeout", "1s"], ["sleep", "30"], 124],
        ];
        for (const [flags, command, status] of cases) {
          const result = await exec("dev", command, flags);
          expect({ command, code: result.code }).toEqual({ command, code: status });
          expect(result.stderr).toMatch(/^error: /m);
        }
        // The sandbox survives its commands' failures.
        expect(await statusOf(env, "dev")).toBe("running");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "shell: -- script words, a script on stdin, the sandbox's --shell and an override, -u",
      async () => {
        const words = await env.msb(["shell", "dev", "--", "echo", "$((6*7))", "from", "words"]);
        expect(words.stdout).toBe("42 from words\n");
        const script = await env.msb(["shell", "dev"], { stdin: "echo from stdin\nhostname\nexit 3\n" });
        expect(script.stdout).toBe("from stdin\ndev\n");
        expect(script.code).toBe(3);
        // The shell chosen at create time (--shell /bin/ash) runs the script; $0 names it.
        expect((await env.msb(["shell", "dev", "--", "echo $0"])).stdout).toBe("/bin/ash\n");
        expect((await env.msb(["shell", "dev", "--shell", "/bin/sh", "--", "echo $0"])).stdout).toBe(
          "/bin/sh\n",
        );
        expect((await env.msb(["shell", "dev", "-u", "1000", "--", "id -u"])).stdout).toBe("1000\n");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "two execs and a shell at once in one sandbox run side by side",
      async () => {
        const started = performance.now();
        const [first, second, shell] = await Promise.all([
          exec("dev", ["sh", "-c", "sleep 1.5; echo first"]),
          exec("dev", ["sh", "-c", "sleep 1.5; echo second >&2; exit 2"]),
          env.msb(["shell", "dev"], { stdin: "sleep 1.5; echo shell; hostname\n" }),
        ]);
        const elapsed = performance.now() - started;
        expect(first).toEqual({ code: 0, stdout: "first\n", stderr: "" });
        expect(second).toEqual({ code: 2, stdout: "", stderr: "second\n" });
        expect(shell).toEqual({ code: 0, stdout: "shell\ndev\n", stderr: "" });
        // Serialized they would take 4.5 s.
        expect(elapsed).toBeLessThan(4_000);
        // The sessions see each other's processes: one sandbox, not three.
        const [watcher, ps] = await Promise.all([
          exec("dev", ["sh", "-c", "sleep 1; echo watcher-done"]),
          Bun.sleep(400).then(() => exec("dev", ["ps", "-o", "args"])),
        ]);
        expect(watcher.stdout).toBe("watcher-done\n");
        expect(ps.stdout).toContain("sleep 1");
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("stop, start, rm and persistence", () => {
    test(
      "rm of a running sandbox fails naming its state; the sandbox is untouched",
      async () => {
        const refused = await env.msb(["rm", "dev"]);
        expect(refused.code).toBe(4);
        expect(refused.stderr).toMatch(/^error: .*dev.*running/m);
        expect(await statusOf(env, "dev")).toBe("running");
        expect(existsSync(join(env.home.path, "sandboxes", "dev"))).toBe(true);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "files written survive stop + start; stop releases the supervisor, sockets, loop device and cgroup",
      async () => {
        expect((await exec("dev", ["sh", "-c", "echo kept > /root/persist; echo ok"])).stdout).toBe("ok\n");
        const before = await inspectSandbox(env, "dev");
        const upperDir = join(env.home.path, "sandboxes", "dev");
        expect(loopDevicesUnder(upperDir).length).toBeGreaterThan(0);

        const stopped = await env.msbOk(["stop", "dev"]);
        expect(stopped.stderr).toContain("Stopped");
        expect(await statusOf(env, "dev")).toBe("stopped");
        expect(await waitForExit(before.supervisor_pid!, 5_000)).toBe(true);
        expect(existsSync(join(env.home.path, "run", before.id))).toBe(false);
        expect(loopDevicesUnder(upperDir)).toEqual([]);
        for (const dir of sandboxCgroupDirs(before.id)) expect(existsSync(dir)).toBe(false);
        expect((await inspectSandbox(env, "dev")).supervisor_pid).toBeNull();
        expect((await lsJson(env, ["--stopped"])).map((row) => row.name)).toEqual(["dev"]);
        expect(JSON.parse((await env.msbOk(["ps", "--format", "json"])).stdout)).toEqual([]);
        expect(JSON.parse((await env.msbOk(["ps", "-a", "--format", "json"])).stdout)).toEqual([
          expect.objectContaining({ name: "dev", status: "stopped" }),
        ]);
        const started = await env.msbOk(["start", "dev"]);
        expect(started.stderr).toContain("Started");
        expect(await statusOf(env, "dev")).toBe("running");
        expect((await exec("dev", ["cat", "/root/persist"])).stdout).toBe("kept\n");
        // Starting a running sandbox is a conflict.
        expect((await env.msb(["start", "dev"])).code).toBe(4);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "stop -t gives up waiting and kills a command that ignores SIGTERM",
      async () => {
        await env.msbOk(["create", "--name", "stubborn", env.image]);
        try {
          const client = exec("stubborn", [
            "sh",
            "-c",
            "trap '' TERM; echo ready; while :; do sleep 1; done",
          ]);
          await Bun.sleep(500);
          const started = performance.now();
          await env.msbOk(["stop", "-t", "1", "stubborn"]);
          expect(performance.now() - started).toBeLessThan(8_000);
          expect(await statusOf(env, "stubborn")).toBe("stopped");
          const ended = await client;
          expect(ended.stdout).toBe("ready\n");
          expect(ended.code).not.toBe(0);
        } finally {
          await discard("stubborn");
        }
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "stop -f is immediate, and the sandbox is stopped (the user asked), not crashed",
      async () => {
        await env.msbOk(["create", "--name", "forced", env.image]);
        try {
          const { supervisor_pid: pid } = await inspectSandbox(env, "forced");
          const started = performance.now();
          await env.msbOk(["stop", "-f", "forced"]);
          expect(performance.now() - started).toBeLessThan(3_000);
          expect(await waitForExit(pid!, 5_000)).toBe(true);
          expect(await statusOf(env, "forced")).toBe("stopped");
          expect((await inspectSandbox(env, "forced")).supervisor_pid).toBeNull();
          // And it starts again.
          await env.msbOk(["start", "forced"]);
          expect((await exec("forced", ["echo", "back"])).stdout).toBe("back\n");
        } finally {
          await discard("forced");
        }
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "rm -f removes a running sandbox and its folder; a new one of that name starts empty",
      async () => {
        const { supervisor_pid: pid, id } = await inspectSandbox(env, "dev");
        const removed = await env.msbOk(["rm", "-f", "dev"]);
        expect(removed.stderr).toContain("Removed");
        expect(await statusOf(env, "dev")).toBeUndefined();
        expect(existsSync(join(env.home.path, "sandboxes", "dev"))).toBe(false);
        expect(await waitForExit(pid!, 5_000)).toBe(true);
        await env.msbOk(["create", "--name", "dev", env.image]);
        const result = await exec("dev", ["sh", "-c", "cat /root/persist 2>/dev/null || echo gone"]);
        expect(result.stdout).toBe("gone\n");
        await discard("dev");
        // The removed sandbox's runtime folder (its sockets) went with it.
        expect(existsSync(join(env.home.path, "run", id))).toBe(false);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "rm of several names removes each; stopped ones need no -f",
      async () => {
        await env.msbOk(["create", "--name", "one", env.image]);
        await env.msbOk(["create", "--name", "two", env.image]);
        await env.msbOk(["stop", "one", "two"]);
        expect([await statusOf(env, "one"), await statusOf(env, "two")]).toEqual(["stopped", "stopped"]);
        await env.msbOk(["rm", "one", "two"]);
        expect([await statusOf(env, "one"), await statusOf(env, "two")]).toEqual([undefined, undefined]);
        expect(existsSync(join(env.home.path, "sandboxes", "one"))).toBe(false);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("named msb run", () => {
    test(
      "persists the sandbox (left running), reuses it with a warning, restarts and re-stops a stopped one",
      async () => {
        const first = await env.msb([
          "run",
          "--name",
          "job",
          env.image,
          "--",
          "sh",
          "-c",
          "echo made > /root/m; hostname",
        ]);
        expect(first.stdout).toBe("job\n");
        expect(first.code).toBe(0);
        expect(await statusOf(env, "job")).toBe("running");
        expect(existsSync(join(env.home.path, "sandboxes", "job"))).toBe(true);

        const reused = await env.msb(["run", "--name", "job", "-m", "1G", env.image, "--", "cat", "/root/m"]);
        expect(reused.stdout).toBe("made\n");
        expect(reused.stderr).toMatch(/^warn: .*job/m);
        // The creation flags were ignored: still the default 512 MiB.
        expect((await inspectSandbox(env, "job")).config.memoryBytes).toBe(512 * 1024 * 1024);

        await env.msbOk(["stop", "job"]);
        const restarted = await env.msb(["run", "--name", "job", env.image, "--", "cat", "/root/m"]);
        expect(restarted.stdout).toBe("made\n");
        // This invocation started it, so it stopped it again.
        expect(await statusOf(env, "job")).toBe("stopped");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "--replace recreates the sandbox: fresh files, new flags",
      async () => {
        const replaced = await env.msb([
          "run",
          "--name",
          "job",
          "--replace",
          "-m",
          "1G",
          env.image,
          "--",
          "sh",
          "-c",
          "cat /root/m 2>/dev/null || echo fresh",
        ]);
        expect(replaced.stdout).toBe("fresh\n");
        expect(replaced.code).toBe(0);
        expect((await inspectSandbox(env, "job")).config.memoryBytes).toBe(GIB);
        expect((await lsJson(env)).filter((row) => row.name === "job")).toHaveLength(1);
        await discard("job");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "run -d prints the generated name and leaves the sandbox running",
      async () => {
        const detached = await env.msbOk(["run", "-d", env.image]);
        const name = detached.stdout.trim();
        expect(name).toMatch(/^msb-[0-9a-f]{8}$/);
        expect(await statusOf(env, name)).toBe("running");
        expect((await exec(name, ["hostname"])).stdout).toBe(`${name}\n`);
        await discard(name);
        expect(await statusOf(env, name)).toBeUndefined();
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("timers", () => {
    test(
      "--max-duration stops the sandbox by itself",
      async () => {
        const started = performance.now();
        await env.msbOk(["create", "--name", "brief", "--max-duration", "2s", env.image]);
        expect(await statusOf(env, "brief")).toBe("running");
        expect(await waitForStatus(env, "brief", ["stopped"], 15_000)).toBe("stopped");
        expect(performance.now() - started).toBeGreaterThan(1_500);
        const { id, exit_reason } = await inspectSandbox(env, "brief");
        expect(exit_reason).toBe("max-duration");
        expect(existsSync(join(env.home.path, "run", id))).toBe(false);
        await env.msbOk(["rm", "brief"]);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "--idle-timeout waits while an exec session is open, then stops the idle sandbox",
      async () => {
        await env.msbOk(["create", "--name", "idler", "--idle-timeout", "2s", env.image]);
        // Busy for longer than the idle timeout: the open session keeps it alive.
        const busy = await exec("idler", ["sh", "-c", "sleep 3.5; echo survived"]);
        expect(busy).toEqual({ code: 0, stdout: "survived\n", stderr: "" });
        expect(await statusOf(env, "idler")).toBe("running");
        const idleSince = performance.now();
        expect(await waitForStatus(env, "idler", ["stopped"], 15_000)).toBe("stopped");
        expect(performance.now() - idleSince).toBeGreaterThan(1_000);
        expect((await inspectSandbox(env, "idler")).exit_reason).toBe("idle-timeout");
        await env.msbOk(["rm", "idler"]);
      },
      TEST_TIMEOUT_MS,
    );
  });
});
