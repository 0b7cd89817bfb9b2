// The vmm role: `msb vmm vm.json` hosts one VM guest in this process with libkrun. It loads
// libkrunfw first (libkrun dlopens it by soname, and a loaded one is reused), checks that libkrun
// has every group the boot needs, points libkrun's log (and with it the guest console) at the
// sandbox log, connects the agent port to the supervisor's agent.sock and the NIC to net.sock,
// creates the context, and then, as root, confines itself (confine-plan.ts: everything opened so
// far stays open, everything libkrun opens later must be inside the VM's root) before it replays
// the VmSpec and enters the VM. It never returns: libkrun exits the process with the guest's
// status, and any failure before that exits VMM_START_FAILED (vmm-exit.ts).
import { closeSync, constants, openSync } from "node:fs";
import { dirname, join } from "node:path";
import { KRUN, loadLibkrun } from "../../ffi/libkrun.ts";
import { loadLibkrunfw } from "../../ffi/libkrunfw.ts";
import { MsbError } from "../errors.ts";
import { msbPaths } from "../paths.ts";
import { prepareBootRoot } from "./boot-root.ts";
import { confinedBoot, planVmmConfinement } from "./confine-plan.ts";
import { confineVmm, requireOwnMountNamespace, vmmConfines } from "./confine-vmm.ts";
import {
  buildLibkrunBoot,
  checkLibkrunFeatures,
  checkLibkrunGroups,
  type LibkrunBoot,
  replayLibkrunBoot,
} from "./libkrun-boot.ts";
import { initLibkrunLog, LibkrunContext } from "./libkrun-context.ts";
import { readVmSpec } from "./read-vm-spec.ts";
import { connectUnixFd } from "./unix-connect.ts";
import { VMM_START_FAILED } from "./vmm-exit.ts";

export interface VmmOptions {
  /** krun_init_log level 0..5. */
  logLevel?: number;
  env?: Record<string, string | undefined>;
}

export async function runVmm(specPath: string, options: VmmOptions = {}): Promise<never> {
  try {
    const paths = msbPaths();
    const vm = readVmSpec(specPath);
    const confine = vmmConfines();
    if (confine) requireOwnMountNamespace();
    const boot = buildLibkrunBoot(vm, await prepareBootRoot(paths), options.logLevel ?? KRUN.logWarn);
    return enterLibkrunVm(boot, paths.lib, options.env ?? process.env, {
      confineIn: confine ? join(dirname(specPath), "vmm") : null,
    });
  } catch (error) {
    throw new VmmStartError(error);
  }
}

export interface EnterOptions {
  /** Folder to stage the confinement in (in this process's own mount namespace); null: none. */
  confineIn: string | null;
}

/** Configures libkrun for `boot` and enters the VM. */
export function enterLibkrunVm(
  boot: LibkrunBoot,
  libDir: string,
  env: Record<string, string | undefined>,
  options: EnterOptions,
): never {
  loadLibkrunfw({ libDir, env });
  const lib = loadLibkrun({ libDir, env });
  checkLibkrunGroups(lib.groups, lib.missing, lib.realPath, boot);
  checkLibkrunFeatures(lib.optional.features?.krun_has_feature, lib.realPath, boot);
  const log = openSync(
    boot.vm.consoleLog,
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
    0o600,
  );
  try {
    initLibkrunLog(lib, log, boot.logLevel);
  } catch (error) {
    closeSync(log);
    throw error;
  }
  const agent = connectUnixFd(boot.vm.agentPort.socket);
  const net = boot.vm.network ? connectUnixFd(boot.vm.network.socket) : null;
  const ctx = LibkrunContext.create(lib);
  if (options.confineIn === null) replayLibkrunBoot(ctx, boot, { agent, net });
  else {
    confineVmm(planVmmConfinement(boot, options.confineIn));
    replayLibkrunBoot(ctx, confinedBoot(boot), { agent, net });
  }
  return ctx.startEnter();
}

/** Any failure before the guest runs: the message as usual, the exit status VMM_START_FAILED. */
export class VmmStartError extends MsbError {
  constructor(cause: unknown) {
    const inner = cause instanceof MsbError ? cause : undefined;
    super(cause instanceof Error ? cause.message : String(cause), {
      code: inner?.code ?? "runtime",
      ...(inner?.hint ? { hint: inner.hint } : {}),
      ...(inner ? {} : { cause }),
    });
    this.name = "VmmStartError";
  }

  override get exitCode(): number {
    return VMM_START_FAILED;
  }
}
