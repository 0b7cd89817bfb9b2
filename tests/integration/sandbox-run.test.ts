// `msb run` end to end on the namespace backend, as root: images built here over the host's
// static busybox, pulled from a loopback registry, booted by the compiled dist/msb. Covers the
// attached command (stdout/stderr, stdin with EOF, exit statuses, signals, guest-side failures),
// what an unnamed run leaves behind (nothing), the OCI rules (ENTRYPOINT/CMD, Env, WorkingDir,
// User), every sandbox option the guest can observe, --pull, flag validation before anything is
// created, and the isolation the sandbox gets (pids, files, network, hostname).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MSB_BINARY, REPO_ROOT, tempDir } from "../helpers/msb-cli.ts";
import {
  expectNoHostLeftovers,
  homeEntries,
  lsJson,
  OCI_IMAGE_CONFIG,
  processesOfHome,
  type SandboxEnv,
  sandboxSkipReason,
  setupSandboxEnv,
} from "../helpers/sandbox-fixtures.ts";

const skipReason = sandboxSkipReason("sandbox run");
const TEST_TIMEOUT_MS = 60_000;

/** Nothing of any sandbox is left: no row, no folder, no runtime dir, no process, loop or mount. */
async function expectNothingLeft(env: SandboxEnv): Promise<void> {
  expect(await lsJson(env)).toEqual([]);
  expect(homeEntries(env, "sandboxes")).toEqual([]);
  expect(homeEntries(env, "run")).toEqual([]);
  expect(await expectNoHostLeftovers(env)).toEqual({ loops: [], mounts: [] });
  const deadline = Date.now() + 3_000;
  while (processesOfHome(env).length > 0 && Date.now() < deadline) await Bun.sleep(50);
  expect(processesOfHome(env)).toEqual([]);
}

