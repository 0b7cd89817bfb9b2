// Whether QEMU can really run a guest with KVM here. /dev/kvm opening is not enough: some hosts
// (nested or restricted hypervisors) refuse vCPU state QEMU sets at reset, and QEMU aborts at
// once. A short empty microvm answers it; the answer is cached per QEMU build and host kernel.
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { dirname } from "node:path";

/** A working KVM guest is still running (in its firmware) after this long; a refused one is long gone. */
const PROBE_MS = 1_500;

export type KvmProbe = { usable: true } | { usable: false; reason: string };

export function kvmProbeArgv(binary: string): string[] {
  return [
    binary,
    ...["-M", "microvm,x-option-roms=off"],
    ...["-accel", "kvm"],
    ...["-cpu", "host"],
    ...["-m", "64M"],
    "-nodefaults",
    "-no-user-config",
    ...["-display", "none"],
    "-no-reboot",
  ];
}

export async function probeQemuKvm(binary: string, cacheFile: string): Promise<KvmProbe> {
  const key = `${binary}:${statSync(binary).mtimeMs}:${release()}`;
  try {
    const cached = JSON.parse(readFileSync(cacheFile, "utf8")) as { key: string; probe: KvmProbe };
    if (cached.key === key) return cached.probe;
  } catch {
    // No answer cached yet.
  }
  const child = Bun.spawn(kvmProbeArgv(binary), { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const ended = await Promise.race([child.exited.then(() => true), Bun.sleep(PROBE_MS).then(() => false)]);
  let probe: KvmProbe = { usable: true };
  if (ended) {
    const stderr = (await new Response(child.stderr).text()).trim().split("\n");
    const line = stderr.find((text) => /error/i.test(text)) ?? stderr[0] ?? `exit status ${child.exitCode}`;
    probe = { usable: false, reason: line.replace(/^qemu-system-\S+: /, "") };
  } else {
    child.kill("SIGKILL");
    await child.exited;
  }
  mkdirSync(dirname(cacheFile), { recursive: true });
  writeFileSync(cacheFile, JSON.stringify({ key, probe }));
  return probe;
}
