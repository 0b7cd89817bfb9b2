// What a VM sandbox is made of, for whichever VMM hosts it (libkrun in the `vmm` role, or
// qemu-system). Built from the sandbox record by a pure builder, written as JSON into the runtime
// folder (vm.json) and replayed by the VMM. The guest side must not depend on which VMM runs it:
// disks are found by serial, the agent channel by virtio-console port name.

/**
 * A virtio-blk disk; the guest finds it by `serial` (/sys/block/vd* /serial). libkrun cannot set
 * a serial (its virtio-blk id is built from the file's dev and inode), so there the guest must
 * fall back to position: VMMs attach `disks` in order, /dev/vda first.
 */
export interface VmDisk {
  serial: string;
  /** Host file (raw image). */
  path: string;
  readOnly: boolean;
}

/** A virtio-fs share of a host directory; the guest mounts it by tag. */
export interface VmShare {
  tag: string;
  path: string;
  readOnly: boolean;
}

export interface VmSpec {
  version: 1;
  cpus: number;
  memoryMib: number;
  /** The guest kernel's console output is appended here (the sandbox's log file). */
  consoleLog: string;
  disks: VmDisk[];
  shares: VmShare[];
  /**
   * virtio-net joined to the supervisor's network engine: a unix stream socket speaking
   * 4-byte big-endian length + Ethernet frame. null: the guest has no NIC and no other path out
   * (no TSI, no vsock).
   */
  network: { socket: string; mac: string } | null;
  /** Named virtio-console port carrying the agent protocol; its host end connects to `socket`. */
  agentPort: { name: string; socket: string };
}

/** The virtio-console port name the guest agent looks for. */
export const AGENT_PORT_NAME = "msb-agent";

/** Serials of the sandbox's own disks. */
export const LOWER_DISK_SERIAL = "msb-lower";
export const UPPER_DISK_SERIAL = "msb-upper";

/**
 * Serial of the disk carrying the `index`th distinct disk volume a sandbox mounts (virtio-blk
 * serials hold 20 bytes: too few for volume names, enough for an index).
 */
export function volumeDiskSerial(index: number): string {
  return `msb-vol-${index}`;
}

/**
 * Where a disk with this serial sits in VmSpec.disks (lower, upper, then the disk volumes in
 * order): a VMM that cannot set serials (libkrun) attaches them in that order. -1: not msb's.
 */
export function diskPosition(serial: string): number {
  if (serial === LOWER_DISK_SERIAL) return 0;
  if (serial === UPPER_DISK_SERIAL) return 1;
  const volume = /^msb-vol-(\d+)$/.exec(serial);
  return volume ? 2 + Number(volume[1]) : -1;
}
