// The supervisor role (`msb supervisor <name>`): one detached process per running sandbox. It
// prepares the runtime folder, starts the isolation backend, waits for the agent, relays CLI
// clients to it, enforces --max-duration and --idle-timeout, records status in the store, and
// cleans up when the sandbox stops, however it stops.
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { AgentBootConfig } from "../agent/boot-config.ts";
import { ConflictError, MsbError } from "../errors.ts";
import { sandboxDir } from "../paths.ts";
import type { FrameChannel } from "../protocol/channel.ts";
import { listenUnix } from "../protocol/channel-unix.ts";
import { decodeJson } from "../protocol/frame.ts";
import { type Frame, FrameKind } from "../protocol/messages.ts";
import { sandboxLockPath } from "../sandbox/reconcile.ts";
import { deleteSandbox, type ExitReason, findSandbox, updateStatus } from "../store/sandbox-records.ts";
import { openStore, type Store } from "../store/store.ts";
import { within } from "../util/deadline.ts";
import { tryLock } from "../util/file-lock.ts";
import { type AttachedVolumes, attachVolumes } from "../volume/attach-volumes.ts";
import { SessionRelay } from "./relay.ts";
import { prepareRuntime, type RuntimeLayout, writeBootConfig } from "./runtime-dir.ts";
import { readSecretValues } from "./secret-delivery.ts";
import { type BackendContext, type RunningBackend, startBackend } from "./start-backend.ts";
import { type RunningNetwork, startNetwork } from "./start-network.ts";
import { type NetworkTraffic, StatsRelay } from "./stats-relay.ts";
import { startTimers } from "./timers.ts";

const AGENT_READY_TIMEOUT_MS = 30_000;
/** A VM boots a kernel first; under TCG (no KVM) that alone takes seconds. */
const VM_AGENT_READY_TIMEOUT_MS = 120_000;
const SHUTDOWN_SLACK_MS = 5_000;
const UNCLAIMED_EPHEMERAL_MS = 30_000;

export async function runSupervisor(name: string): Promise<number> {
  const store = openStore();
  const record = findSandbox(store.db, name);
  if (!record) throw new MsbError(`sandbox not found: ${name}`, { code: "notFound" });
  // Held for the supervisor's whole life: a free lock tells the CLI that it is gone.
  const lock = tryLock(sandboxLockPath(store, record));
  if (!lock) {
    reportToParent({ ready: false, error: `sandbox ${name} is already running` });
    throw new ConflictError(`sandbox ${name} is already running`);
  }
  const layout = prepareRuntime(store.paths, record);
  let network: RunningNetwork | null = null;
  let volumes: AttachedVolumes | null = null;
  // A violation under block-and-terminate can only stop a sandbox that has booted.
  let stopForViolation: () => void = () => {};
  try {
    const secretValues =
      (record.spec.network?.secrets ?? []).length > 0
        ? await readSecretValues(Bun.stdin.stream())
        : new Map<string, string>();
    network = record.spec.network
      ? await startNetwork(record.spec.network, layout.netSocket, logLine, {
          msbHome: store.paths.home,
          values: secretValues,
          terminate: () => stopForViolation(),
        })
      : null;
    volumes = await attachVolumes(store, record);
    const bootConfig = writeBootConfig(
      store.paths,
      record,
      layout,
      network?.guest ?? null,
      volumes.mounts,
      network?.caCertPem ?? null,
    );
    const engine = network;
    const session = await boot(store, record.spec.name, layout, {
      paths: store.paths,
      guestNetwork: network?.guest ?? null,
      mounts: volumes.mounts,
      log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
      // A VM guest shares no folder with the host: its agent gets the config on the channel.
      bootConfig: record.spec.isolation === "vm" ? bootConfig : null,
      traffic: () => engine?.traffic() ?? null,
    });
    stopForViolation = () => session.stop("secret-violation");
    reportToParent({ ready: true });
    const reason = await session.finished;
    await shutdown(store, name, layout, session, reason);
    network?.stop();
    await volumes.release();
    return 0;
  } catch (error) {
    network?.stop();
    await volumes?.release();
    const message = error instanceof Error ? error.message : String(error);
    reportToParent({ ready: false, error: message });
    updateStatus(store.db, name, "stopped", { exitReason: "failed", stoppedAt: new Date().toISOString() });
    rmSync(layout.dir, { recursive: true, force: true });
    throw error;
  } finally {
    store.close();
    lock.release();
  }
}

