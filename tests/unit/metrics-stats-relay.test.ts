// The supervisor's side of stats: requests renumbered towards the agent and answered to the
// right client with the network engine's counters added; the engine's byte counters themselves.
import { describe, expect, test } from "bun:test";
import { networkPlan } from "../../src/network/plan.ts";
import { ArpOperation, buildArp } from "../../src/network/wire/arp.ts";
import { buildEthernet } from "../../src/network/wire/ethernet.ts";
import { decodeJson } from "../../src/protocol/frame.ts";
import { type Frame, FrameKind, type GuestStats, type SandboxStats } from "../../src/protocol/messages.ts";
import { createNetworkEngine } from "../../src/supervisor/start-network.ts";
import { StatsRelay } from "../../src/supervisor/stats-relay.ts";
import { MemoryChannel } from "../helpers/memory-channel.ts";

const json = (kind: Frame["kind"], body: unknown): Frame => ({
  kind,
  session: 0,
  payload: new TextEncoder().encode(JSON.stringify(body)),
});

function guestStats(id: number): GuestStats {
  return {
    id,
    cpuPercent: 5,
    memoryBytes: 100,
    memoryLimitBytes: 200,
    diskReadBytes: 1,
    diskWriteBytes: 2,
    source: "cgroup2",
  };
}

describe("StatsRelay", () => {
  test("two clients with the same id each get their own answer, with the network counters", () => {
    const agent = new MemoryChannel();
    const relay = new StatsRelay(agent, () => ({ rxBytes: 10, txBytes: 20 }));
    const a = new MemoryChannel();
    const b = new MemoryChannel();
    relay.attachClient(a);
    relay.attachClient(b);
    a.onFrame(json(FrameKind.stats, { id: 1, windowMs: 100 }));
    b.onFrame(json(FrameKind.stats, { id: 1 }));
    expect(agent.sent.map((frame) => decodeJson(frame))).toEqual([{ id: 1, windowMs: 100 }, { id: 2 }]);
    expect(agent.sent.every((frame) => frame.kind === FrameKind.stats && frame.session === 0)).toBe(true);

    relay.fromAgent(json(FrameKind.statsResult, guestStats(2)));
    relay.fromAgent(json(FrameKind.statsResult, guestStats(1)));
    const answer: SandboxStats = { ...guestStats(1), netRxBytes: 10, netTxBytes: 20 };
    expect(a.sent.map((frame) => decodeJson(frame))).toEqual([answer]);
    expect(b.sent.map((frame) => decodeJson(frame))).toEqual([answer]);
  });

  test("no network: null counters; answers for gone clients and unknown ids are dropped", () => {
    const agent = new MemoryChannel();
    const relay = new StatsRelay(agent, () => null);
    const gone = new MemoryChannel();
    const client = new MemoryChannel();
    relay.attachClient(gone);
    relay.attachClient(client);
    gone.onFrame(json(FrameKind.stats, { id: 7 }));
    client.onFrame(json(FrameKind.stats, { id: 8 }));
    gone.close();
    relay.fromAgent(json(FrameKind.statsResult, guestStats(1)));
    relay.fromAgent(json(FrameKind.statsResult, guestStats(99)));
    relay.fromAgent({
      kind: FrameKind.statsResult,
      session: 0,
      payload: new TextEncoder().encode("{not json"),
    });
    relay.fromAgent(json(FrameKind.statsResult, guestStats(2)));
    expect(gone.sent).toEqual([]);
    expect(client.sent.map((frame) => decodeJson(frame))).toEqual([
      { ...guestStats(8), netRxBytes: null, netTxBytes: null },
    ]);
  });

  test("the monitor socket answers pings and refuses anything else", () => {
    const agent = new MemoryChannel();
    const relay = new StatsRelay(agent, () => null);
    const client = new MemoryChannel();
    relay.attachClient(client);
    client.onFrame({ kind: FrameKind.ping, session: 0, payload: new Uint8Array(0) });
    client.onFrame(json(FrameKind.exec, { argv: ["sh"] }));
    client.onFrame({ kind: FrameKind.stats, session: 0, payload: new TextEncoder().encode("[") });
    expect(client.sent.map((frame) => frame.kind)).toEqual([
      FrameKind.pong,
      FrameKind.error,
      FrameKind.error,
    ]);
    expect(agent.sent).toEqual([]);
  });
});

describe("network engine traffic counters", () => {
  test("count the Ethernet bytes the guest sent and received", () => {
    const plan = networkPlan(0);
    const engine = createNetworkEngine(
      {
        rules: [],
        blockedDomains: [],
        nameservers: ["127.0.0.1"],
        rebindProtection: true,
        maxConnections: 8,
      },
      plan,
    );
    const received: Uint8Array[] = [];
    engine.attach({ write: (frame) => received.push(frame.slice()) });
    expect(engine.traffic).toEqual({ rxBytes: 0, txBytes: 0 });
    const request = buildEthernet(
      new Uint8Array(6).fill(0xff),
      plan.guest.macBytes,
      0x0806,
      buildArp({
        operation: ArpOperation.request,
        senderMac: plan.guest.macBytes,
        senderIp: plan.guest.ipBytes,
        targetMac: new Uint8Array(6),
        targetIp: plan.gateway.ipBytes,
      }),
    );
    engine.receiveFrame(request);
    engine.receiveFrame(request);
    expect(received.length).toBe(2);
    expect(engine.traffic).toEqual({
      rxBytes: received.reduce((sum, frame) => sum + frame.length, 0),
      txBytes: 2 * request.length,
    });
    engine.close();
  });
});
