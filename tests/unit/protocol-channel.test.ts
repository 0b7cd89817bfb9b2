// Unix-socket and stream channels: two endpoints in one process, bulk transfer both ways with the
// receiver pausing (backpressure), ordering, and close semantics (flush, onClose once, errors).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { FrameChannel } from "../../src/protocol/channel.ts";
import { channelFromStreams } from "../../src/protocol/channel-streams.ts";
import { connectUnix, listenUnix } from "../../src/protocol/channel-unix.ts";
import { flowControlOf } from "../../src/protocol/flow.ts";
import { type Frame, FrameKind, PROTOCOL_VERSION } from "../../src/protocol/messages.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "msb-chan-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function connectedPair(): Promise<{ client: FrameChannel; server: FrameChannel; stop: () => void }> {
  const path = join(dir, "agent.sock");
  let accept!: (channel: FrameChannel) => void;
  const accepted = new Promise<FrameChannel>((resolve) => (accept = resolve));
  const listener = await listenUnix(path, accept);
  const client = await connectUnix(path);
  return { client, server: await accepted, stop: () => listener.close() };
}

/** Sends `total` bytes as 64 KiB stdout frames whose bytes encode their offset. */
function sendBulk(channel: FrameChannel, total: number): void {
  for (let offset = 0; offset < total; offset += 65536) {
    const payload = new Uint8Array(Math.min(65536, total - offset));
    for (let i = 0; i < payload.length; i++) payload[i] = (offset + i) % 253;
    channel.send({ kind: FrameKind.stdout, session: 1, payload });
  }
  channel.sendJson(FrameKind.exited, 1, { code: 0, signal: null });
}

/** Receives until exited, pausing the transport now and then like a slow consumer; returns byte count. */
function receiveBulk(channel: FrameChannel): Promise<number> {
  const flow = flowControlOf(channel)!;
  let received = 0;
  let valid = true;
  return new Promise((resolve, reject) => {
    channel.onFrame = (frame) => {
      if (frame.kind === FrameKind.exited) {
        if (valid) resolve(received);
        else reject(new Error("corrupted bytes"));
        return;
      }
      for (let i = 0; i < frame.payload.length; i += 4099) {
        if (frame.payload[i] !== (received + i) % 253) valid = false;
      }
      received += frame.payload.length;
      if (received % (1 << 20) < 65536) {
        flow.pauseReading();
        setTimeout(() => flow.resumeReading(), 5);
      }
    };
  });
}

