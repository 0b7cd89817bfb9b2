// How `msb vmm` turns a VmSpec into one libkrun context: the libkrun-specific boot (the read-only
// boot folder as the guest's root, libkrun's init starting `/msb agent --vm`, the libkrunfw
// kernel implied) and the replay of both as checked calls, in a fixed order the contract tests
// assert. libkrun's disks are found in the guest by order (vda = lower, vdb = upper): its
// virtio-blk serial comes from the file's dev/inode, not from the block id we pass.
import { KRUN, KRUN_FEATURE, type LibkrunGroup } from "../../ffi/libkrun.ts";
import { MsbError } from "../errors.ts";
import { GUEST_AGENT_ARGS, GUEST_AGENT_PATH } from "../guest/boot-files.ts";
import { macFromString } from "../network/wire/address.ts";
import { LIBKRUN_INSTALL_HINT, type LibkrunContext } from "./libkrun-context.ts";
import type { VmSpec } from "./vm-spec.ts";

export interface LibkrunBoot {
  vm: VmSpec;
  /** Host folder shared read-only as the guest's `/` (boot-root.ts). */
  root: string;
  /** What libkrun's init runs: argv without argv[0], and the whole environment (never the host's). */
  exec: { path: string; args: string[]; env: string[] };
  /** krun_init_log level; the guest console reaches the log at level error, so 0 drops it. */
  logLevel: number;
}

/** The kernel console: hvc0, the first virtio console (krun_add_virtio_console_default). */
export const KERNEL_CONSOLE = "hvc0";

/**
 * libkrun's init execs the agent as PID 1 instead of forking it, so the agent is PID 1 on every
 * VMM (QEMU's initramfs hands over with switch_root) and ends the VM itself.
 */
export const LIBKRUN_INIT_ENV = ["KRUN_INIT_PID1=1"];

export function buildLibkrunBoot(vm: VmSpec, root: string, logLevel: number = KRUN.logWarn): LibkrunBoot {
  return {
    vm,
    root,
    exec: { path: GUEST_AGENT_PATH, args: [...GUEST_AGENT_ARGS], env: [...LIBKRUN_INIT_ENV] },
    logLevel,
  };
}

/** Groups every boot needs, plus virtio-net when the sandbox has a NIC. */
export function requiredLibkrunGroups(boot: LibkrunBoot): LibkrunGroup[] {
  const groups: LibkrunGroup[] = ["virtiofs3", "block", "vsock", "console", "consolePorts"];
  if (boot.vm.network) groups.push("net");
  return groups;
}

/** Why each group is needed, for the error when a build lacks it. */
const GROUP_PURPOSE: Partial<Record<LibkrunGroup, string>> = {
  virtiofs3: "the read-only boot share (libkrun ≥1.18)",
  block: "the image and upper disks (a BLK=1 build)",
  vsock: "turning off TSI so the guest has no path out but its NIC (libkrun ≥1.17)",
  console: "the kernel console (libkrun ≥1.16)",
  consolePorts: "the agent's named console port (libkrun ≥1.17)",
  net: "the sandbox's network (a NET=1 build, libkrun ≥1.15)",
};

/**
 * Refuses a libkrun that lacks a group this boot needs, before any call: in particular a build
 * without krun_disable_implicit_vsock would hand the guest TSI, a way out around the network engine.
 */
export function checkLibkrunGroups(
  available: Readonly<Record<LibkrunGroup, boolean>>,
  missing: Readonly<Partial<Record<LibkrunGroup, string>>>,
  library: string,
  boot: LibkrunBoot,
): void {
  for (const group of requiredLibkrunGroups(boot)) {
    if (available[group]) continue;
    throw new MsbError(
      `libkrun at ${library} lacks ${missing[group] ?? group}, needed for ${GROUP_PURPOSE[group] ?? group}`,
      { code: "unavailable", hint: LIBKRUN_INSTALL_HINT },
    );
  }
}

/**
 * Where the build answers krun_has_feature (≥1.17.3), its word on BLK and NET beats the symbol
 * table. 1 = built in, 0 = not; anything else (an older build not knowing the number) is no answer.
 */
export function checkLibkrunFeatures(
  hasFeature: ((feature: bigint) => number) | undefined,
  library: string,
  boot: LibkrunBoot,
): void {
  if (hasFeature === undefined) return;
  const needed: [bigint, string][] = [[KRUN_FEATURE.blk, "BLK (virtio-blk disks)"]];
  if (boot.vm.network) needed.push([KRUN_FEATURE.net, "NET (virtio-net)"]);
  for (const [feature, name] of needed) {
    if (hasFeature(feature) !== 0) continue;
    throw new MsbError(`libkrun at ${library} was built without ${name} (krun_has_feature)`, {
      code: "unavailable",
      hint: LIBKRUN_INSTALL_HINT,
    });
  }
}

export interface LibkrunBootFds {
  /** Connected to the supervisor's agent.sock: both ends of the agent's console port. */
  agent: number;
  /** Connected to the network engine's net.sock; null when the VM has no NIC. */
  net: number | null;
}

/** Configures `ctx` for `boot`; krun_start_enter comes next. */
export function replayLibkrunBoot(ctx: LibkrunContext, boot: LibkrunBoot, fds: LibkrunBootFds): void {
  const { vm } = boot;
  ctx.setVmConfig(vm.cpus, vm.memoryMib);
  ctx.addVirtiofs(KRUN.rootTag, boot.root, true);
  for (const disk of vm.disks) ctx.addDisk(disk.serial, disk.path, disk.readOnly);
  for (const share of vm.shares) ctx.addVirtiofs(share.tag, share.path, share.readOnly);
  ctx.disableImplicitVsock();
  if (vm.network) {
    if (fds.net === null) throw new MsbError("the VM has a NIC but no connection to the network engine");
    ctx.addNetUnixStream(fds.net, macFromString(vm.network.mac));
  }
  // The implicit console would wire the vmm's own stdio into the guest; this one has no input and
  // sends hvc0 (kernel and init) to libkrun's log, which krun_init_log pointed at consoleLog.
  ctx.disableImplicitConsole();
  ctx.addVirtioConsoleDefault(-1, -1, -1);
  ctx.setKernelConsole(KERNEL_CONSOLE);
  const consoleId = ctx.addVirtioConsoleMultiport();
  ctx.addConsolePortInOut(consoleId, vm.agentPort.name, fds.agent, fds.agent);
  ctx.setExec(boot.exec.path, boot.exec.args, boot.exec.env);
}
