// The hidden `msb agent <boot.json>` role: PID 1 of a sandbox. Assembles the root, connects
// back to the supervisor over the agent channel, says `ready`, serves exec sessions, and on
// `shutdown` (or SIGTERM, or the supervisor going away) stops everything, flushes the disks and
// exits. Before `ready` a failure prints one line to stderr (the sandbox log) and exits with a
// code that says which stage failed; after it, the channel is the only voice. `msb agent --vm`
// is the same agent as PID 1 of a VM guest: it opens the channel first (a virtio-console port),
// receives its boot config on it, and resets the VM where the namespace agent exits.
import { posix } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import type { FrameChannel } from "../protocol/channel.ts";
import { connectUnix } from "../protocol/channel-unix.ts";
import { decodeJson } from "../protocol/frame.ts";
import { type Frame, FrameKind, type Ready, type Shutdown } from "../protocol/messages.ts";
import { assembleRoot } from "./assemble-root.ts";
import type { AgentBootConfig } from "./boot-config.ts";
import { installCa } from "./ca-install.ts";
import { endVm } from "./end-vm.ts";
import { serveExecSessions } from "./exec-server.ts";
import { startGuestNetworkRelay } from "./guest-network.ts";
import { validateMountTarget } from "./mount-target.ts";
import { readBootConfig } from "./read-boot-config.ts";
import { startOrphanReaper } from "./reaper.ts";
import { type SandboxParts, shutDownSandbox } from "./shutdown.ts";
import { openStatsService, type StatsService } from "./stats.ts";
import { syncFilesystem } from "./syscalls.ts";
import { localizeBootConfig, mountGuestBasics, openAgentPort, receiveBootConfig } from "./vm-guest.ts";

/** Exit codes of an agent that failed before `ready`, one per stage. */
export const AgentExitCode = {
  badBootConfig: 70,
  rootAssembly: 71,
  channel: 72,
} as const;

/** Where the runtime folder appears inside the sandbox. */
const GUEST_RUNTIME_DIR = "/.msb";
/** Where the supervisor's network engine listens for eth0's frames (<runtimeDir>/net.sock). */
const GUEST_NET_SOCKET = `${GUEST_RUNTIME_DIR}/net.sock`;
/** How long to let `shutdownDone` drain to the supervisor before exiting. */
const FLUSH_TIMEOUT_MS = 1000;

export async function runAgent(bootConfigPath: string): Promise<never> {
  const config = await stage("bad boot config", AgentExitCode.badBootConfig, () =>
    readBootConfig(bootConfigPath),
  );
  process.umask(0o022);
  const stats = openStatsService(config);
  const eth0 = await stage("root assembly failed", AgentExitCode.rootAssembly, () => assembleRoot(config));
  const caEnv = await stage("installing the TLS interception CA failed", AgentExitCode.rootAssembly, () =>
    config.caCertPem === undefined ? [] : installCa(config.caCertPem),
  );
  if (eth0 !== null) startGuestNetworkRelay(eth0, GUEST_NET_SOCKET);
  const channel = await stage("agent channel failed", AgentExitCode.channel, () =>
    connectUnix(guestAgentSocket(config)),
  );
  startOrphanReaper(() => false);
  // The sandbox's own entries come after the CA's, so a -e SSL_CERT_FILE=... wins.
  serveSandbox({ ...config, env: [...caEnv, ...config.env] }, channel, stats, () => process.exit(0));
  return new Promise<never>(() => {});
}

/** How long a failing VM agent lets its error frame reach the supervisor before ending the VM. */
const VM_FAILURE_DRAIN_MS = 500;