interface LiveSandbox {
  backend: RunningBackend;
  agent: FrameChannel;
  closeListener: () => void;
  /** Resolves with why the sandbox must stop. */
  finished: Promise<ExitReason>;
  stop(reason: ExitReason): void;
  shutdownDone: Promise<void>;
  graceMs: () => number;
}

interface BootOptions extends BackendContext {
  bootConfig: AgentBootConfig | null;
  /** Bytes through the network engine, for `msb metrics`. */
  traffic: () => NetworkTraffic | null;
}

async function boot(
  store: Store,
  name: string,
  layout: RuntimeLayout,
  options: BootOptions,
): Promise<LiveSandbox> {
  const record = findSandbox(store.db, name);
  if (!record) throw new MsbError(`sandbox not found: ${name}`, { code: "notFound" });
  const agentConnected = waitForAgent(layout.agentSocket, options.bootConfig);
  // A VMM connects to agent.sock as soon as it starts: the socket must be listening by then.
  await agentConnected.listening;
  const backend = await startBackend(record, layout, options).catch((error: unknown) => {
    agentConnected.close();
    throw error;
  });
  const readyTimeoutMs = record.spec.isolation === "vm" ? VM_AGENT_READY_TIMEOUT_MS : AGENT_READY_TIMEOUT_MS;
  const agent = await within(
    Promise.race([
      agentConnected.channel,
      backend.exited.then((exit) => {
        const why = backend.describeExit?.(exit) ?? describeExit(exit);
        throw new MsbError(`the sandbox exited before its agent was ready (${why})`, {
          hint: `see the log: ${join(sandboxDir(store.paths, name), "logs", "guest.log")}`,
        });
      }),
    ]),
    readyTimeoutMs,
    undefined,
  )
    .then((connected) => {
      if (connected) return connected;
      throw new MsbError(`the agent did not become ready within ${readyTimeoutMs / 1000}s`);
    })
    .catch(async (error) => {
      agentConnected.close();
      backend.kill("SIGKILL");
      await backend.exited;
      await backend.cleanup();
      throw error;
    });
  agentConnected.close();

  let stopWith: (reason: ExitReason) => void = () => {};
  const finished = new Promise<ExitReason>((resolve) => {
    stopWith = resolve;
  });
  let markShutdownDone: () => void = () => {};
  const shutdownDone = new Promise<void>((resolve) => {
    markShutdownDone = resolve;
  });
  let graceMs = 10_000;
  let relay: SessionRelay | undefined;
  const timers = startTimers(record.spec, () => relay?.activeSessions() ?? 0, stopWith);
  relay = new SessionRelay(agent.channel, agent.ready, {
    stopRequested(requestedGraceMs) {
      graceMs = requestedGraceMs;
      stopWith("completed");
    },
    activity: () => timers.touch(),
    // An unnamed `msb run` whose CLI is gone (killed, or done) leaves nobody to clean up.
    abandoned: () => {
      if (record.spec.ephemeral) stopWith("completed");
    },
  });
  const sessions = relay;
  const stats = new StatsRelay(agent.channel, options.traffic);
  agent.channel.onFrame = (frame) => {
    if (frame.session !== 0) sessions.fromAgent(frame);
    else if (frame.kind === FrameKind.shutdownDone) markShutdownDone();
    else if (frame.kind === FrameKind.statsResult) stats.fromAgent(frame);
  };
  agent.channel.onClose = () => {
    markShutdownDone();
    stopWith("crashed");
  };
  backend.exited.then(() => stopWith("crashed"));
  // An unnamed `msb run` interrupted while the sandbox booted never connects: nobody would stop it.
  const unclaimed = record.spec.ephemeral
    ? setTimeout(() => {
        if (!sessions.hasHadClients()) stopWith("completed");
      }, UNCLAIMED_EPHEMERAL_MS)
    : undefined;
  finished.then(() => clearTimeout(unclaimed));
  const listener = await listenUnix(layout.controlSocket, (client) => sessions.attachClient(client));
  const monitor = await listenUnix(layout.monitorSocket, (client) => stats.attachClient(client));
  updateStatus(store.db, name, "running", {
    supervisorPid: process.pid,
    runtimeDir: layout.dir,
    startedAt: new Date().toISOString(),
  });
  finished.then(() => timers.stop());
  return {
    backend,
    agent: agent.channel,
    closeListener: () => {
      listener.close();
      monitor.close();
    },
    finished,
    stop: stopWith,
    shutdownDone,
    graceMs: () => graceMs,
  };
}

