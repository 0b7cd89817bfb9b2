// The agent's exec server, in process over a real unix socket: output separation and ordering,
// stdin, exit statuses and signals, every failure kind, environment layering, user switching,
// timeouts, process-group signalling, concurrency, PTY sessions and complete output before exited.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ExecServer, serveExecSessions } from "../../src/agent/exec-server.ts";
import type { FrameChannel } from "../../src/protocol/channel.ts";
import { connectUnix, listenUnix } from "../../src/protocol/channel-unix.ts";
import { decodeJson } from "../../src/protocol/frame.ts";
import { type ExecRequest, type Exited, type Frame, FrameKind } from "../../src/protocol/messages.ts";

const isRoot = process.getuid?.() === 0;
let dir: string;
let client: FrameChannel;
let server: ExecServer;
let stopListening: () => void;
const handlers = new Map<number, (frame: Frame) => void>();
let nextSession = 1;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "msb-exec-"));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, "scripts"));
  writeFileSync(join(dir, "scripts", "hello-script"), "#!/bin/sh\necho from-script\n", { mode: 0o755 });
  writeFileSync(join(dir, "not-executable"), "#!/bin/sh\necho no\n", { mode: 0o644 });
  let accept!: (channel: FrameChannel) => void;
  const accepted = new Promise<FrameChannel>((resolve) => (accept = resolve));
  const listener = await listenUnix(join(dir, "agent.sock"), accept);
  stopListening = listener.close;
  client = await connectUnix(join(dir, "agent.sock"));
  client.onFrame = (frame) => handlers.get(frame.session)?.(frame);
  const agentSide = await accepted;
  server = serveExecSessions(agentSide, {
    baseEnv: ["PATH=/usr/bin:/bin", "BASE_ONLY=base", "OVERRIDDEN=base"],
    defaultWorkdir: null,
    defaultUser: null,
    extraPath: join(dir, "scripts"),
  });
});

afterAll(() => {
  client.close();
  stopListening();
  rmSync(dir, { recursive: true, force: true });
});

interface SessionResult {
  session: number;
  pid: number | null;
  stdout: string;
  stderr: string;
  /** Kinds of the frames in arrival order, stream frames collapsed. */
  order: string[];
  exited: Exited;
  error: string | null;
}

interface Run {
  session: number;
  started: Promise<number>;
  result: Promise<SessionResult>;
  stdout(): string;
}

function start(request: Partial<ExecRequest> & { argv: string[] }): Run {
  const session = nextSession++;
  const decoder = new TextDecoder();
  const out: SessionResult = {
    session,
    pid: null,
    stdout: "",
    stderr: "",
    order: [],
    exited: null!,
    error: null,
  };
  let started!: (pid: number) => void;
  const startedPromise = new Promise<number>((resolve) => (started = resolve));
  const result = new Promise<SessionResult>((resolve) => {
    handlers.set(session, (frame) => {
      const name = Object.entries(FrameKind).find(([, kind]) => kind === frame.kind)![0];
      if (out.order.at(-1) !== name) out.order.push(name);
      if (frame.kind === FrameKind.started) {
        out.pid = decodeJson<{ pid: number }>(frame).pid;
        started(out.pid);
      }
      if (frame.kind === FrameKind.stdout) out.stdout += decoder.decode(frame.payload, { stream: true });
      if (frame.kind === FrameKind.stderr) out.stderr += decoder.decode(frame.payload, { stream: true });
      if (frame.kind === FrameKind.exited || frame.kind === FrameKind.error) {
        if (frame.kind === FrameKind.exited) out.exited = decodeJson<Exited>(frame);
        else out.error = decodeJson<{ message: string }>(frame).message;
        handlers.delete(session);
        resolve(out);
      }
    });
  });
  client.sendJson(FrameKind.exec, session, { env: [], tty: false, ...request });
  return { session, started: startedPromise, result, stdout: () => out.stdout };
}