describe("unix channel", () => {
  test("listens with mode 0600 and replaces a stale socket file", async () => {
    const path = join(dir, "agent.sock");
    const first = await listenUnix(path, () => {});
    first.close();
    const stale = await listenUnix(path, () => {});
    const second = await listenUnix(path, () => {});
    expect(statSync(path).mode & 0o777).toBe(0o600);
    second.close();
    stale.close();
    writeFileSync(path, "not a socket");
    await expect(listenUnix(path, () => {})).rejects.toThrow(/not a socket/);
  });

  test("connecting to a missing socket fails with an MsbError naming the path", async () => {
    await expect(connectUnix(join(dir, "missing.sock"), { timeoutMs: 500 })).rejects.toThrow(/missing\.sock/);
  });

  test("streams 10 MB each way at once with backpressure, intact and in order", async () => {
    const { client, server, stop } = await connectedPair();
    const total = 10 * 1024 * 1024;
    const atServer = receiveBulk(server);
    const atClient = receiveBulk(client);
    sendBulk(client, total);
    sendBulk(server, total);
    // The writer cannot hand 10 MB to the kernel at once: most of it waits in the queue.
    expect(flowControlOf(client)!.queuedBytes).toBeGreaterThan(0);
    expect(await atServer).toBe(total);
    expect(await atClient).toBe(total);
    await flowControlOf(client)!.whenDrained();
    expect(flowControlOf(client)!.queuedBytes).toBe(0);
    client.close();
    server.close();
    stop();
  }, 30_000);

  test("close flushes queued frames, then both ends report close exactly once", async () => {
    const { client, server, stop } = await connectedPair();
    const kinds: number[] = [];
    let serverCloses = 0;
    let clientCloses = 0;
    const serverClosed = new Promise<Error | undefined>((resolve) => {
      server.onClose = (error) => {
        serverCloses += 1;
        resolve(error);
      };
    });
    server.onFrame = (frame) => kinds.push(frame.kind);
    client.onClose = () => {
      clientCloses += 1;
    };
    client.send({ kind: FrameKind.stdin, session: 1, payload: new Uint8Array(3 << 20) });
    client.sendJson(FrameKind.signal, 1, { signal: 15 });
    client.close();
    expect(client.closed).toBe(true);
    client.sendJson(FrameKind.signal, 1, { signal: 9 });
    expect(await serverClosed).toBeUndefined();
    expect(kinds).toEqual([FrameKind.stdin, FrameKind.signal]);
    expect(server.closed).toBe(true);
    client.close();
    await Bun.sleep(20);
    expect(clientCloses).toBe(1);
    expect(serverCloses).toBe(1);
    stop();
  });

  test("an invalid frame from the peer closes the channel with a protocol error", async () => {
    const path = join(dir, "agent.sock");
    let accepted!: (channel: FrameChannel) => void;
    const serverSide = new Promise<FrameChannel>((resolve) => (accepted = resolve));
    const listener = await listenUnix(path, accepted);
    const raw = await Bun.connect({ unix: path, socket: { data() {} } });
    const server = await serverSide;
    const closed = new Promise<Error | undefined>((resolve) => (server.onClose = resolve));
    raw.write(new Uint8Array([0, 0, 0, 6, PROTOCOL_VERSION + 5, FrameKind.ping, 0, 0, 0, 0]));
    expect((await closed)?.message).toMatch(/protocol version/);
    raw.end();
    listener.close();
  });

  test("frames that arrive before onFrame is set are delivered to it in order", async () => {
    const { client, server, stop } = await connectedPair();
    client.sendJson(FrameKind.ping, 0, { n: 1 });
    client.sendJson(FrameKind.ping, 0, { n: 2 });
    await Bun.sleep(50);
    const sessions: number[] = [];
    const got = new Promise<void>((resolve) => {
      server.onFrame = (frame: Frame) => {
        sessions.push(frame.payload[5]!);
        if (sessions.length === 2) resolve();
      };
    });
    await got;
    expect(sessions.map((byte) => String.fromCharCode(byte))).toEqual(["1", "2"]);
    client.close();
    stop();
  });
});

describe("stream channel", () => {
  test("carries frames both ways over a readable and a write function", async () => {
    const aToB = new PassThrough();
    const bToA = new PassThrough();
    const a = channelFromStreams(
      bToA,
      (bytes) => void aToB.write(bytes),
      () => aToB.end(),
    );
    const b = channelFromStreams(
      aToB,
      (bytes) => void bToA.write(bytes),
      () => bToA.end(),
    );
    const atB = receiveBulk(b);
    sendBulk(a, 3 << 20);
    expect(await atB).toBe(3 << 20);
    const bClosed = new Promise<Error | undefined>((resolve) => (b.onClose = resolve));
    a.close();
    expect(await bClosed).toBeUndefined();
  });

  test("waits for an asynchronous writer before the next write", async () => {
    const written: number[] = [];
    let inFlight = 0;
    const channel = channelFromStreams(
      new PassThrough(),
      async (bytes) => {
        inFlight += 1;
        expect(inFlight).toBe(1);
        await Bun.sleep(1);
        written.push(bytes.length);
        inFlight -= 1;
      },
      () => {},
    );
    for (let i = 0; i < 5; i++)
      channel.send({ kind: FrameKind.stdout, session: 1, payload: new Uint8Array(70_000) });
    await flowControlOf(channel)!.whenDrained();
    expect(written).toEqual([70_010, 70_010, 70_010, 70_010, 70_010]);
  });
});
