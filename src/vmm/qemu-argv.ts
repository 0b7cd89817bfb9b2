// The qemu-system command line for a VM sandbox: QEMU's microvm machine with the VmSpec's disks
// (by serial), NIC (a unix stream to the network engine, same 4-byte length framing as net.sock),
// virtio-fs shares (served by virtiofsd, qemu-virtiofs.ts) and named agent port, plus the guest
// files (kernel, initramfs, boot disk). Pure: spec in, argv out. The kernel console goes to stdout, which the launcher appends to the sandbox's log.
import { BOOT_DISK_SERIAL } from "../guest/init-script.ts";
import type { VmmAccel } from "./select-vmm.ts";
import type { VmDisk, VmSpec } from "./vm-spec.ts";

export interface QemuGuest {
  kernel: string;
  initramfs: string;
  bootDisk: string;
}

export interface QemuArgvInput {
  binary: string;
  spec: VmSpec;
  guest: QemuGuest;
  accel: VmmAccel;
  /** The vhost-user socket of each share's virtiofsd, in the order of spec.shares. */
  shareSockets: string[];
}

const BASE_CMDLINE = ["console=ttyS0", "quiet", "panic=-1"];
/** Without a known TSC frequency, TCG boots hang at TSC calibration when the host is loaded. */
const TCG_CMDLINE = ["tsc_early_khz=2000000", "tsc=reliable", "no_timer_check"];

export function kernelCmdline(accel: VmmAccel): string {
  return [...BASE_CMDLINE, ...(accel === "tcg" ? TCG_CMDLINE : [])].join(" ");
}

export function buildQemuArgv({ binary, spec, guest, accel, shareSockets }: QemuArgvInput): string[] {
  if (shareSockets.length !== spec.shares.length) {
    throw new Error(`${spec.shares.length} shares but ${shareSockets.length} virtiofsd sockets`);
  }
  // vhost-user devices need the guest's RAM in shared memory the daemon can map.
  const sharedMemory = spec.shares.length > 0;
  // The boot disk last: the spec's disks keep their positions (vda, vdb, ...) on every VMM.
  const disks: VmDisk[] = [...spec.disks, { serial: BOOT_DISK_SERIAL, path: guest.bootDisk, readOnly: true }];
  return [
    binary,
    ...["-M", `microvm,x-option-roms=off,rtc=on${sharedMemory ? ",memory-backend=mem" : ""}`],
    ...["-accel", accel],
    ...["-cpu", accel === "kvm" ? "host" : "max"],
    ...["-smp", String(spec.cpus)],
    ...["-m", `${spec.memoryMib}M`],
    ...(sharedMemory ? ["-object", `memory-backend-memfd,id=mem,size=${spec.memoryMib}M,share=on`] : []),
    "-no-reboot",
    "-nodefaults",
    "-no-user-config",
    // microvm's virtio-mmio devices are legacy (v1) by default; vhost-user (virtiofsd) needs v2.
    ...["-global", "virtio-mmio.force-legacy=false"],
    ...["-display", "none"],
    ...["-serial", "stdio"],
    ...["-kernel", guest.kernel],
    ...["-initrd", guest.initramfs],
    ...["-append", kernelCmdline(accel)],
    ...disks.flatMap((disk, index) => diskArgs(disk, index)),
    ...(spec.network ? networkArgs(spec.network) : []),
    ...spec.shares.flatMap((share, index) => [
      ...["-chardev", `socket,id=fs${index},path=${quote(shareSockets[index] as string)}`],
      ...["-device", `vhost-user-fs-device,chardev=fs${index},tag=${quote(share.tag)}`],
    ]),
    ...["-chardev", `socket,id=agent,path=${quote(spec.agentPort.socket)}`],
    ...["-device", "virtio-serial-device"],
    ...["-device", `virtserialport,chardev=agent,name=${quote(spec.agentPort.name)}`],
  ];
}

function diskArgs(disk: VmDisk, index: number): string[] {
  const id = `disk${index}`;
  const readOnly = disk.readOnly ? ",readonly=on" : "";
  return [
    ...["-drive", `id=${id},file=${quote(disk.path)},format=raw,if=none${readOnly}`],
    ...["-device", `virtio-blk-device,drive=${id},serial=${quote(disk.serial)}`],
  ];
}

function networkArgs(network: { socket: string; mac: string }): string[] {
  return [
    ...["-netdev", `stream,id=net0,server=off,addr.type=unix,addr.path=${quote(network.socket)}`],
    ...["-device", `virtio-net-device,netdev=net0,mac=${network.mac}`],
  ];
}

/** QEMU option values end at a comma; a doubled comma is a literal one. */
export function quote(value: string): string {
  return value.replace(/,/g, ",,");
}
