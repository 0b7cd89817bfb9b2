// The supervisor's session relay and timers, with in-memory channels: session ids remapped per
// client, replies routed back, hang-up on disconnect, stop requests, idle and max-duration.
import { describe, expect, test } from "bun:test";
import { type Frame, FrameKind } from "../../src/protocol/messages.ts";
import { SessionRelay } from "../../src/supervisor/relay.ts";
import { startTimers } from "../../src/supervisor/timers.ts";
import { MemoryChannel } from "../helpers/memory-channel.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const ready: Frame = { kind: FrameKind.ready, session: 0, payload: bytes("{}") };

function setup() {
  const agent = new MemoryChannel();
  const events = { stops: [] as number[], activity: 0, abandoned: 0 };
  const relay = new SessionRelay(agent, ready, {
    stopRequested: (grace) => events.stops.push(grace),
    activity: () => events.activity++,
    abandoned: () => events.abandoned++,
  });
  return { agent, relay, events };
}

describe("SessionRelay", () => {
  test("greets clients with ready and keeps two clients' session 1 apart", () => {
    const { agent, relay } = setup();
    const a = new MemoryChannel();
    const b = new MemoryChannel();
    expect(relay.hasHadClients()).toBe(false);
    relay.attachClient(a);
    expect(relay.hasHadClients()).toBe(true);
    relay.attachClient(b);
    expect(a.sent[0]).toEqual(ready);
    a.onFrame({ kind: FrameKind.exec, session: 1, payload: bytes("{}") });
    b.onFrame({ kind: FrameKind.exec, session: 1, payload: bytes("{}") });
    expect(agent.sent.map((frame) => frame.session)).toEqual([1, 2]);
    relay.fromAgent({ kind: FrameKind.stdout, session: 2, payload: bytes("for b") });
    relay.fromAgent({ kind: FrameKind.exited, session: 1, payload: bytes("{}") });
    expect(b.sent.at(-1)).toEqual({ kind: FrameKind.stdout, session: 1, payload: bytes("for b") });
    expect(a.sent.at(-1)?.kind).toBe(FrameKind.exited);
    expect(relay.activeSessions()).toBe(1);
  });

  test("ignores frames for sessions a client never opened", () => {
    const { agent, relay } = setup();
    const client = new MemoryChannel();
    relay.attachClient(client);
    client.onFrame({ kind: FrameKind.stdin, session: 7, payload: bytes("x") });
    expect(agent.sent).toEqual([]);
  });

  test("answers pings and passes stop requests on", () => {
    const { relay, events } = setup();
    const client = new MemoryChannel();
    relay.attachClient(client);
    client.onFrame({ kind: FrameKind.ping, session: 0, payload: new Uint8Array(0) });
    client.onFrame({ kind: FrameKind.shutdown, session: 0, payload: bytes('{"graceMs":3000}') });
    expect(client.sent.at(-1)?.kind).toBe(FrameKind.pong);
    expect(events.stops).toEqual([3000]);
  });

  test("hangs up a gone client's sessions and reports abandonment once they end", () => {
    const { agent, relay, events } = setup();
    const client = new MemoryChannel();
    relay.attachClient(client);
    client.onFrame({ kind: FrameKind.exec, session: 1, payload: bytes("{}") });
    client.close();
    expect(agent.sent.at(-1)).toEqual({ kind: FrameKind.signal, session: 1, payload: bytes('{"signal":1}') });
    expect(events.abandoned).toBe(0);
    relay.fromAgent({ kind: FrameKind.exited, session: 1, payload: bytes("{}") });
    expect(events.abandoned).toBe(1);
  });
});

describe("timers", () => {
  test("max duration stops the sandbox", async () => {
    const reasons: string[] = [];
    const timers = startTimers(
      { maxDurationMs: 30, idleTimeoutMs: null },
      () => 0,
      (reason) => reasons.push(reason),
    );
    await Bun.sleep(80);
    timers.stop();
    expect(reasons).toEqual(["max-duration"]);
  });

  test("idle timeout waits for no sessions and no activity", async () => {
    const reasons: string[] = [];
    let sessions = 1;
    const timers = startTimers(
      { maxDurationMs: null, idleTimeoutMs: 50 },
      () => sessions,
      (reason) => reasons.push(reason),
    );
    await Bun.sleep(120);
    expect(reasons).toEqual([]);
    sessions = 0;
    timers.touch();
    await Bun.sleep(30);
    expect(reasons).toEqual([]);
    await Bun.sleep(100);
    timers.stop();
    expect(reasons[0]).toBe("idle-timeout");
  });
});
