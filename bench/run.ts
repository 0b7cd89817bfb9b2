// Sandbox start-up benchmark on the namespace backend (root): `msb run <image> -- true` (create,
// boot, exec, tear down an ephemeral sandbox) and `msb exec <running> -- true`, against a
// baseline of the same root extracted to a directory and entered with `unshare ... chroot`.
// Also times installed shims (`msb install`), ephemeral and --persist, and reports the resident memory of a running sandbox's supervisor and agent. Usage and how
// to read it: bench/README.md.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushImage } from "../tests/helpers/image-builder.ts";
import { startRegistry } from "../tests/helpers/local-registry.ts";
import { MSB_BINARY, rootfsPath } from "../tests/helpers/msb-cli.ts";
import {
  plainBusyboxImage,
  requireSandboxFilesystems,
  requireStaticBusybox,
} from "../tests/helpers/sandbox-fixtures.ts";
import { DOCKER_REGISTRY } from "../tests/helpers/skip.ts";
import { median, runsOption, timedRun } from "./measure.ts";

const DEFAULT_RUNS = 20;
const WARMUPS = 2;
/** Aims for the median wall time, in ms. */
const RUN_AIM_MS = 150;
const EXEC_AIM_MS = 15;
const SANDBOX = "bench";
const UNSHARE_FLAGS = ["--pid", "--fork", "--mount", "--uts", "--ipc", "--net"];

interface Series {
  label: string;
  samples: number[];
}

function fail(message: string): never {
  console.error(`bench/run: ${message}`);
  process.exit(1);
}

function checkHost(): void {
  if (process.getuid?.() !== 0) fail("needs root (the namespace backend and the unshare baseline)");
  const problems = [
    existsSync(DOCKER_REGISTRY)
      ? undefined
      : `${DOCKER_REGISTRY} is missing (apt-get install docker-registry)`,
    existsSync(MSB_BINARY) ? undefined : `${MSB_BINARY} is missing (bun run build)`,
    requireStaticBusybox(),
    requireSandboxFilesystems(),
    ...["unshare", "chroot", "fsck.erofs"].map((tool) =>
      Bun.which(tool) ? undefined : `${tool} is not on PATH`,
    ),
  ].filter((problem) => problem !== undefined);
  if (problems.length > 0) fail(problems.join("; "));
}

function runsOrFail(argv: string[]): number {
  try {
    return runsOption(argv, DEFAULT_RUNS);
  } catch (error) {
    return fail((error as Error).message);
  }
}

async function measure(
  label: string,
  runs: number,
  argv: string[],
  env: Record<string, string> = {},
): Promise<Series> {
  for (let index = 0; index < WARMUPS; index++) await timedRun(argv, env);
  const samples: number[] = [];
  for (let index = 0; index < runs; index++) samples.push(await timedRun(argv, env));
  return { label, samples };
}

