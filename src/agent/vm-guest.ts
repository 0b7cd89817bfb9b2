// The agent's first steps as PID 1 of a VM (`msb agent --vm`), before the shared root assembly:
// the kernel filesystems and scratch space on the read-only boot root, the agent channel over the
// virtio-console port named AGENT_PORT_NAME, the boot config as the supervisor's first frame on
// it, and the sandbox's disks found by serial. VMM-neutral: any VMM that attaches the disks with
// their serials and names the port boots the same guest.
import { createReadStream, existsSync, mkdirSync, openSync, write, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MsbError } from "../errors.ts";
import type { FrameChannel } from "../protocol/channel.ts";
import { channelFromStreams } from "../protocol/channel-streams.ts";
import { decodeJson } from "../protocol/frame.ts";
import { FrameKind } from "../protocol/messages.ts";
import { AGENT_PORT_NAME, diskPosition } from "../vmm/vm-spec.ts";
import type { AgentBootConfig, BootMount } from "./boot-config.ts";
import { checkBootConfig } from "./read-boot-config.ts";
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, mount } from "./syscalls.ts";
import { findConsolePort, findDisk, waitForDevice } from "./virtio-devices.ts";

const BOOT_CONFIG_TIMEOUT_MS = 30_000;

/** Kernel filesystems and writable scratch on the boot root; the initramfs may have moved some in. */
export function mountGuestBasics(): void {
  const basics: [string, string, string, number, string | null][] = [
    ["proc", "/proc", "/proc/self/stat", MS_NOSUID | MS_NODEV | MS_NOEXEC, null],
    ["sysfs", "/sys", "/sys/class", MS_NOSUID | MS_NODEV | MS_NOEXEC, null],
    ["devtmpfs", "/dev", "/dev/null", MS_NOSUID, "mode=0755"],
    ["tmpfs", "/run", "/run/.msb-tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"],
    ["tmpfs", "/tmp", "/tmp/.msb-tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"],
  ];
  for (const [fstype, target, marker, flags, data] of basics) {
    if (existsSync(marker)) continue;
    mkdirSync(target, { recursive: true });
    mount(fstype, target, fstype, flags, data);
    if (fstype === "tmpfs") writeFileSync(marker, "");
  }
}

/** The agent channel over the named virtio-console port, read as a stream and written with write(2). */
export async function openAgentPort(): Promise<FrameChannel> {
  const path = await waitForDevice(`virtio-console port ${AGENT_PORT_NAME}`, () =>
    findConsolePort(AGENT_PORT_NAME),
  );
  const fd = openSync(path, "r+");
  const readable = createReadStream("", { fd, autoClose: false, highWaterMark: 256 * 1024 });
  return channelFromStreams(
    readable,
    (bytes) => writeAll(fd, bytes),
    () => readable.destroy(),
  );
}

function writeAll(fd: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const next = (offset: number) => {
      if (offset >= bytes.length) return resolve();
      write(fd, bytes, offset, bytes.length - offset, null, (error, written) => {
        if (error) reject(error);
        else next(offset + written);
      });
    };
    next(0);
  });
}

/** The supervisor's first frame: the boot config, checked like boot.json on the namespace backend. */
export function receiveBootConfig(channel: FrameChannel): Promise<AgentBootConfig> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new MsbError(`no boot config from the supervisor within ${BOOT_CONFIG_TIMEOUT_MS / 1000}s`)),
      BOOT_CONFIG_TIMEOUT_MS,
    );
    channel.onFrame = (frame) => {
      clearTimeout(timer);
      if (frame.kind !== FrameKind.bootConfig) {
        reject(new MsbError(`expected the boot config as the first frame, got frame kind ${frame.kind}`));
        return;
      }
      try {
        resolve(checkBootConfig(decodeJson<unknown>(frame), "from the supervisor"));
      } catch (error) {
        reject(error);
      }
    };
    channel.onClose = (error) => {
      clearTimeout(timer);
      reject(error ?? new MsbError("the supervisor closed the agent channel before sending the boot config"));
    };
  });
}

/**
 * The config with its disk serials replaced by the guest's block devices and the scripts written.
 * VMMs attach the VmSpec's disks in its order (build-vm-spec.ts: lower, then upper), which is
 * where a disk is when the VMM sets no serials.
 */
export async function localizeBootConfig(config: AgentBootConfig): Promise<AgentBootConfig> {
  const disk = (serial: string) =>
    waitForDevice(`disk with serial ${serial}`, () => findDisk(serial, diskPosition(serial)));
  const lowerDisk = await disk(config.lowerDisk);
  const upperDisk = await disk(config.upperDisk);
  const mounts: BootMount[] = [];
  for (const mount of config.mounts) {
    mounts.push(mount.kind === "disk" ? { ...mount, source: await disk(mount.source) } : mount);
  }
  const scripts = join(config.runtimeDir, "scripts");
  mkdirSync(scripts, { recursive: true, mode: 0o755 });
  for (const script of config.scripts ?? []) {
    writeFileSync(join(scripts, script.name), script.content, { mode: 0o755 });
  }
  return { ...config, lowerDisk, upperDisk, mounts };
}
