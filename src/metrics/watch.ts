// `msb metrics` in a terminal: measures every second until the caller aborts. Nothing is
// sampled between rounds; each round asks the agents afresh, and their previous sample (a
// second old) makes the CPU % cover exactly the last second.
import type { Store } from "../store/store.ts";
import { measure, type QueryOptions, runningSandboxes, type SandboxMetrics } from "./query.ts";

export const REFRESH_MS = 1000;

export async function watchSandboxMetrics(
  store: Store,
  names: readonly string[],
  options: QueryOptions,
  onRound: (rows: SandboxMetrics[]) => void,
  signal: AbortSignal,
): Promise<void> {
  // The first round checks the names: an unknown or stopped sandbox is an error up front.
  let requireRunning = true;
  while (!signal.aborted) {
    const started = Date.now();
    const records = await runningSandboxes(store, names, { requireRunning });
    requireRunning = false;
    const rows = await Promise.all(records.map((record) => measure(store, record, options)));
    if (signal.aborted) return;
    onRound(rows);
    await sleepUnlessAborted(Math.max(0, REFRESH_MS - (Date.now() - started)), signal);
  }
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}
