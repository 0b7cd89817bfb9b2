// Turns cumulative counters into what `msb metrics` shows: CPU % needs two samples. Sampling
// happens only when someone asks; the previous answer's sample is reused as the first of the
// pair when it is recent enough, so a client polling every second sees the CPU use of exactly
// that second without the agent keeping a timer while nobody watches.
import type { GuestCounters } from "./stats-source.ts";

/** A previous sample closer than this makes a noisy percentage (USER_HZ ticks are 10 ms). */
const MIN_REUSE_MS = 100;
/** A previous sample older than this would average CPU over a stretch nobody asked about. */
const MAX_REUSE_MS = 5_000;
export const DEFAULT_WINDOW_MS = 250;
const MAX_WINDOW_MS = 2_000;

export interface GuestSample extends GuestCounters {
  /** 100 = one CPU busy for the whole window. */
  cpuPercent: number | null;
}

export interface SamplerClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: SamplerClock = { now: () => performance.now(), sleep: (ms) => Bun.sleep(ms) };

export class GuestSampler {
  private last: { atMs: number; counters: GuestCounters } | null = null;

  constructor(
    private readonly take: () => GuestCounters,
    private readonly clock: SamplerClock = realClock,
  ) {}

  async sample(windowMs = DEFAULT_WINDOW_MS): Promise<GuestSample> {
    const window = Math.min(MAX_WINDOW_MS, Math.max(MIN_REUSE_MS, Math.round(windowMs)));
    let first = this.last;
    const age = first === null ? Number.POSITIVE_INFINITY : this.clock.now() - first.atMs;
    if (first === null || age < MIN_REUSE_MS || age > MAX_REUSE_MS) {
      first = { atMs: this.clock.now(), counters: this.take() };
      await this.clock.sleep(window);
    }
    const second = { atMs: this.clock.now(), counters: this.take() };
    this.last = second;
    return { ...second.counters, cpuPercent: cpuPercent(first, second) };
  }
}

export function cpuPercent(
  first: { atMs: number; counters: GuestCounters },
  second: { atMs: number; counters: GuestCounters },
): number | null {
  const before = first.counters.cpuUsec;
  const after = second.counters.cpuUsec;
  const elapsedMs = second.atMs - first.atMs;
  if (before === null || after === null || elapsedMs <= 0) return null;
  // Summed process times can step back when a process exits before its parent reaps it.
  const percent = (Math.max(0, after - before) / (elapsedMs * 1000)) * 100;
  return Math.round(percent * 10) / 10;
}
