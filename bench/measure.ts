// What the benchmarks share: the --runs option, timing one command, and the median.

/** `--runs N` (a positive integer), or the default. */
export function runsOption(argv: string[], defaultRuns: number): number {
  const index = argv.indexOf("--runs");
  const runs = index < 0 ? defaultRuns : Number(argv[index + 1]);
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs needs a positive integer");
  return runs;
}

/** Runs argv to completion; throws with its stderr unless it exits 0. Returns wall ms. */
export async function timedRun(argv: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const child = Bun.spawn(argv, {
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  const elapsed = performance.now() - started;
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${stderr.trim()}`);
  return elapsed;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
