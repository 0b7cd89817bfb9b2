// CPU % from two samples: a fresh pair a window apart when the agent has no recent sample, the
// previous answer's sample otherwise, and no timer at all between requests.
import { describe, expect, test } from "bun:test";
import { cpuPercent, GuestSampler } from "../../src/metrics/guest-sampler.ts";
import type { GuestCounters } from "../../src/metrics/stats-source.ts";

function counters(cpuUsec: number | null): GuestCounters {
  return { cpuUsec, memoryBytes: 1, memoryLimitBytes: 2, diskReadBytes: 3, diskWriteBytes: 4 };
}

/** A guest that burns `busyShare` CPUs, on a clock that only moves when the sampler sleeps or the test says. */
function fakeGuest(busyShare: number) {
  const state = { nowMs: 10_000, sleeps: [] as number[], takes: 0 };
  const clock = {
    now: () => state.nowMs,
    sleep: async (ms: number) => {
      state.sleeps.push(ms);
      state.nowMs += ms;
    },
  };
  const take = () => {
    state.takes++;
    return counters(state.nowMs * 1000 * busyShare);
  };
  return { state, sampler: new GuestSampler(take, clock) };
}

describe("GuestSampler", () => {
  test("the first request samples twice, a window apart", async () => {
    const { state, sampler } = fakeGuest(0.5);
    const sample = await sampler.sample(250);
    expect(state.sleeps).toEqual([250]);
    expect(state.takes).toBe(2);
    expect(sample).toEqual({ ...counters(10_250 * 1000 * 0.5), cpuPercent: 50 });
  });

  test("a request a second later compares with the previous sample, without waiting", async () => {
    const { state, sampler } = fakeGuest(1.5);
    await sampler.sample(250);
    state.nowMs += 1000;
    const sample = await sampler.sample(250);
    expect(state.sleeps).toEqual([250]);
    expect(state.takes).toBe(3);
    expect(sample.cpuPercent).toBe(150);
  });

  test.each([
    ["too recent (noisy)", 20],
    ["too old (stale)", 60_000],
  ])("a previous sample that is %s is not reused", async (_, gapMs) => {
    const { state, sampler } = fakeGuest(0.25);
    await sampler.sample(100);
    state.nowMs += gapMs;
    const sample = await sampler.sample(100);
    expect(state.sleeps).toEqual([100, 100]);
    expect(sample.cpuPercent).toBe(25);
  });

  test("the window is clamped to 100 ms .. 2 s", async () => {
    const { state, sampler } = fakeGuest(0);
    await sampler.sample(1);
    state.nowMs += 60_000;
    await sampler.sample(3_600_000);
    expect(state.sleeps).toEqual([100, 2000]);
  });
});

describe("cpuPercent", () => {
  test.each([
    ["one CPU busy", 0, 1_000_000, 1000, 100],
    ["rounded to a tenth", 0, 123_456, 1000, 12.3],
    ["counters that step back read as idle", 5_000_000, 4_000_000, 1000, 0],
  ])("%s", (_, before, after, elapsedMs, expected) => {
    expect(
      cpuPercent({ atMs: 0, counters: counters(before) }, { atMs: elapsedMs, counters: counters(after) }),
    ).toBe(expected);
  });

  test("unknown when either sample lacks CPU time or no time passed", () => {
    expect(cpuPercent({ atMs: 0, counters: counters(null) }, { atMs: 10, counters: counters(5) })).toBeNull();
    expect(cpuPercent({ atMs: 5, counters: counters(1) }, { atMs: 5, counters: counters(5) })).toBeNull();
  });
});
