// runAttached without a terminal, against the real exec server over a unix socket, with fake
// stdio streams: stream routing, stdin with EOF, statuses, bulk data both ways under
// backpressure, signal forwarding, abort, and the errors when the sandbox side fails.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { serveExecSessions } from "../../src/agent/exec-server.ts";
import { MsbError } from "../../src/errors.ts";
import type { FrameChannel } from "../../src/protocol/channel.ts";
import { connectUnix, listenUnix } from "../../src/protocol/channel-unix.ts";
import { FrameKind } from "../../src/protocol/messages.ts";
import { type AttachIo, runAttached } from "../../src/sandbox/attach.ts";

let dir: string;
let socketPath: string;
let stopListening: () => void;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "msb-attach-"));
  socketPath = join(dir, "agent.sock");
  const listener = await listenUnix(socketPath, (channel) => {
    serveExecSessions(channel, { baseEnv: ["PATH=/usr/bin:/bin"], defaultWorkdir: null, defaultUser: null });
  });
  stopListening = listener.close;
});

afterAll(() => {
  stopListening();
  rmSync(dir, { recursive: true, force: true });
});

/** A writable that collects bytes, optionally slowly (to exercise backpressure). */
function collector(delayMs = 0): Writable & { bytes(): Buffer; text(): string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      if (delayMs > 0) setTimeout(done, delayMs);
      else done();
    },
  });
  return Object.assign(stream, {
    bytes: () => Buffer.concat(chunks),
    text: () => Buffer.concat(chunks).toString(),
  });
}

function fakeIo(stdin: PassThrough | null, stdout = collector(), stderr = collector()) {
  const io: AttachIo = {
    stdin: stdin as unknown as NodeJS.ReadStream | null,
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
    tty: false,
  };
  return { io, stdout, stderr };
}

async function attach(argv: string[], io: AttachIo) {
  const channel = await connectUnix(socketPath);
  try {
    return await runAttached(channel, { argv, env: [], tty: false }, io);
  } finally {
    channel.close();
  }
}

describe("runAttached over pipes", () => {
  test("routes stdout and stderr and resolves with the exit status", async () => {
    const { io, stdout, stderr } = fakeIo(null);
    const result = await attach(["sh", "-c", "echo out; echo err >&2; exit 3"], io);
    expect(stdout.text()).toBe("out\n");
    expect(stderr.text()).toBe("err\n");
    expect(result).toEqual({ code: 3, signal: null, status: 3 });
  });

  test("with no stdin the guest sees EOF at once", async () => {
    const { io, stdout } = fakeIo(null);
    expect((await attach(["cat"], io)).status).toBe(0);
    expect(stdout.text()).toBe("");
  });

  test("piped stdin reaches the process, and its end is EOF", async () => {
    const input = new PassThrough();
    const { io, stdout } = fakeIo(input);
    const running = attach(["sh", "-c", "cat; echo eof-seen"], io);
    input.write("hello ");
    setTimeout(() => input.end("world\n"), 50);
    expect((await running).status).toBe(0);
    expect(stdout.text()).toBe("hello world\neof-seen\n");
  });

  test("failures and signals map to msb exit statuses", async () => {
    expect((await attach(["no-such-command-xyz"], fakeIo(null).io)).status).toBe(127);
    const killed = await attach(["sh", "-c", "kill -KILL $$"], fakeIo(null).io);
    expect(killed).toEqual({ code: null, signal: 9, status: 137 });
  });

  test("10 MB in through stdin and 10 MB out to a slow stdout arrive intact", async () => {
    const total = 10 * 1024 * 1024;
    const input = new PassThrough({ highWaterMark: 64 * 1024 });
    const { io, stdout, stderr } = fakeIo(input, collector(1));
    const running = attach(["sh", "-c", "wc -c >&2; head -c 10485760 /dev/zero"], io);
    const block = Buffer.alloc(1 << 20, 0x61);
    for (let i = 0; i < 10; i++) {
      if (!input.write(block)) await new Promise((resolve) => input.once("drain", resolve));
    }
    input.end();
    const result = await running;
    expect(result.status).toBe(0);
    expect(stderr.text().trim()).toBe(String(total));
    expect(stdout.bytes().length).toBe(total);
  }, 60_000);

  test("SIGINT to the CLI is forwarded and stops the guest command", async () => {
    const { io } = fakeIo(null);
    const running = attach(["sleep", "100"], io);
    await Bun.sleep(300);
    process.kill(process.pid, "SIGINT");
    const result = await running;
    expect(result).toEqual({ code: null, signal: 2, status: 130 });
    expect(process.listenerCount("SIGINT")).toBe(0);
  });

  test("aborting kills the guest command", async () => {
    const controller = new AbortController();
    const { io } = fakeIo(null);
    const running = attach(["sleep", "100"], { ...io, signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    expect((await running).status).toBe(137);
  });
});

describe("runAttached errors", () => {
  async function fakeAgent(onExec: (channel: FrameChannel, session: number) => void) {
    const path = join(dir, `fake-${Math.random().toString(36).slice(2)}.sock`);
    const listener = await listenUnix(path, (channel) => {
      channel.onFrame = (frame) => {
        if (frame.kind === FrameKind.exec) onExec(channel, frame.session);
      };
    });
    return { channel: await connectUnix(path), stop: listener.close };
  }

  test("rejects with a runtime MsbError when the connection closes before exited", async () => {
    const agent = await fakeAgent((channel) => channel.close());
    const error = await runAttached(
      agent.channel,
      { argv: ["true"], env: [], tty: false },
      fakeIo(null).io,
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MsbError);
    expect((error as MsbError).code).toBe("runtime");
    expect((error as MsbError).message).toContain("closed before the command finished");
    agent.stop();
  });

  test("rejects with the agent's message when it refuses the session", async () => {
    const agent = await fakeAgent((channel, session) =>
      channel.sendJson(FrameKind.error, session, { message: "session busy" }),
    );
    const attempt = runAttached(agent.channel, { argv: ["true"], env: [], tty: false }, fakeIo(null).io);
    await expect(attempt).rejects.toThrow(/session busy/);
    agent.channel.close();
    agent.stop();
  });
});
