// One call of an installed shim: read the install from the shim, plan the host directories
// this call needs (working directory, script directory), and run the install's command with
// the caller's arguments, attached to the caller's stdio. Ephemeral installs get a new sandbox
// per call, as `msb run` does; --persist ones keep `msb-install-<name>`, created (or started
// again) under a lock so concurrent calls share one, and replaced when this call needs a
// directory its mounts lack.
import { realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { MsbError } from "../errors.ts";
import type { PullEvents } from "../image/pull.ts";
import type { AttachIo, ExitedResult } from "../sandbox/attach.ts";
import { execInSandbox } from "../sandbox/exec.ts";
import { requireSandbox, startSandbox } from "../sandbox/lifecycle.ts";
import type { SandboxOptionsInput } from "../sandbox/options.ts";
import { provisionSandbox } from "../sandbox/provision.ts";
import { runInSandbox } from "../sandbox/run.ts";
import type { BindMount, MountSpec } from "../sandbox/spec.ts";
import { planExec } from "../sandbox/state.ts";
import { findSandbox } from "../store/sandbox-records.ts";
import type { Store } from "../store/store.ts";
import { acquireLock } from "../util/file-lock.ts";
import { type CallPlan, type HostProbe, mountsCover, planCallMounts, volumeFlag } from "./call-mounts.ts";
import { persistentSandboxName } from "./install-name.ts";
import type { InstallConfig } from "./shim-file.ts";
import { readInstall } from "./shim-store.ts";

export interface InstalledCall {
  name: string;
  args: string[];
  cwd: string;
  tty: boolean;
  io: AttachIo;
  pullEvents?: PullEvents;
}

const STARTING_WAIT_MS = 60_000;

export async function runInstalled(store: Store, call: InstalledCall): Promise<ExitedResult> {
  const config = readInstall(store.paths.bin, call.name);
  const plan = planCallMounts(
    {
      cwd: call.cwd,
      args: call.args,
      writable: config.writable,
      takenTargets: takenTargets(config),
    },
    hostProbe,
  );
  const input: SandboxOptionsInput = {
    ...config.flags,
    volume: [...(config.flags.volume ?? []), ...plan.mounts.map(volumeFlag)],
    workdir: config.flags.workdir ?? plan.workdir ?? undefined,
    // The stored command is the whole argv (ENTRYPOINT applied at install time).
    entrypoint: "",
    command: [...config.command, ...plan.args],
  };
  if (!config.persist) {
    const outcome = await runInSandbox(store, {
      image: config.image,
      input: { ...input, ephemeral: true },
      replace: false,
      detach: false,
      tty: call.tty,
      timeout: undefined,
      ...(call.pullEvents === undefined ? {} : { pullEvents: call.pullEvents }),
    });
    if (outcome.exited === null) throw new MsbError(`${call.name}: the sandbox ran detached`);
    return outcome.exited;
  }
  const sandbox = await ensurePersistentSandbox(store, config, input, plan, call.pullEvents);
  const cwd = config.flags.workdir === undefined ? plan.workdir : null;
  return execInSandbox(
    store,
    sandbox,
    { argv: input.command ?? [], env: [], tty: call.tty, ...(cwd === null ? {} : { cwd }) },
    call.io,
  );
}

/** The running `msb-install-<name>`: reused, started again, or (re)created with this call's mounts. */
async function ensurePersistentSandbox(
  store: Store,
  config: InstallConfig,
  input: SandboxOptionsInput,
  plan: CallPlan,
  pullEvents: PullEvents | undefined,
): Promise<string> {
  const name = persistentSandboxName(config.name);
  const lock = await acquireLock(join(store.paths.locks, `install-${config.name}.lock`));
  try {
    const existing = findSandbox(store.db, name);
    const fits =
      existing !== undefined &&
      existing.spec.image === config.image &&
      mountsCover(bindMounts(existing.spec.mounts), plan.mounts);
    if (!fits) {
      await provisionSandbox(store, {
        image: config.image,
        // Each call passes its own working directory to exec; none is baked into the sandbox.
        input: {
          ...input,
          name,
          workdir: config.flags.workdir,
          command: [...config.command],
          ephemeral: false,
        },
        replace: existing !== undefined,
        ...(pullEvents === undefined ? {} : { pullEvents }),
      });
    }
    const record = await requireSandbox(store, name);
    const step = planExec(record);
    if (step === "start-first") await startSandbox(store, name);
    if (step === "wait-for-start") await waitUntilRunning(store, name);
    return name;
  } finally {
    lock.release();
  }
}

async function waitUntilRunning(store: Store, name: string): Promise<void> {
  const deadline = Date.now() + STARTING_WAIT_MS;
  while ((await requireSandbox(store, name)).status === "starting" && Date.now() < deadline) {
    await Bun.sleep(50);
  }
}

function bindMounts(mounts: MountSpec[]): BindMount[] {
  return mounts.filter((mount): mount is BindMount => mount.kind === "bind");
}

/** Guest paths the install's own -v and --tmpfs flags use. */
function takenTargets(config: InstallConfig): string[] {
  const targets = (config.flags.volume ?? []).map((spec) => spec.split(":")[1] ?? "");
  const tmpfs = (config.flags.tmpfs ?? []).map((spec) => spec.split(":")[0] ?? "");
  return [...targets, ...tmpfs].filter((target) => target.startsWith("/"));
}

const hostProbe: HostProbe = {
  isFile(path) {
    try {
      return statSync(path).isFile();
    } catch {
      return false;
    }
  },
  realpath(path) {
    try {
      return realpathSync(path);
    } catch {
      return path;
    }
  },
};
