// Interactive sessions through a real pseudo-terminal (tests/helpers/pty.ts), on the namespace
// backend as root: `msb run -t -- sh` and `msb shell NAME` typed into like a user would (a
// command's output, the terminal size and a resize, Ctrl-C interrupting a guest command while
// the shell goes on, the exit status), the PTY chosen by default when stdin and stdout are
// terminals, --no-tty, and the local terminal left as it was found.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MSB_BINARY } from "../helpers/msb-cli.ts";
import { ICANON, type PtyProcess, spawnInPty } from "../helpers/pty.ts";
import { type SandboxEnv, sandboxSkipReason, setupSandboxEnv } from "../helpers/sandbox-fixtures.ts";

const skipReason = sandboxSkipReason("sandbox PTY sessions");
const TEST_TIMEOUT_MS = 60_000;
/** busybox ash's prompt for root in its home; it may be followed by a cursor position query. */
const PROMPT = "~ # ";
/** A line of command output in the terminal: guest and host line disciplines may both add \r. */
const outputLine = (text: string) => new RegExp(`\\n${text.replace(/[$()*+.?[\\\]^{|}]/g, "\\$&")}\\r*\\n`);

describe.skipIf(skipReason !== undefined)("PTY sessions (namespace backend)", () => {
  let env: SandboxEnv;
  const live: PtyProcess[] = [];

  function msbInPty(args: string[], size: { cols?: number; rows?: number } = {}): PtyProcess {
    const session = spawnInPty([MSB_BINARY, ...args], {
      ...size,
      env: {
        ...process.env,
        MSB_HOME: env.home.path,
        MSB_ISOLATION: "namespace",
        NO_COLOR: "1",
        TERM: "xterm",
      },
    });
    live.push(session);
    return session;
  }

  /** Types a line and waits until what the terminal shows after it matches `expected`. */
  async function typeAndWait(session: PtyProcess, line: string, expected: RegExp | string): Promise<void> {
    const mark = session.output().length;
    session.write(`${line}\r`);
    const deadline = Date.now() + 10_000;
    const matches = () => {
      const since = session.output().slice(mark);
      return typeof expected === "string" ? since.includes(expected) : expected.test(since);
    };
    while (!matches()) {
      if (Date.now() > deadline) {
        throw new Error(
          `after typing ${JSON.stringify(line)}, never saw ${expected}; got ${JSON.stringify(session.output().slice(mark))}`,
        );
      }
      await Bun.sleep(10);
    }
  }

  beforeAll(async () => {
    env = await setupSandboxEnv();
    await env.msbOk(["create", "--name", "term", env.image]);
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    for (const session of live) session.kill();
    await env?.cleanup();
  }, TEST_TIMEOUT_MS);

  test(
    "msb run -t -- sh: type, see the output, resize, Ctrl-C a guest command, exit with a status",
    async () => {
      const session = msbInPty(["run", "-t", env.image, "--", "sh"], { cols: 80, rows: 24 });
      await session.waitForOutput(PROMPT, 15_000);
      // The local terminal is raw while attached: keys go to the guest as they are typed.
      expect(session.localFlags() & ICANON).toBe(0);

      await typeAndWait(session, "echo $((6*7))", outputLine("42"));
      await typeAndWait(session, "stty size", outputLine("24 80"));
      session.resize(100, 30);
      await Bun.sleep(300);
      await typeAndWait(session, "stty size", outputLine("30 100"));

      session.write("sleep 100\r");
      await Bun.sleep(500);
      const interrupted = performance.now();
      session.write("\x03");
      await typeAndWait(session, "echo $((100+23))", outputLine("123"));
      expect(performance.now() - interrupted).toBeLessThan(5_000);

      session.write("exit 5\r");
      expect(await session.exited).toBe(5);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "msb shell NAME: an interactive shell on a terminal in the named sandbox",
    async () => {
      const session = msbInPty(["shell", "term"]);
      await session.waitForOutput(PROMPT, 15_000);
      await typeAndWait(session, "hostname", outputLine("term"));
      await typeAndWait(session, "tty", /\n\/dev\/pts\/\d+\r*\n/);
      await typeAndWait(session, "echo $((6*7))", outputLine("42"));
      session.write("exit\r");
      expect(await session.exited).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a PTY is used by default when stdin and stdout are terminals, with the terminal's size",
    async () => {
      const run = msbInPty(
        ["run", env.image, "--", "sh", "-c", "test -t 0 && test -t 1 && echo both-tty; stty size"],
        { cols: 120, rows: 40 },
      );
      expect(await run.exited).toBe(0);
      expect(run.output()).toMatch(/both-tty\r*\n40 120\r*\n/);
      const exec = msbInPty(["exec", "term", "--", "sh", "-c", "tty; exit 3"]);
      expect(await exec.exited).toBe(3);
      expect(exec.output()).toMatch(/\/dev\/pts\/\d+/);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "--no-tty forbids a PTY even on a terminal",
    async () => {
      const probe = "test -t 0 && echo in-tty || echo in-pipe; test -t 1 && echo out-tty || echo out-pipe";
      const run = msbInPty(["run", "--no-tty", env.image, "--", "sh", "-c", probe]);
      expect(await run.exited).toBe(0);
      expect(run.output()).toMatch(/in-pipe\r*\nout-pipe/);
      const exec = msbInPty(["exec", "--no-tty", "term", "--", "sh", "-c", probe]);
      expect(await exec.exited).toBe(0);
      expect(exec.output()).toMatch(/in-pipe\r*\nout-pipe/);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "the local terminal is restored after the session",
    async () => {
      const session = spawnInPty(
        ["sh", "-c", `'${MSB_BINARY}' run -t '${env.image}' -- true; echo "status $?"; stty -a`],
        {
          env: { ...process.env, MSB_HOME: env.home.path, MSB_ISOLATION: "namespace", NO_COLOR: "1" },
        },
      );
      live.push(session);
      expect(await session.exited).toBe(0);
      const output = session.output();
      expect(output).toContain("status 0");
      const flags = output.slice(output.indexOf("status 0"));
      expect(flags).toMatch(/(^|\s)icanon(\s|$)/m);
      expect(flags).toMatch(/(^|\s)echo(\s|$)/m);
      expect(flags).toMatch(/(^|\s)isig(\s|$)/m);
    },
    TEST_TIMEOUT_MS,
  );
});
