// The runtime folder of a running sandbox (MSB_HOME/run/<id>): the agent's boot config, the
// scripts the agent puts on PATH, and the two sockets. The agent sees it as /.msb.
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AgentBootConfig, BootMount } from "../agent/boot-config.ts";
import { MsbError } from "../errors.ts";
import type { GuestNetworkConfig } from "../network/plan.ts";
import { imageDir, type MsbPaths, runtimeDir, sandboxDir } from "../paths.ts";
import type { SandboxRecord } from "../store/sandbox-records.ts";
import { guestMounts } from "../vmm/build-vm-spec.ts";
import { AGENT_PORT_NAME, LOWER_DISK_SERIAL, UPPER_DISK_SERIAL } from "../vmm/vm-spec.ts";

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
const SHUTDOWN_GRACE_MS = 10_000;
/** The runtime folder inside a VM guest: a tmpfs on the boot root, mounted at /.msb like on the host. */
const VM_GUEST_RUNTIME_DIR = "/run/msb";

export interface RuntimeLayout {
  dir: string;
  bootConfig: string;
  agentSocket: string;
  controlSocket: string;
  /** `stats` only (supervisor/stats-relay.ts); as long as ctl.sock's path, so its check covers both. */
  monitorSocket: string;
  /** The guest NIC's frames (4-byte length + Ethernet frame) to and from the network engine. */
  netSocket: string;
  guestLog: string;
}

export function runtimeLayout(paths: MsbPaths, record: Pick<SandboxRecord, "id" | "spec">): RuntimeLayout {
  const dir = runtimeDir(paths, record.id);
  return {
    dir,
    bootConfig: join(dir, "boot.json"),
    agentSocket: join(dir, "agent.sock"),
    controlSocket: join(dir, "ctl.sock"),
    monitorSocket: join(dir, "mon.sock"),
    netSocket: join(dir, "net.sock"),
    guestLog: join(sandboxDir(paths, record.spec.name), "logs", "guest.log"),
  };
}

/** Makes a fresh runtime folder with the sandbox's scripts; the boot config comes separately. */
export function prepareRuntime(paths: MsbPaths, record: SandboxRecord): RuntimeLayout {
  const layout = runtimeLayout(paths, record);
  if (Buffer.byteLength(layout.controlSocket) > MAX_SOCKET_PATH) {
    throw new MsbError(`socket path ${layout.controlSocket} is longer than unix sockets allow`, {
      code: "usage",
      hint: "use a shorter MSB_HOME",
    });
  }
  rmSync(layout.dir, { recursive: true, force: true });
  mkdirSync(join(layout.dir, "scripts"), { recursive: true, mode: 0o755 });
  mkdirSync(join(sandboxDir(paths, record.spec.name), "logs"), { recursive: true });
  for (const script of record.spec.scripts) {
    const path = join(layout.dir, "scripts", script.name);
    writeFileSync(path, script.content);
    chmodSync(path, 0o755);
  }
  return layout;
}

/**
 * Writes boot.json: what the agent needs to assemble the guest, its mounts and its NIC. The
 * namespace agent reads the file; a VM's agent gets the same content as the first frame on its
 * channel (the supervisor sends what this returns).
 */
export function writeBootConfig(
  paths: MsbPaths,
  record: SandboxRecord,
  layout: RuntimeLayout,
  network: GuestNetworkConfig | null,
  /** The spec's mounts with its named volumes resolved (attach-volumes.ts). */
  mounts: BootMount[],
  caCertPem: string | null = null,
): AgentBootConfig {
  const ca = caCertPem === null ? {} : { caCertPem };
  const boot: AgentBootConfig =
    record.spec.isolation === "vm"
      ? { ...vmBootConfig(record, network, mounts), ...ca }
      : { ...namespaceBootConfig(paths, record, layout, network, mounts), ...ca };
  writeFileSync(layout.bootConfig, `${JSON.stringify(boot, null, 2)}\n`, { mode: 0o600 });
  return boot;
}

function namespaceBootConfig(
  paths: MsbPaths,
  record: SandboxRecord,
  layout: RuntimeLayout,
  network: GuestNetworkConfig | null,
  mounts: BootMount[],
): AgentBootConfig {
  return {
    version: 1,
    backend: record.spec.isolation,
    hostname: record.spec.hostname,
    lowerDisk: join(imageDir(paths, record.spec.manifestDigest), "rootfs.erofs"),
    upperDisk: join(sandboxDir(paths, record.spec.name), "upper.ext4"),
    runtimeDir: layout.dir,
    agentSocket: "/.msb/agent.sock",
    env: record.spec.env,
    workdir: record.spec.workdir,
    user: record.spec.user,
    mounts,
    shutdownGraceMs: SHUTDOWN_GRACE_MS,
    network,
  };
}

/** Disks by serial, the channel by port name, binds by share tag, the scripts inline. */
function vmBootConfig(
  record: SandboxRecord,
  network: GuestNetworkConfig | null,
  mounts: BootMount[],
): AgentBootConfig {
  return {
    version: 1,
    backend: "vm",
    hostname: record.spec.hostname,
    lowerDisk: LOWER_DISK_SERIAL,
    upperDisk: UPPER_DISK_SERIAL,
    runtimeDir: VM_GUEST_RUNTIME_DIR,
    agentSocket: AGENT_PORT_NAME,
    env: record.spec.env,
    workdir: record.spec.workdir,
    user: record.spec.user,
    mounts: guestMounts(mounts),
    shutdownGraceMs: SHUTDOWN_GRACE_MS,
    network,
    scripts: record.spec.scripts,
  };
}
