// runAttached with a terminal: a CLI process runs on a real pseudo-terminal (tests/helpers/pty.ts)
// and attaches to the exec server in this process. Raw mode must hold during the session and be
// restored after it; ^C is a byte for the guest's PTY; a local resize reaches the guest.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { serveExecSessions } from "../../src/agent/exec-server.ts";
import { listenUnix } from "../../src/protocol/channel-unix.ts";
import { ECHO, ICANON, ISIG, spawnInPty } from "../helpers/pty.ts";

const SRC = resolve(import.meta.dir, "../../src");
let dir: string;
let socketPath: string;
let cliScript: string;
let stopListening: () => void;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "msb-attach-tty-"));
  socketPath = join(dir, "agent.sock");
  const listener = await listenUnix(socketPath, (channel) => {
    serveExecSessions(channel, { baseEnv: ["PATH=/usr/bin:/bin"], defaultWorkdir: null, defaultUser: null });
  });
  stopListening = listener.close;
  cliScript = join(dir, "attach-cli.ts");
  // Stands in for `msb exec -t`: attaches with the real process stdio, then reports and lingers so
  // the test can read the terminal's flags after the session, and exits without process.exit().
  writeFileSync(
    cliScript,
    `
    import { connectUnix } from ${JSON.stringify(join(SRC, "protocol/channel-unix.ts"))};
    import { runAttached } from ${JSON.stringify(join(SRC, "sandbox/attach.ts"))};
    const [socketPath, argv] = process.argv.slice(2);
    const channel = await connectUnix(socketPath);
    const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, tty: true };
    const result = await runAttached(channel, { argv: JSON.parse(argv), env: [], tty: true }, io);
    channel.close();
    process.stdout.write("\\nDONE status=" + result.status + "\\n");
    await Bun.sleep(300);
    `,
  );
});

afterAll(() => {
  stopListening();
  rmSync(dir, { recursive: true, force: true });
});

function startCli(argv: string[], size = { cols: 80, rows: 24 }) {
  return spawnInPty([process.execPath, cliScript, socketPath, JSON.stringify(argv)], size);
}

const RAW_BITS = ICANON | ECHO | ISIG;

describe("runAttached with a terminal", () => {
  test("raw mode holds during the session and is restored after it", async () => {
    const cli = startCli(["sh", "-c", "echo attached; read line; echo got-$line"]);
    try {
      const cooked = cli.localFlags() & RAW_BITS;
      expect(cooked).toBe(RAW_BITS);
      await cli.waitForOutput("attached");
      expect(cli.localFlags() & RAW_BITS).toBe(0);
      cli.write("hi\r");
      await cli.waitForOutput("DONE status=0");
      expect(cli.output()).toContain("got-hi");
      expect(cli.localFlags() & RAW_BITS).toBe(RAW_BITS);
      expect(await Promise.race([cli.exited, Bun.sleep(5000).then(() => "still running")])).toBe(0);
    } finally {
      cli.kill();
    }
  }, 20_000);

  test("the guest gets the local size, a ^C byte interrupts it, and the status is 130", async () => {
    const cli = startCli(["sh", "-c", "stty size; exec sleep 100"], { cols: 97, rows: 31 });
    try {
      await cli.waitForOutput("31 97");
      await Bun.sleep(100);
      cli.write("\x03");
      await cli.waitForOutput("DONE status=130");
      expect(cli.localFlags() & RAW_BITS).toBe(RAW_BITS);
    } finally {
      cli.kill();
    }
  }, 20_000);

  test("resizing the local terminal resizes the guest's", async () => {
    const cli = startCli(["sh", "-c", "echo ready; read go; stty size"]);
    try {
      await cli.waitForOutput("ready");
      cli.resize(120, 40);
      await Bun.sleep(200);
      cli.write("\r");
      await cli.waitForOutput("DONE status=0");
      expect(cli.output()).toContain("40 120");
    } finally {
      cli.kill();
    }
  }, 20_000);
});
