// `msb install` end to end on the namespace backend: shims in $MSB_HOME/bin run by path the way
// a user's shell or the kernel (shebang) runs them, with the compiled dist/msb behind them.
// Covers arguments, stdin, stdout/stderr and the exit status through a shim; a shebang script
// with relative paths (read-only by default, --writable); --persist reusing one sandbox (and
// starting it again when stopped); --list; shadowing a PATH command only with --force; and
// uninstall/reinstall never touching a file msb did not write.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TempDir, tempDir } from "../helpers/msb-cli.ts";
import {
  inspectSandbox,
  lsJson,
  type SandboxEnv,
  sandboxSkipReason,
  setupSandboxEnv,
  statusOf,
} from "../helpers/sandbox-fixtures.ts";

const skipReason = sandboxSkipReason("msb install");
const TEST_TIMEOUT_MS = 60_000;

describe.skipIf(skipReason !== undefined)("msb install (namespace backend)", () => {
  let env: SandboxEnv;
  let work: TempDir;
  let bin: string;

  /** `msb install --isolation namespace ...`: the shim must carry the flag, not the environment. */
  const install = (args: string[]) => env.msb(["install", "--isolation", "namespace", ...args]);

  /** Runs `argv[0]` as a program (a shim or a script), with $MSB_HOME/bin first on PATH. */
  async function runProgram(argv: string[], options: { cwd?: string; stdin?: string } = {}) {
    const { MSB_HOME: _home, MSB_ISOLATION: _isolation, ...inherited } = process.env;
    const child = Bun.spawn(argv, {
      cwd: options.cwd ?? work.path,
      env: { ...inherited, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: "1" },
      stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
      stdout: "pipe",
      stderr: "pipe",
      timeout: 45_000,
    });
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    return { code, stdout, stderr };
  }

  beforeAll(async () => {
    env = await setupSandboxEnv();
    work = await tempDir("msb-install-work");
    bin = join(env.home.path, "bin");
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await env?.cleanup();
    await work?.remove();
  }, TEST_TIMEOUT_MS);

  test(
    "a shim forwards its arguments, stdin, stdout, stderr and exit status; nothing is left behind",
    async () => {
      const script = 'printf "args:%s|" "$@"; echo; cat; echo oops >&2; exit 7';
      const installed = await install(["--name", "echoer", env.image, "--", "sh", "-c", script, "sh"]);
      expect(installed.code).toBe(0);
      const shim = readFileSync(join(bin, "echoer"), "utf8");
      expect(shim.split("\n")[1]).toStartWith("# msb-install-shim format=1 msb=");

      const result = await runProgram([join(bin, "echoer"), "a", "b c", "$HOME"], { stdin: "piped in\n" });
      expect(result.stdout).toBe("args:a|args:b c|args:$HOME|\npiped in\n");
      expect(result.stderr).toBe("oops\n");
      expect(result.code).toBe(7);
      expect(await lsJson(env)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "without --name or a command, the image's own command and name are used",
    async () => {
      // The plain image's CMD is /bin/sh: a shell names nothing, so the repository does.
      expect((await install([env.image])).code).toBe(0);
      const result = await runProgram(["busybox-plain", "-c", "echo from the default command"]);
      expect(result).toEqual({ code: 0, stdout: "from the default command\n", stderr: "" });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "the install's run flags are replayed: -v relative to where msb install ran, -e",
    async () => {
      mkdirSync(join(work.path, "shared"), { recursive: true });
      writeFileSync(join(work.path, "shared", "note.txt"), "shared note\n");
      const flags = ["-v", "./shared:/input:ro", "-e", "GREETING=hello", "--isolation", "namespace"];
      const script = 'cat /input/note.txt; echo "$GREETING"';
      const installed = await env.msbIn(work.path, [
        "install",
        ...flags,
        "--name",
        "flagged",
        env.image,
        "--",
        "sh",
        "-c",
        script,
      ]);
      expect(installed.code).toBe(0);
      // Run from /, which is never mounted over the guest's root.
      const result = await runProgram([join(bin, "flagged")], { cwd: "/" });
      expect(result).toEqual({ code: 0, stdout: "shared note\nhello\n", stderr: "" });
    },
    TEST_TIMEOUT_MS,
  );

  describe("shebang scripts", () => {
    let project: string;

    beforeAll(async () => {
      expect((await install(["--name", "shbox", env.image, "--", "sh"])).code).toBe(0);
      project = join(work.path, "project");
      mkdirSync(join(project, "data"), { recursive: true });
      mkdirSync(join(work.path, "tools"), { recursive: true });
      writeFileSync(join(project, "data", "input.txt"), "host data\n");
    }, TEST_TIMEOUT_MS);

    const body = [
      'echo "pwd=$(pwd)"',
      "cat data/input.txt",
      'echo "args=$*"',
      "if (echo x > written.txt) 2>/dev/null; then echo wrote; else echo read-only; fi",
      "exit 3",
      "",
    ].join("\n");

    test(
      "#!/usr/bin/env NAME: ./script args sees the working directory and relative paths, read-only",
      async () => {
        const script = join(project, "run.sh");
        writeFileSync(script, `#!/usr/bin/env shbox\n${body}`, { mode: 0o755 });
        const result = await runProgram(["./run.sh", "one", "two"], { cwd: project });
        expect(result.stderr).toBe("");
        expect(result.stdout).toBe(`pwd=${project}\nhost data\nargs=one two\nread-only\n`);
        expect(result.code).toBe(3);
        expect(existsSync(join(project, "written.txt"))).toBe(false);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "#!$MSB_HOME/bin/NAME from another directory: the script's directory is mounted too",
      async () => {
        const script = join(work.path, "tools", "tool.sh");
        writeFileSync(script, `#!${join(bin, "shbox")}\n${body}`, { mode: 0o755 });
        const result = await runProgram(["../tools/tool.sh", "x"], { cwd: project });
        expect(result.stdout).toBe(`pwd=${project}\nhost data\nargs=x\nread-only\n`);
        expect(result.code).toBe(3);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "--writable: the script writes into the host's working directory",
      async () => {
        expect((await install(["--writable", "--name", "shbox-rw", env.image, "--", "sh"])).code).toBe(0);
        writeFileSync(join(project, "write.sh"), `#!/usr/bin/env shbox-rw\n${body}`, { mode: 0o755 });
        const result = await runProgram(["./write.sh"], { cwd: project });
        expect(result.stdout).toBe(`pwd=${project}\nhost data\nargs=\nwrote\n`);
        expect(readFileSync(join(project, "written.txt"), "utf8")).toBe("x\n");
      },
      TEST_TIMEOUT_MS,
    );
  });

  test(
    "--persist keeps one sandbox: later calls reuse it, and start it again when stopped",
    async () => {
      const check = 'if [ -e /state ]; then echo "reused $*"; else touch /state; echo "fresh $*"; fi';
      const installed = await install([
        "--persist",
        "--name",
        "keeper",
        env.image,
        "--",
        "sh",
        "-c",
        check,
        "sh",
      ]);
      expect(installed.code).toBe(0);
      const keeper = join(bin, "keeper");

      expect(await runProgram([keeper, "1"])).toEqual({ code: 0, stdout: "fresh 1\n", stderr: "" });
      const first = await inspectSandbox(env, "msb-install-keeper");
      expect(first.status).toBe("running");
      expect(await runProgram([keeper, "2"])).toEqual({ code: 0, stdout: "reused 2\n", stderr: "" });
      const second = await inspectSandbox(env, "msb-install-keeper");
      expect([second.id, second.supervisor_pid]).toEqual([first.id, first.supervisor_pid]);

      await env.msbOk(["stop", "msb-install-keeper"]);
      expect(await runProgram([keeper, "3"])).toEqual({ code: 0, stdout: "reused 3\n", stderr: "" });
      expect(await statusOf(env, "msb-install-keeper")).toBe("running");
      expect((await lsJson(env)).map((row) => row.name)).toEqual(["msb-install-keeper"]);

      const removed = await env.msb(["uninstall", "keeper"]);
      expect(removed.code).toBe(0);
      expect(existsSync(keeper)).toBe(false);
      expect(await lsJson(env)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  test("--list shows NAME IMAGE MODE COMMAND, and JSON with --format json", async () => {
    await install(["--persist", "--name", "listed", env.image, "--", "echo", "hi there"]);
    const table = await env.msbOk(["install", "--list"]);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]?.split(/\s+/)).toEqual(["NAME", "IMAGE", "MODE", "COMMAND"]);
    expect(lines.find((line) => line.startsWith("listed "))?.split(/\s+/)).toEqual([
      "listed",
      env.image,
      "persist",
      "echo",
      "hi",
      "there",
    ]);
    const json = JSON.parse((await env.msbOk(["install", "--list", "--format", "json"])).stdout) as {
      name: string;
      image: string;
      mode: string;
      command: string[];
    }[];
    expect(json.find((entry) => entry.name === "listed")).toMatchObject({
      image: env.image,
      mode: "persist",
      command: ["echo", "hi there"],
    });
    expect(json.find((entry) => entry.name === "echoer")?.mode).toBe("ephemeral");
    await env.msbOk(["uninstall", "listed"]);
  });

  test("a name that shadows a command on PATH needs --force", async () => {
    const refused = await install(["--name", "ls", env.image, "--", "ls"]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/^error: 'ls' would shadow \/\S+\/ls on PATH\n/);
    expect(existsSync(join(bin, "ls"))).toBe(false);

    const forced = await install(["--force", "--name", "ls", env.image, "--", "ls"]);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain("shadows");
    expect(existsSync(join(bin, "ls"))).toBe(true);
    await env.msbOk(["uninstall", "ls"]);
  });

  test("a secret's value is never written into a shim; the ENV@HOST form is kept", async () => {
    const refused = await install(["--name", "leaky", "--secret", "TOKEN=real-value@api.test", env.image]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toStartWith("error: --secret TOKEN=...:");
    expect(refused.stderr).not.toContain("real-value");
    expect(existsSync(join(bin, "leaky"))).toBe(false);

    await env.msbOk(["install", "--name", "tokened", "--secret", "TOKEN@api.test", env.image, "--", "true"], {
      env: { TOKEN: "from-the-environment" },
    });
    const shim = readFileSync(join(bin, "tokened"), "utf8");
    expect(shim).toContain("TOKEN@api.test");
    expect(shim).not.toContain("from-the-environment");
    await env.msbOk(["uninstall", "tokened"]);
  });

  test("an installed name is replaced only with --force", async () => {
    await env.msbOk(["install", "--name", "twice", env.image, "--", "echo", "one"]);
    const again = await env.msb(["install", "--name", "twice", env.image, "--", "echo", "two"]);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain("already installed");
    await env.msbOk(["install", "--force", "--name", "twice", env.image, "--", "echo", "two"]);
    const listed = JSON.parse((await env.msbOk(["install", "--list", "--format", "json"])).stdout) as {
      name: string;
      command: string[];
    }[];
    expect(listed.find((entry) => entry.name === "twice")?.command).toEqual(["echo", "two"]);
    await env.msbOk(["uninstall", "twice"]);
  });

  test("a file msb did not write is never removed or replaced", async () => {
    mkdirSync(bin, { recursive: true });
    const foreign = join(bin, "mine");
    writeFileSync(foreign, "#!/bin/sh\necho mine\n", { mode: 0o755 });

    const removed = await env.msb(["uninstall", "mine"]);
    expect(removed.code).toBe(4);
    expect(removed.stderr.split("\n")[0]).toBe(
      `error: ${foreign} was not written by 'msb install'; not removing it`,
    );
    const replaced = await install(["--force", "--name", "mine", env.image, "--", "true"]);
    expect(replaced.code).toBe(4);
    expect(replaced.stderr).toContain("not written by 'msb install'; not replacing it");
    expect(readFileSync(foreign, "utf8")).toBe("#!/bin/sh\necho mine\n");

    const missing = await env.msb(["uninstall", "never-installed"]);
    expect(missing.code).toBe(3);
    expect((await env.msb(["uninstall", "../msb.db"])).code).toBe(2);
  });
});