async function output(argv: string[], env: Record<string, string>): Promise<string> {
  const child = Bun.spawn(argv, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${stderr.trim()}`);
  return stdout;
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least `fraction` of the samples at or below it.
  const rank = Math.max(1, Math.ceil(fraction * sorted.length));
  return sorted[rank - 1]!;
}

function vmRssKiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
  } catch {
    return [];
  }
}

/** The agent of the sandbox whose runtime folder is `runDir`: the child of its unshare. */
function findAgent(runDir: string): { unshare: number; agent: number } | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const argv = argvOf(pid);
    if (!argv[0]?.endsWith("unshare") || !argv.some((arg) => arg.startsWith(`${runDir}/`))) continue;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/);
    const agent = Number(children[0]);
    if (agent > 0) return { unshare: pid, agent };
  }
  return undefined;
}

function mib(kib: number | undefined): string {
  return kib === undefined ? "-" : `${(kib / 1024).toFixed(1)} MiB`;
}

async function main(): Promise<void> {
  checkHost();
  const runs = runsOrFail(process.argv.slice(2));
  const registry = await startRegistry();
  // Short: unix socket paths under $MSB_HOME/run must stay under 108 bytes.
  const home = mkdtempSync(join(tmpdir(), "msb-bench-"));
  const rootDir = mkdtempSync(join(tmpdir(), "msb-bench-root-"));
  const env = { MSB_HOME: home, MSB_ISOLATION: "namespace", NO_COLOR: "1" };
  const msb = (...args: string[]) => [MSB_BINARY, ...args];
  let created = false;
  const installed: string[] = [];
  try {
    const pushed = await pushImage(
      { url: registry.url },
      "bench/busybox",
      "latest",
      await plainBusyboxImage(),
    );
    await output(msb("pull", "-q", pushed.reference), env);
    const erofs = rootfsPath(home, pushed.manifestDigest);
    await output(["fsck.erofs", `--extract=${rootDir}`, erofs], {});

    const startup = await measure("msb --version (CLI start-up)", runs, msb("--version"), env);
    const run = await measure(
      "msb run -- true",
      runs,
      msb("run", "--isolation", "namespace", pushed.reference, "--", "true"),
      env,
    );
    await output(msb("create", "--name", SANDBOX, "--isolation", "namespace", "-q", pushed.reference), env);
    created = true;
    const exec = await measure("msb exec <running> -- true", runs, msb("exec", SANDBOX, "--", "true"), env);
    for (const flags of [[], ["--persist"]]) {
      const name = flags.length === 0 ? "bench-true" : "bench-kept";
      await output(
        msb(
          "install",
          "-q",
          "--isolation",
          "namespace",
          ...flags,
          "--name",
          name,
          pushed.reference,
          "--",
          "true",
        ),
        env,
      );
      installed.push(name);
    }
    const shim = await measure("installed shim -- true", runs, [join(home, "bin", "bench-true")], env);
    const kept = await measure(
      "installed --persist shim -- true",
      runs,
      [join(home, "bin", "bench-kept")],
      env,
    );
    const baseline = await measure("baseline: unshare + chroot true", runs, [
      "unshare",
      ...UNSHARE_FLAGS,
      "chroot",
      rootDir,
      "/bin/true",
    ]);

    const inspected = JSON.parse(await output(msb("inspect", SANDBOX, "--format", "json"), env)) as {
      id: string;
      supervisor_pid: number | null;
    };
    const supervisorRss = inspected.supervisor_pid === null ? undefined : vmRssKiB(inspected.supervisor_pid);
    const found = findAgent(join(home, "run", inspected.id));
    const agentRss = found === undefined ? undefined : vmRssKiB(found.agent);

    const series = [run, exec, shim, kept, baseline, startup];
    const widths = [34, 12, 10, 10, 10];
    const line = (cells: string[]) =>
      cells
        .map((cell, index) => (index === 0 ? cell.padEnd(widths[0]!) : cell.padStart(widths[index]!)))
        .join("  ");
    const ms = (value: number) => value.toFixed(1);
    const baselineMedian = median(baseline.samples);
    const verdict = (value: number, aim: number) => (value <= aim ? "PASS" : "MISS");
    const runMedian = median(run.samples);
    const execMedian = median(exec.samples);
    console.log(
      [
        `${runs} runs each after ${WARMUPS} warm-ups; image: busybox (static), one layer; wall time of the whole process`,
        "",
        line(["", "median (ms)", "p95 (ms)", "min (ms)", "max (ms)"]),
        ...series.map(({ label, samples }) =>
          line([
            label,
            ms(median(samples)),
            ms(percentile(samples, 0.95)),
            ms(Math.min(...samples)),
            ms(Math.max(...samples)),
          ]),
        ),
        "",
        `run / baseline: ${(runMedian / baselineMedian).toFixed(1)}x   exec / baseline: ${(execMedian / baselineMedian).toFixed(1)}x   ` +
          `run / CLI start-up: ${(runMedian / median(startup.samples)).toFixed(1)}x`,
        `aim: msb run median <= ${RUN_AIM_MS} ms: ${ms(runMedian)} ms ${verdict(runMedian, RUN_AIM_MS)}`,
        `aim: msb exec median <= ${EXEC_AIM_MS} ms: ${ms(execMedian)} ms ${verdict(execMedian, EXEC_AIM_MS)}`,
        "",
        `running sandbox '${SANDBOX}': supervisor (pid ${inspected.supervisor_pid ?? "?"}) VmRSS ${mib(supervisorRss)}, ` +
          `agent (pid ${found?.agent ?? "?"}) VmRSS ${mib(agentRss)}`,
      ].join("\n"),
    );
  } finally {
    for (const name of installed) {
      await output(msb("uninstall", "-q", name), env).catch((error) => console.error(String(error)));
    }
    if (created) {
      // A graceful stop first: the supervisor then removes its runtime folder and cgroup itself.
      await output(msb("stop", "-q", SANDBOX), env).catch((error) => console.error(String(error)));
      await output(msb("rm", "-f", "-q", SANDBOX), env).catch((error) => console.error(String(error)));
    }
    await registry.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(rootDir, { recursive: true, force: true });
  }
}

await main();