function stdin(session: number, data: string | Uint8Array): void {
  const payload = typeof data === "string" ? new TextEncoder().encode(data) : data;
  client.send({ kind: FrameKind.stdin, session, payload });
}

/** Runs a pipe session with stdin closed at once. */
async function run(request: Partial<ExecRequest> & { argv: string[] }): Promise<SessionResult> {
  const running = start(request);
  if (!request.tty) stdin(running.session, "");
  return running.result;
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
}

describe("pipe sessions", () => {
  test("stdout and stderr arrive separately, in order, before exited", async () => {
    const result = await run({ argv: ["sh", "-c", "echo out1; echo err1 >&2; echo out2; exit 3"] });
    expect(result.stdout).toBe("out1\nout2\n");
    expect(result.stderr).toBe("err1\n");
    expect(result.exited).toEqual({ code: 3, signal: null });
    expect(result.order[0]).toBe("started");
    expect(result.order.at(-1)).toBe("exited");
    expect(result.pid).toBeGreaterThan(0);
  });

  test("stdin is piped in and EOF closes it", async () => {
    const running = start({ argv: ["cat"] });
    stdin(running.session, "line one\n");
    stdin(running.session, "line two\n");
    stdin(running.session, "");
    const result = await running.result;
    expect(result.stdout).toBe("line one\nline two\n");
    expect(result.exited).toEqual({ code: 0, signal: null });
  });

  test("a process killed by a signal reports the signal, not a code", async () => {
    const result = await run({ argv: ["sh", "-c", "kill -TERM $$"] });
    expect(result.exited).toEqual({ code: null, signal: 15 });
  });

  test("the environment layers request over base, with extraPath first on PATH and HOME/USER set", async () => {
    const result = await run({
      argv: ["sh", "-c", 'echo "$BASE_ONLY $OVERRIDDEN $ADDED"; echo "$PATH"; echo "$HOME $USER"'],
      env: ["OVERRIDDEN=request", "ADDED=yes"],
    });
    const [values, path, identity] = result.stdout.trim().split("\n");
    expect(values).toBe("base request yes");
    expect(path).toBe(`${join(dir, "scripts")}:/usr/bin:/bin`);
    expect(identity).toBe(isRoot ? "/root root" : `${process.env.HOME} ${process.env.USER}`);
  });

  test("commands are found on extraPath and argv[0] is kept as written", async () => {
    expect((await run({ argv: ["hello-script"] })).stdout).toBe("from-script\n");
    expect((await run({ argv: ["sh", "-c", 'echo "$0"'] })).stdout).toBe("sh\n");
  });

  test("the working directory is the requested one", async () => {
    expect((await run({ argv: ["pwd"], cwd: dir })).stdout).toBe(`${dir}\n`);
  });

  test("output of a large write is complete before exited", async () => {
    const zeros = await run({ argv: ["sh", "-c", "head -c 5000000 /dev/zero | wc -c"] });
    expect(zeros.stdout.trim()).toBe("5000000");
    const bulk = await run({ argv: ["head", "-c", "5000000", "/dev/zero"] });
    expect(bulk.stdout.length).toBe(5_000_000);
    const lines = await run({ argv: ["seq", "1", "200000"] });
    expect(lines.stdout.length).toBe(1_288_895);
    expect(lines.stdout.endsWith("199999\n200000\n")).toBe(true);
  });

  test("the last line of a long-quiet process is not lost", async () => {
    const result = await run({ argv: ["sh", "-c", "sleep 0.4; echo last"] });
    expect(result.stdout).toBe("last\n");
  });

  test("a background job holding the pipe does not hold exited", async () => {
    const started = Date.now();
    const result = await run({ argv: ["sh", "-c", "sleep 5 & echo parent-done"] });
    expect(result.stdout).toBe("parent-done\n");
    expect(result.exited.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test("a signal frame reaches the whole process group", async () => {
    const running = start({ argv: ["sh", "-c", "sleep 100 & echo $!; wait"] });
    stdin(running.session, "");
    await waitFor(() => running.stdout().includes("\n"));
    const sleeper = Number(running.stdout().trim());
    client.sendJson(FrameKind.signal, running.session, { signal: 15 });
    const result = await running.result;
    expect(result.exited.signal).toBe(15);
    await waitFor(() => !processAlive(sleeper));
  });

  test("timeoutMs kills the process group and reports failure timeout", async () => {
    const started = Date.now();
    const result = await run({ argv: ["sh", "-c", "sleep 100 & wait"], timeoutMs: 300 });
    expect(result.exited.failure?.kind).toBe("timeout");
    expect(result.exited.signal).toBe(9);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test("three sessions run at once on one channel", async () => {
    const runs = [1, 2, 3].map((n) => start({ argv: ["sh", "-c", `read line; echo "$line-${n}"`] }));
    await Promise.all(runs.map((running) => running.started));
    expect(server.activeSessions()).toBeGreaterThanOrEqual(3);
    for (const running of runs.toReversed()) stdin(running.session, `s${running.session}\n`);
    const results = await Promise.all(runs.map((running) => running.result));
    expect(results.map((result) => result.stdout)).toEqual(
      runs.map((running, index) => `s${running.session}-${index + 1}\n`),
    );
    expect(server.lastActivity()).toBeGreaterThan(Date.now() - 5000);
  });
});

describe("failures reported before spawning", () => {
  test("a missing command is command-not-found naming it", async () => {
    const result = await run({ argv: ["no-such-command-xyz"] });
    expect(result.exited.failure?.kind).toBe("command-not-found");
    expect(result.exited.failure?.message).toContain("no-such-command-xyz");
    expect(result.order).toEqual(["exited"]);
  });

  test("a missing path and a directory are not-found and not-executable", async () => {
    expect((await run({ argv: [join(dir, "absent")] })).exited.failure?.kind).toBe("command-not-found");
    expect((await run({ argv: [dir] })).exited.failure?.kind).toBe("command-not-executable");
  });

  test("a file without execute permission is command-not-executable", async () => {
    const result = await run({ argv: [join(dir, "not-executable")] });
    expect(result.exited.failure?.kind).toBe("command-not-executable");
    expect(result.exited.failure?.message).toContain("permission denied");
  });

  test("a missing working directory is bad-workdir", async () => {
    const result = await run({ argv: ["true"], cwd: join(dir, "nowhere") });
    expect(result.exited.failure?.kind).toBe("bad-workdir");
    expect(result.exited.failure?.message).toContain("nowhere");
  });

  test("an unknown user is unknown-user naming the user", async () => {
    const result = await run({ argv: ["true"], user: "no-such-user-xyz" });
    expect(result.exited.failure?.kind).toBe("unknown-user");
    expect(result.exited.failure?.message).toContain("no-such-user-xyz");
  });

  test("a malformed request is refused with an error frame", async () => {
    const result = await run({ argv: [] });
    expect(result.error).toContain("argv");
  });
});

describe.skipIf(!isRoot)("user switching (root)", () => {
  test("runs as nobody by name and by uid:gid, with nobody's HOME", async () => {
    const byName = await run({ argv: ["sh", "-c", 'id -u; id -g; echo "$HOME"'], user: "nobody" });
    expect(byName.stdout.split("\n").slice(0, 2)).toEqual(["65534", "65534"]);
    expect(byName.stdout.split("\n")[2]).toBe("/nonexistent");
    const byIds = await run({ argv: ["sh", "-c", "id -u; id -g"], user: "65534:100" });
    expect(byIds.stdout).toBe("65534\n100\n");
  });

  test("a PTY session runs as the requested user too", async () => {
    const result = await run({ argv: ["id", "-u"], user: "nobody", tty: true });
    expect(result.stdout).toBe("65534\r\n");
  });

  test("execute permission is judged for the target user", async () => {
    writeFileSync(join(dir, "owner-only"), "#!/bin/sh\necho hi\n", { mode: 0o700 });
    const result = await run({ argv: [join(dir, "owner-only")], user: "nobody" });
    expect(result.exited.failure?.kind).toBe("command-not-executable");
  });
});

describe("PTY sessions", () => {
  test("the process sees a /dev/pts terminal", async () => {
    const result = await run({ argv: ["tty"], tty: true });
    expect(result.stdout).toMatch(/^\/dev\/pts\/\d+\r\n$/);
    expect(result.exited).toEqual({ code: 0, signal: null });
  });

  test("rows/cols apply at start and resize changes them", async () => {
    expect((await run({ argv: ["stty", "size"], tty: true, rows: 33, cols: 101 })).stdout).toBe("33 101\r\n");
    const running = start({ argv: ["sh", "-c", "read go; stty size"], tty: true });
    await running.started;
    client.sendJson(FrameKind.resize, running.session, { rows: 50, cols: 132 });
    stdin(running.session, "go\n");
    expect((await running.result).stdout).toContain("50 132\r\n");
  });

  test("a ^C byte interrupts the foreground process", async () => {
    const running = start({ argv: ["sleep", "100"], tty: true });
    await running.started;
    await Bun.sleep(100);
    stdin(running.session, new Uint8Array([3]));
    const result = await running.result;
    expect(result.exited).toEqual({ code: null, signal: 2 });
  });

  test("an empty stdin frame is not EOF with a PTY", async () => {
    const running = start({ argv: ["sh", "-c", "read line; echo got-$line"], tty: true });
    await running.started;
    stdin(running.session, "");
    stdin(running.session, "x\n");
    expect((await running.result).stdout).toContain("got-x");
  });

  test("all output of a large write arrives before exited", async () => {
    const result = await run({ argv: ["seq", "1", "200000"], tty: true });
    expect(result.stdout.length).toBe(1_288_895 + 200_000);
    expect(result.stdout.endsWith("200000\r\n")).toBe(true);
  });
});

describe("frame routing", () => {
  test("frames that are not about exec sessions go to the handler set before", async () => {
    const path = join(dir, "routing.sock");
    let accept!: (channel: FrameChannel) => void;
    const accepted = new Promise<FrameChannel>((resolve) => (accept = resolve));
    const listener = await listenUnix(path, accept);
    const other = await connectUnix(path);
    const agentSide = await accepted;
    const seen: number[] = [];
    agentSide.onFrame = (frame) => seen.push(frame.kind);
    serveExecSessions(agentSide, { baseEnv: [], defaultWorkdir: null, defaultUser: null });
    const exited = new Promise<Frame>((resolve) => {
      other.onFrame = (frame) => {
        if (frame.kind === FrameKind.exited) resolve(frame);
      };
    });
    other.sendJson(FrameKind.ping, 0, {});
    other.sendJson(FrameKind.exec, 1, { argv: ["true"], env: [], tty: false });
    other.send({ kind: FrameKind.stdin, session: 1, payload: new Uint8Array(0) });
    other.sendJson(FrameKind.shutdown, 0, { graceMs: 1 });
    expect(decodeJson<Exited>(await exited)).toEqual({ code: 0, signal: null });
    expect(seen).toEqual([FrameKind.ping, FrameKind.shutdown]);
    other.close();
    listener.close();
  });
});

describe("shutdown", () => {
  test("terminates running sessions, escalating to SIGKILL after the grace period", async () => {
    const polite = start({ argv: ["sleep", "100"] });
    const stubborn = start({ argv: ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"] });
    await Promise.all([polite.started, stubborn.started]);
    await waitFor(() => stubborn.stdout().includes("ready"));
    const started = Date.now();
    await server.shutdown(400);
    expect((await polite.result).exited.signal).toBe(15);
    expect((await stubborn.result).exited.signal).toBe(9);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(server.activeSessions()).toBe(0);
    const refused = await run({ argv: ["true"] });
    expect(refused.exited.failure?.kind).toBe("spawn-failed");
  });
});

/** Running, as opposed to gone or a zombie waiting for whoever adopted it. */
function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