/**
 * Accepts the agent's one connection on agent.sock and waits for its `ready` frame. With a boot
 * config (VM backend) it goes out first on the connection: the VMM holds it until the guest
 * opens its port.
 */
function waitForAgent(socketPath: string, bootConfig: AgentBootConfig | null) {
  let server: { close(): void } | undefined;
  let markListening: () => void = () => {};
  const listening = new Promise<void>((resolve) => {
    markListening = resolve;
  });
  const channel = new Promise<{ channel: FrameChannel; ready: Frame }>((resolve, reject) => {
    listenUnix(socketPath, (connection) => {
      if (bootConfig) connection.sendJson(FrameKind.bootConfig, 0, bootConfig);
      connection.onFrame = (frame) => {
        if (frame.kind === FrameKind.ready) resolve({ channel: connection, ready: frame });
        else if (frame.kind === FrameKind.error) {
          reject(new MsbError(`the agent failed: ${errorMessage(frame)}`));
        }
      };
      connection.onClose = (error) =>
        reject(error ?? new MsbError("the agent disconnected before it was ready"));
    })
      .then((listener) => {
        server = listener;
        markListening();
      })
      .catch((error: unknown) => {
        markListening();
        reject(error);
      });
  });
  return { channel, listening, close: () => server?.close() };
}

/** An error frame's message (JSON ProtocolErrorBody), or its raw text. */
function errorMessage(frame: Frame): string {
  try {
    const { message } = decodeJson<{ message?: unknown }>(frame);
    if (typeof message === "string") return message;
  } catch {
    // Not JSON: show it as it came.
  }
  return new TextDecoder().decode(frame.payload);
}

/** The supervisor's stderr is the sandbox's supervisor.log. */
function logLine(line: string): void {
  process.stderr.write(`${new Date().toISOString()} network: ${line}\n`);
}

async function shutdown(
  store: Store,
  name: string,
  layout: RuntimeLayout,
  live: LiveSandbox,
  reason: ExitReason,
): Promise<void> {
  live.closeListener();
  updateStatus(store.db, name, "stopping", {});
  const graceMs = live.graceMs();
  if (!live.agent.closed) {
    live.agent.sendJson(FrameKind.shutdown, 0, { graceMs });
    await within(
      Promise.race([live.shutdownDone, live.backend.exited]),
      graceMs + SHUTDOWN_SLACK_MS,
      undefined,
    );
  }
  live.agent.close();
  const exited = await within(live.backend.exited, 2_000, undefined);
  if (exited === undefined) {
    live.backend.kill("SIGKILL");
    await live.backend.exited;
  }
  await live.backend.cleanup();
  rmSync(layout.dir, { recursive: true, force: true });
  const record = findSandbox(store.db, name);
  if (record?.spec.ephemeral) {
    removeSandboxFiles(store, name);
    deleteSandbox(store.db, name);
    return;
  }
  updateStatus(store.db, name, reason === "crashed" ? "crashed" : "stopped", {
    exitReason: reason,
    stoppedAt: new Date().toISOString(),
    supervisorPid: null,
  });
}

/** The sandbox's persistent folder (upper.ext4, logs); the record goes separately. */
export function removeSandboxFiles(store: Store, name: string): void {
  rmSync(sandboxDir(store.paths, name), { recursive: true, force: true });
}

function describeExit(exit: { code: number | null; signal: string | null }): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit status ${exit.code}`;
}

/** The CLI that spawned us reads one JSON line from our stdout, then stops listening. */
function reportToParent(message: { ready: boolean; error?: string }): void {
  try {
    process.stdout.write(`${JSON.stringify(message)}\n`);
  } catch {
    // The parent is gone (e.g. killed while waiting); there is nobody left to tell.
  }
}
