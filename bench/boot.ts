// VM boot benchmark: time to agent ready (`msb create`, which returns once the agent said
// `ready`) and `msb run <image> -- true` (boot, exec, shutdown, removal of an ephemeral sandbox)
// on libkrun where it can run, and on the qemu VMM (TCG always; KVM too where QEMU can run KVM
// guests), beside the namespace backend in the same run. Prints numbers. Usage and how to read it: bench/README.md.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelsUnder } from "../src/guest/kernel.ts";
import { msbPaths } from "../src/paths.ts";
import { probeQemuKvm } from "../src/vmm/qemu-kvm-probe.ts";
import { selectVmm } from "../src/vmm/select-vmm.ts";
import { gatherVmmFacts } from "../src/vmm/vmm-facts.ts";
import { pushImage } from "../tests/helpers/image-builder.ts";
import { startRegistry } from "../tests/helpers/local-registry.ts";
import { MSB_BINARY } from "../tests/helpers/msb-cli.ts";
import { plainBusyboxImage, requireStaticBusybox } from "../tests/helpers/sandbox-fixtures.ts";
import { DOCKER_REGISTRY } from "../tests/helpers/skip.ts";
import { median, runsOption, timedRun } from "./measure.ts";

const DEFAULT_RUNS = 3;
/** Aims of issue 7, for a KVM host. */
const READY_AIM_MS = 100;
const RUN_AIM_MS = 300;

interface Variant {
  label: string;
  env: Record<string, string>;
}

function fail(message: string): never {
  console.error(`bench/boot: ${message}`);
  process.exit(1);
}

function runsOrFail(argv: string[]): number {
  try {
    return runsOption(argv, DEFAULT_RUNS);
  } catch (error) {
    return fail((error as Error).message);
  }
}

async function variants(qemu: string | null, home: string): Promise<Variant[]> {
  const list: Variant[] = [];
  if (process.getuid?.() === 0) list.push({ label: "namespace", env: { MSB_ISOLATION: "namespace" } });
  try {
    // Throws, naming what is missing, when libkrun cannot run here.
    selectVmm({ ...gatherVmmFacts(msbPaths(home)), requested: "libkrun" });
    list.push({ label: "libkrun", env: { MSB_ISOLATION: "vm", MSB_VMM: "libkrun" } });
  } catch (error) {
    console.log(`libkrun VMM: not measured (${error instanceof Error ? error.message : String(error)})`);
  }
  if (qemu === null) {
    console.log("qemu VMM: not measured (qemu-system-x86_64 not found: apt-get install qemu-system-x86)");
    return list;
  }
  const vm = { MSB_ISOLATION: "vm", MSB_VMM: "qemu" };
  const kvm = await probeQemuKvm(qemu, join(home, "kvm-probe.json"));
  if (kvm.usable) list.push({ label: "qemu, KVM", env: { ...vm, MSB_QEMU_ACCEL: "kvm" } });
  else console.log(`qemu VMM with KVM: not measured (${kvm.reason})`);
  list.push({ label: "qemu, TCG", env: { ...vm, MSB_QEMU_ACCEL: "tcg" } });
  return list;
}

async function main(): Promise<void> {
  const runs = runsOrFail(process.argv.slice(2));
  const problems = [
    Bun.file(DOCKER_REGISTRY).size > 0
      ? undefined
      : `${DOCKER_REGISTRY} is missing (apt-get install docker-registry)`,
    Bun.file(MSB_BINARY).size > 0 ? undefined : `${MSB_BINARY} is missing (bun run build)`,
    requireStaticBusybox(),
  ].filter((problem) => problem !== undefined);
  if (problems.length > 0) fail(problems.join("; "));
  const home = mkdtempSync(join(tmpdir(), "msb-boot-"));
  const registry = await startRegistry();
  const msb = (...args: string[]) => [MSB_BINARY, ...args];
  const base = { MSB_HOME: home, NO_COLOR: "1" };
  try {
    const pushed = await pushImage(
      { url: registry.url },
      "bench/busybox",
      "latest",
      await plainBusyboxImage(),
    );
    await timedRun(msb("pull", "-q", pushed.reference), base);
    const rows: string[][] = [];
    const qemu = Bun.which("qemu-system-x86_64");
    if (qemu !== null && kernelsUnder("/").length === 0) {
      console.log(
        "guest kernel: none in /boot, msb unpacks Debian's linux-image package on the first VM boot (excluded)",
      );
    }
    for (const variant of await variants(qemu, home)) {
      const env = { ...base, ...variant.env };
      // Warm-up: builds the guest files on the first VM boot and settles the page cache.
      await timedRun(msb("run", pushed.reference, "--", "true"), env);
      const ready: number[] = [];
      const run: number[] = [];
      for (let index = 0; index < runs; index++) {
        ready.push(await timedRun(msb("create", "--name", "boot", "-q", pushed.reference), env));
        await timedRun(msb("rm", "-f", "boot"), env);
        run.push(await timedRun(msb("run", pushed.reference, "--", "true"), env));
      }
      rows.push([
        variant.label,
        median(ready).toFixed(0),
        median(run).toFixed(0),
        ready.map((v) => v.toFixed(0)).join(" "),
        run.map((v) => v.toFixed(0)).join(" "),
      ]);
    }
    console.log(`\nmedian of ${runs} run(s) after 1 warm-up; wall time of the whole msb process, ms\n`);
    const widths = [12, 16, 18, 24, 24];
    const line = (cells: string[]) =>
      cells
        .map((cell, index) => cell.padEnd(widths[index]!))
        .join("  ")
        .trimEnd();
    console.log(line(["backend", "agent ready", "run -- true", "ready runs", "run runs"]));
    for (const row of rows) console.log(line(row));
    const verdict = (value: number, aim: number) => `${value} ms ${value <= aim ? "PASS" : "MISS"}`;
    for (const kvmRow of rows.filter((row) => row[0] === "libkrun" || row[0] === "qemu, KVM")) {
      const label = kvmRow[0];
      console.log(
        `\naim (${label}): agent ready <= ${READY_AIM_MS} ms: ${verdict(Number(kvmRow[1]), READY_AIM_MS)}`,
      );
      console.log(
        `aim (${label}): run -- true <= ${RUN_AIM_MS} ms: ${verdict(Number(kvmRow[2]), RUN_AIM_MS)}`,
      );
    }
  } finally {
    await timedRun(msb("rm", "-f", "boot"), base).catch(() => undefined);
    await registry.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