describe.skipIf(skipReason !== undefined)("msb run (namespace backend)", () => {
  let env: SandboxEnv;
  const run = (args: string[], options: Parameters<SandboxEnv["msb"]>[1] = {}) =>
    env.msb(["run", ...args], options);
  /** `msb run <plain image> -- sh -c <script>` */
  const sh = (script: string, flags: string[] = [], options: Parameters<SandboxEnv["msb"]>[1] = {}) =>
    run([...flags, env.image, "--", "sh", "-c", script], options);

  /** Starts `msb run`, waits for "ready" on stdout, sends `signal` to msb, returns how it ended. */
  async function signalRun(command: string[], signal: NodeJS.Signals) {
    const child = Bun.spawn([MSB_BINARY, "run", env.image, "--", ...command], {
      env: { ...process.env, MSB_HOME: env.home.path, MSB_ISOLATION: "namespace", NO_COLOR: "1" },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    const reader = child.stdout.getReader();
    let stdout = "";
    while (!stdout.includes("ready\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += new TextDecoder().decode(value);
    }
    child.kill(signal);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += new TextDecoder().decode(value);
    }
    const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    return { code, stdout, stderr };
  }

  beforeAll(async () => {
    env = await setupSandboxEnv({ pullOciImage: true });
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await env?.cleanup();
  }, TEST_TIMEOUT_MS);

  describe("the attached command", () => {
    test(
      "stdout and stderr arrive separately and the exit status is the command's",
      async () => {
        const result = await sh("echo to-out; echo to-err >&2; echo more-out; exit 3");
        expect(result.stdout).toBe("to-out\nmore-out\n");
        expect(result.stderr).toBe("to-err\n");
        expect(result.code).toBe(3);
        const ok = await run([env.image, "--", "echo", "hello", "world"]);
        expect(ok).toEqual({ code: 0, stdout: "hello world\n", stderr: "" });
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "piped stdin reaches the command byte for byte, then EOF",
      async () => {
        const payload = randomBytes(1024 * 1024);
        const digest = createHash("sha256").update(payload).digest("hex");
        const result = await sh("sha256sum | cut -d' ' -f1; echo after-eof", [], { stdin: payload });
        expect(result.stderr).toBe("");
        expect(result.stdout).toBe(`${digest}\nafter-eof\n`);
        expect(result.code).toBe(0);
        // Without piped input the command sees EOF at once instead of hanging.
        expect((await run([env.image, "--", "cat"])).code).toBe(0);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "large output is not truncated",
      async () => {
        const result = await sh("dd if=/dev/zero bs=65536 count=64 2>/dev/null; echo done >&2");
        expect(result.code).toBe(0);
        expect(result.stdout.length).toBe(4 * 1024 * 1024);
        expect(result.stderr).toBe("done\n");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "a command killed by signal N exits 128+N",
      async () => {
        expect((await sh("kill -KILL $$")).code).toBe(137);
        expect((await sh("kill -TERM $$")).code).toBe(143);
        expect((await sh("kill -SEGV $$")).code).toBe(139);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "SIGINT and SIGTERM to msb run (no terminal) reach the guest command",
      async () => {
        const script = "trap 'echo got-int; exit 9' INT; echo ready; while :; do sleep 0.1; done";
        const trapped = await signalRun(["sh", "-c", script], "SIGINT");
        expect(trapped.stdout).toBe("ready\ngot-int\n");
        expect(trapped.code).toBe(9);
        const terminated = await signalRun(["sh", "-c", "echo ready; exec sleep 100"], "SIGTERM");
        expect(terminated.code).toBe(143);
        await expectNothingLeft(env);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "an unnamed run is ephemeral: no row, no folder, no runtime dir, no process, loop device or mount",
      async () => {
        const result = await sh("echo ran > /root/file; cat /root/file");
        expect(result.stdout).toBe("ran\n");
        await expectNothingLeft(env);
        // A failing command cleans up the same way.
        expect((await run([env.image, "--", "no-such-command"])).code).toBe(127);
        await expectNothingLeft(env);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "the image's CMD runs when no command is given (here /bin/sh reading the piped script)",
      async () => {
        const result = await run([env.image], { stdin: "echo from-cmd-shell; exit 4\n" });
        expect(result.stdout).toBe("from-cmd-shell\n");
        expect(result.code).toBe(4);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("guest command failures: distinct statuses and an error line", () => {
    const cases: { what: string; flags: string[]; command: string[]; status: number; message: RegExp }[] = [
      {
        what: "command not found",
        flags: [],
        command: ["no-such-command"],
        status: 127,
        message: /no-such-command/,
      },
      {
        what: "command not executable",
        flags: [],
        command: ["/usr/bin/not-exec"],
        status: 126,
        message: /not-exec/,
      },
      {
        what: "a directory as the command",
        flags: [],
        command: ["/tmp"],
        status: 126,
        message: /\/tmp/,
      },
      {
        what: "missing working directory",
        flags: ["-w", "/nope"],
        command: ["pwd"],
        status: 122,
        message: /\/nope/,
      },
      { what: "unknown user", flags: ["-u", "bogus"], command: ["id"], status: 123, message: /bogus/ },
      {
        what: "spawn failure (exec format error)",
        flags: [],
        command: ["/usr/bin/bad-format"],
        status: 125,
        message: /bad-format|exec format|ENOEXEC/i,
      },
    ];
    for (const { what, flags, command, status, message } of cases) {
      test(
        `${what} → ${status}`,
        async () => {
          const result = await run([...flags, env.image, "--", ...command]);
          expect(result.stdout).toBe("");
          expect(result.stderr).toMatch(/^error: /m);
          expect(result.stderr).toMatch(message);
          expect(result.code).toBe(status);
        },
        TEST_TIMEOUT_MS,
      );
    }

    test(
      "--timeout kills the command: 124 with an error line, long before the command would end",
      async () => {
        const started = performance.now();
        const result = await run(["--timeout", "1s", env.image, "--", "sleep", "30"]);
        const elapsed = performance.now() - started;
        expect(result.code).toBe(124);
        expect(result.stderr).toMatch(/^error: .*time/m);
        expect(elapsed).toBeGreaterThan(900);
        expect(elapsed).toBeLessThan(10_000);
        await expectNothingLeft(env);
        // A command that ends in time is not affected.
        expect((await run(["--timeout", "10s", env.image, "--", "echo", "quick"])).stdout).toBe("quick\n");
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("terminal choice without a terminal", () => {
    test(
      "pipes by default; -t forces a PTY in the guest",
      async () => {
        const probe = "test -t 0 && echo in-tty || echo no-tty; test -t 1 && echo out-tty || echo out-pipe";
        const piped = await sh(probe);
        expect(piped.stdout).toBe("no-tty\nout-pipe\n");
        const forced = await sh(probe, ["-t"]);
        expect(forced.code).toBe(0);
        expect(forced.stdout.replaceAll("\r\n", "\n")).toBe("in-tty\nout-tty\n");
        const forbidden = await sh(probe, ["--no-tty"]);
        expect(forbidden.stdout).toBe("no-tty\nout-pipe\n");
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("OCI rules of the image config", () => {
    test(
      "no command: ENTRYPOINT + CMD run with the image's Env, WorkingDir and User",
      async () => {
        const result = await run([env.ociImage]);
        expect(result.stderr).toBe("");
        expect(result.stdout).toBe("default cmd as 1000 in /srv/app with image-value\n");
        expect(result.code).toBe(0);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "a command after -- replaces CMD and keeps ENTRYPOINT (/bin/sh -c)",
      async () => {
        // sh -c SCRIPT a b: $0 and $1 are the words after the script.
        const result = await run([env.ociImage, "--", 'echo "replaced $0 $1"', "first", "second"]);
        expect(result.stdout).toBe("replaced first second\n");
        const identity = await run([env.ociImage, "--", "id -u; id -g; pwd; echo $HOME"]);
        expect(identity.stdout).toBe("1000\n1000\n/srv/app\n/home/user\n");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "--entrypoint replaces ENTRYPOINT; the image's CMD is dropped with it",
      async () => {
        const withCommand = await run(["--entrypoint", "/bin/echo", env.ociImage, "--", "hello", "there"]);
        expect(withCommand.stdout).toBe("hello there\n");
        const withoutCommand = await run(["--entrypoint", "/bin/echo", env.ociImage]);
        expect(withoutCommand.stdout).toBe("\n");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "image Env is kept, -e overrides it and adds to it",
      async () => {
        const result = await run([
          "-e",
          "OVERRIDE_ME=cli",
          "-e",
          "ADDED=yes",
          env.ociImage,
          "--",
          'echo "$FROM_IMAGE $OVERRIDE_ME $ADDED"; echo $PATH',
        ]);
        const [values, path] = result.stdout.split("\n");
        expect(values).toBe("image-value cli yes");
        // The image's PATH, after the folder of --script programs.
        expect(path).toEndWith(OCI_IMAGE_CONFIG.env[0]!.slice("PATH=".length));
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "the host's environment does not reach the command",
      async () => {
        const result = await run([env.ociImage, "--", "env"], {
          env: { HOST_ONLY_MARKER: "host-only-value" },
        });
        expect(result.code).toBe(0);
        expect(result.stderr).toBe("");
        expect(result.stdout).toContain("FROM_IMAGE=image-value");
        expect(result.stdout).not.toContain("host-only-value");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "-w and -u override the image's WorkingDir and User",
      async () => {
        const result = await run(["-w", "/tmp", "-u", "root", env.ociImage, "--", "id -u; pwd"]);
        expect(result.stdout).toBe("0\n/tmp\n");
        const numeric = await run(["-u", "65534:65534", env.ociImage, "--", "id -u; id -g"]);
        expect(numeric.stdout).toBe("65534\n65534\n");
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("sandbox options seen from the guest", () => {
    test(
      "-e KEY=VALUE keeps '=' and spaces; bare -e KEY copies the host's value",
      async () => {
        const result = await sh(
          'printf "%s|%s\\n" "$ONE" "$FROM_HOST"',
          ["-e", "ONE=a=b c", "-e", "FROM_HOST"],
          { env: { FROM_HOST: "host value" } },
        );
        expect(result.stdout).toBe("a=b c|host value\n");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "-w and -u on the plain image; the default user is root",
      async () => {
        expect((await sh("id -u; pwd", ["-w", "/srv/app"])).stdout).toBe("0\n/srv/app\n");
        expect((await sh("id -un; id -u; id -g", ["-u", "user"])).stdout).toBe("user\n1000\n1000\n");
        expect((await sh("id -u; id -g", ["-u", "1000:65534"])).stdout).toBe("1000\n65534\n");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "hostname: msb-<8 hex> for an unnamed run, -H sets it, --name names it",
      async () => {
        const unnamed = (await sh("hostname")).stdout;
        expect(unnamed).toMatch(/^msb-[0-9a-f]{8}\n$/);
        expect((await sh("hostname; cat /etc/hostname", ["-H", "custom-host"])).stdout).toBe(
          "custom-host\ncustom-host\n",
        );
        const named = await sh("hostname", ["--name", "named-host"]);
        expect(named.stdout).toBe("named-host\n");
        // A named run persists (see sandbox-lifecycle); remove it the plain way.
        await env.msb(["stop", "named-host"]);
        await env.msbOk(["rm", "named-host"]);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "-v binds a host directory read-write, and :ro read-only",
      async () => {
        const share = await tempDir("msb-e2e-share");
        const readOnly = await tempDir("msb-e2e-ro");
        try {
          writeFileSync(join(share.path, "from-host"), "host data\n");
          writeFileSync(join(readOnly.path, "readme"), "read only\n");
          const result = await sh(
            "cat /data/from-host; echo guest data > /data/from-guest; cat /ro/readme; echo x > /ro/new && echo wrote-ro",
            ["-v", `${share.path}:/data`, "-v", `${readOnly.path}:/ro:ro`],
          );
          expect(result.stdout).toBe("host data\nread only\n");
          expect(result.stderr).toMatch(/Read-only file system/);
          expect(result.code).not.toBe(0);
          expect(readFileSync(join(share.path, "from-guest"), "utf8")).toBe("guest data\n");
          expect(existsSync(join(readOnly.path, "new"))).toBe(false);
        } finally {
          await share.remove();
          await readOnly.remove();
        }
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "-v ./relative:/guest and --script NAME:./relative resolve against msb's working directory",
      async () => {
        const cwd = await tempDir("msb-e2e-cwd");
        try {
          mkdirSync(join(cwd.path, "project"));
          writeFileSync(join(cwd.path, "project", "file.txt"), "relative mount\n");
          writeFileSync(join(cwd.path, "hello.sh"), '#!/bin/sh\necho hello from script "$@"\n');
          const result = await env.msbIn(cwd.path, [
            "run",
            "-v",
            "./project:/project",
            "--script",
            "greet:./hello.sh",
            env.image,
            "--",
            "sh",
            "-c",
            "cat /project/file.txt; greet a b; cat /.msb/scripts/greet",
          ]);
          expect(result.stderr).toBe("");
          expect(result.stdout).toBe(
            'relative mount\nhello from script a b\n#!/bin/sh\necho hello from script "$@"\n',
          );
        } finally {
          await cwd.remove();
        }
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "--tmpfs mounts a tmpfs, with the size asked for",
      async () => {
        const result = await sh("grep -E ' /(scratch|plain) ' /proc/mounts | cut -d' ' -f2,3,4", [
          "--tmpfs",
          "/scratch:8M",
          "--tmpfs",
          "/plain",
        ]);
        const lines = result.stdout.trim().split("\n").sort();
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatch(/^\/plain tmpfs /);
        expect(lines[1]).toMatch(/^\/scratch tmpfs .*size=8192k/);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "the command runs in the sandbox's own cgroup",
      async () => {
        const result = await sh("cat /proc/self/cgroup", ["-m", "256M", "-c", "1"]);
        expect(result.stdout).toMatch(/\/msb\/[^/\s]+/);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("isolation", () => {
    test(
      "the sandbox sees only its own processes; the agent is PID 1",
      async () => {
        const result = await sh("ps -o pid,args; echo ---; cat /proc/1/cmdline | tr '\\0' ' '");
        const [table = "", pid1 = ""] = result.stdout.split("---\n");
        const rows = table.trim().split("\n").slice(1);
        const pids = rows.map((row) => Number(row.trim().split(/\s+/)[0]));
        expect(pids).toContain(1);
        expect(rows.length).toBeLessThan(10);
        expect(Math.max(...pids)).toBeLessThan(1000);
        expect(pid1).toContain(" agent ");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "host files are not visible, only the image's root",
      async () => {
        const secret = join(tmpdir(), `msb-e2e-secret-${process.pid}`);
        writeFileSync(secret, "host secret\n");
        try {
          const check = (path: string) => `test -e '${path}' && echo visible || echo hidden`;
          const result = await sh([check(secret), check(REPO_ROOT), check(env.home.path)].join("; "));
          expect(result.stdout).toBe("hidden\nhidden\nhidden\n");
          const root = (await sh("ls /")).stdout.trim().split("\n");
          expect(root).toEqual(expect.arrayContaining(["bin", "etc", "srv", "tmp", "proc"]));
          expect(root).not.toContain("work");
          expect((await sh("cat /srv/app/marker")).stdout).toBe("image workdir\n");
        } finally {
          rmSync(secret, { force: true });
        }
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "with --no-network the only network interface is lo",
      async () => {
        expect((await sh("ls /sys/class/net", ["--no-network"])).stdout).toBe("lo\n");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "writes go to the sandbox's own layer, never into the image",
      async () => {
        expect((await sh("echo changed > /srv/app/marker; rm /bin/true; echo ok")).stdout).toBe("ok\n");
        expect((await sh("cat /srv/app/marker; test -e /bin/true && echo true-there")).stdout).toBe(
          "image workdir\ntrue-there\n",
        );
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("--pull", () => {
    test(
      "never: a pulled image runs; a missing one fails with exit 3 and creates nothing",
      async () => {
        expect((await run(["--pull", "never", env.image, "--", "true"])).code).toBe(0);
        const missing = await run(["--pull", "never", env.unpulledImage, "--", "true"]);
        expect(missing.code).toBe(3);
        expect(missing.stderr).toMatch(/^error: .*not found/m);
        await expectNothingLeft(env);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "if-missing pulls an image that is not there, then runs it",
      async () => {
        const result = await run(["--pull", "if-missing", env.unpulledImage, "--", "echo", "pulled"]);
        expect(result.code).toBe(0);
        expect(result.stdout).toBe("pulled\n");
        expect((await env.msbOk(["images", "-q"])).stdout).toContain("busybox-unpulled");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "always asks the registry again even when the image is stored",
      async () => {
        const manifestGets = async () =>
          (await env.registry.requests()).filter((line) =>
            /^(GET|HEAD) \/v2\/test\/busybox-plain\/manifests\//.test(line),
          ).length;
        const before = await manifestGets();
        expect((await run(["--pull", "if-missing", env.image, "--", "true"])).code).toBe(0);
        expect(await manifestGets()).toBe(before);
        expect((await run(["--pull", "always", env.image, "--", "true"])).code).toBe(0);
        expect(await manifestGets()).toBeGreaterThan(before);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("invalid flags are rejected (exit 2) before anything is created", () => {
    const invalid: [string, string[]][] = [
      ["name with a slash", ["--name", "bad/name"]],
      ["name with a space", ["--name", "bad name"]],
      ["name too long", ["--name", "n".repeat(64)]],
      ["memory not a size", ["-m", "lots"]],
      ["memory zero", ["-m", "0"]],
      ["memory too small", ["-m", "1K"]],
      ["cpus zero", ["-c", "0"]],
      ["cpus not a number", ["-c", "many"]],
      ["max-duration not a duration", ["--max-duration", "soon"]],
      ["idle-timeout zero", ["--idle-timeout", "0"]],
      ["volume without a guest path", ["-v", "nocolon"]],
      ["volume with a missing host path", ["-v", "/definitely/not/here:/data"]],
      ["volume with a relative guest path", ["-v", "/tmp:data"]],
      ["volume over /proc", ["-v", "/tmp:/proc"]],
      ["volume with a bad mode", ["-v", "/tmp:/data:rx"]],
      ["tmpfs with a relative path", ["--tmpfs", "scratch"]],
      ["tmpfs with a bad size", ["--tmpfs", "/scratch:huge"]],
      ["two mounts on one path", ["-v", "/tmp:/data", "--tmpfs", "/data"]],
      ["env with a bad name", ["-e", "1BAD=x"]],
      ["env with an empty name", ["-e", "=x"]],
      ["bare env not set on the host", ["-e", "MSB_E2E_SURELY_UNSET_VARIABLE"]],
      ["user with two colons", ["-u", "a:b:c"]],
      ["workdir not absolute", ["-w", "relative/dir"]],
      ["hostname with an underscore", ["-H", "bad_host"]],
      ["pull policy", ["--pull", "sometimes"]],
      ["isolation", ["--isolation", "bogus"]],
      ["script without a path", ["--script", "noseparator"]],
      ["script with a missing file", ["--script", "x:/definitely/not/here.sh"]],
    ];

    test(
      "msb run and msb create",
      async () => {
        // Never pushed: an attempt to pull it first would fail with 3, not 2.
        const image = `${env.registry.host}/test/never-pushed:latest`;
        const failures: string[] = [];
        for (const [what, flags] of invalid) {
          for (const command of [
            ["run", ...flags, image, "--", "true"],
            ["create", ...(flags.includes("--name") ? [] : ["--name", "valid-name"]), ...flags, image],
          ]) {
            const result = await env.msb(command);
            if (result.code !== 2 || !/^error: /m.test(result.stderr)) {
              failures.push(`${what}: msb ${command.join(" ")} → ${result.code}: ${result.stderr.trim()}`);
            }
          }
        }
        const runTimeout = await env.msb(["run", "--timeout", "forever", image, "--", "true"]);
        if (runTimeout.code !== 2) failures.push(`run --timeout forever → ${runTimeout.code}`);
        expect(failures).toEqual([]);
        await expectNothingLeft(env);
      },
      TEST_TIMEOUT_MS,
    );
  });
});