export async function runVmAgent(): Promise<never> {
  process.umask(0o022);
  let channel: FrameChannel | null = null;
  const vmStage = async <T>(what: string, run: () => T | Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
      process.stderr.write(`msb agent: ${message}\n`);
      if (channel && !channel.closed) {
        channel.sendJson(FrameKind.error, 0, { message });
        channel.close();
        await Bun.sleep(VM_FAILURE_DRAIN_MS);
      }
      return endVm();
    }
  };
  await vmStage("guest setup failed", mountGuestBasics);
  const port = await vmStage("agent channel failed", openAgentPort);
  channel = port;
  const received = await vmStage("bad boot config", () => receiveBootConfig(port));
  const config = await vmStage("guest devices", () => localizeBootConfig(received));
  const stats = openStatsService(config);
  await vmStage("root assembly failed", () => assembleRoot(config));
  const caEnv = await vmStage("installing the TLS interception CA failed", () =>
    config.caCertPem === undefined ? [] : installCa(config.caCertPem),
  );
  startOrphanReaper(() => false);
  serveSandbox({ ...config, env: [...caEnv, ...config.env] }, port, stats, endVm);
  return new Promise<never>(() => {});
}

async function stage<T>(what: string, exitCode: number, run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    process.stderr.write(`msb agent: ${what}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(exitCode);
  }
}

/** The agent socket's path after the pivot: the runtime folder is mounted at /.msb. */
export function guestAgentSocket(config: AgentBootConfig): string {
  const relative = posix.relative(config.runtimeDir, config.agentSocket);
  if (relative.startsWith("..") || posix.isAbsolute(relative)) return config.agentSocket;
  return posix.join(GUEST_RUNTIME_DIR, relative);
}

/** `end` leaves the sandbox once the disks are flushed: exit (namespace) or reset the VM. */
function serveSandbox(
  config: AgentBootConfig,
  channel: FrameChannel,
  stats: StatsService,
  end: () => never,
): void {
  const parts: SandboxParts = {
    sessions: null,
    userMountTargets: config.mounts.map((mount) => validateMountTarget(mount.target)),
  };
  let stopping: Promise<never> | null = null;
  const stop = (graceMs: number) => {
    stopping ??= shutDownSandbox(parts, graceMs).then(
      () => finish(channel, end),
      (error: unknown) => finish(channel, end, error),
    );
    return stopping;
  };

  channel.onFrame = (frame: Frame) => {
    if (frame.kind === FrameKind.shutdown) {
      const { graceMs } = frame.payload.length === 0 ? {} : decodeJson<Partial<Shutdown>>(frame);
      void stop(typeof graceMs === "number" && graceMs >= 0 ? graceMs : config.shutdownGraceMs);
      return;
    }
    if (frame.kind === FrameKind.stats) {
      stats.answer(channel, frame);
      return;
    }
    channel.sendJson(FrameKind.error, frame.session, { message: `unexpected frame kind ${frame.kind}` });
  };
  channel.onClose = () => void stop(config.shutdownGraceMs);
  process.on("SIGTERM", () => void stop(config.shutdownGraceMs));

  parts.sessions = serveExecSessions(channel, {
    baseEnv: config.env,
    defaultWorkdir: config.workdir,
    defaultUser: config.user,
    extraPath: `${GUEST_RUNTIME_DIR}/scripts`,
  });
  const ready: Ready = { version: pkg.version, bootMs: Math.round(performance.now()) };
  channel.sendJson(FrameKind.ready, 0, ready);
}

/**
 * Reports the shutdown (and what went wrong in it, if anything) when someone still listens,
 * lets the frames drain, and exits. Whatever failed, the disks are flushed first.
 */
async function finish(channel: FrameChannel, end: () => never, failure?: unknown): Promise<never> {
  if (failure !== undefined) {
    try {
      syncFilesystem("/");
    } catch {
      // Nothing more can be done to save the writes; the kernel flushes at unmount.
    }
  }
  if (!channel.closed) {
    const drained = new Promise<void>((resolve) => {
      channel.onClose = () => resolve();
    });
    if (failure !== undefined) {
      const message = failure instanceof Error ? failure.message : String(failure);
      channel.sendJson(FrameKind.error, 0, { message: `shutdown: ${message}` });
    }
    channel.sendJson(FrameKind.shutdownDone, 0, {});
    channel.close();
    await Promise.race([drained, Bun.sleep(FLUSH_TIMEOUT_MS)]);
  }
  return end();
}
