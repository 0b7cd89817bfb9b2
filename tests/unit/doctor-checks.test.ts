// msb doctor against a table of fake hosts: each host differs from a healthy one in one way, and
// the test asserts every check line and the readiness of both backends.
import { describe, expect, test } from "bun:test";
import { runDoctor } from "../../src/doctor/doctor.ts";
import type { DoctorProbe, DoctorReport, LibkrunFacts } from "../../src/doctor/types.ts";
import { msbPaths } from "../../src/paths.ts";
import type { KvmProbe } from "../../src/vmm/qemu-kvm-probe.ts";

const HOME = "/home/dev/.microsandbox";
const LIB = `${HOME}/lib`;
const GIB = 1024 ** 3;

const FULL_LIBKRUN: LibkrunFacts = {
  found: true,
  path: `${LIB}/libkrun.so.1`,
  realPath: `${LIB}/libkrun.so.1.19.7`,
  version: "1.19.7",
  groups: {
    block: true,
    net: true,
    console: true,
    consolePorts: true,
    vsock: true,
    virtiofs3: true,
    features: true,
  },
  missing: {},
  features: { net: true, blk: true },
};

function healthyHost(): DoctorProbe {
  return {
    uid: () => 0,
    exists: (path) => ["/dev/loop-control", "/home/dev", "/home", "/"].includes(path),
    openReadWrite: () => undefined,
    readText: (path) =>
      path === "/proc/filesystems" ? "nodev\tproc\nnodev\toverlay\n\text4\n\terofs\n" : undefined,
    kernelModuleAvailable: () => false,
    findExecutable: (name) => ({ path: `/usr/sbin/${name}`, onPath: true }),
    freeBytes: () => 50 * GIB,
    libkrun: () => FULL_LIBKRUN,
    libkrunfw: () => ({
      found: true,
      path: `${LIB}/libkrunfw.so.5`,
      realPath: `${LIB}/libkrunfw.so.5.4.0`,
      version: "5.4.0",
      abi: 5,
    }),
  };
}

const QEMU_TCG = /^QEMU microvm \(\/usr\/sbin\/qemu-system-x86_64\) under TCG: slow, for testing \(KVM: /;
const QEMU_KVM = /^QEMU microvm \(\/usr\/sbin\/qemu-system-x86_64\) with KVM; not libkrun \(libkrun: /;

interface HostCase {
  name: string;
  host: Partial<DoctorProbe>;
  env?: Record<string, string>;
  /** What QEMU's KVM probe answers (default: KVM works). */
  kvm?: KvmProbe;
  /** Expected [mark, id, detail] for the checks that differ from the healthy host. */
  lines: Record<string, { ok: boolean; warning?: boolean; detail: string | RegExp; fix?: RegExp }>;
  vmReady: boolean;
  namespaceReady: boolean;
}

const CASES: HostCase[] = [
  { name: "all good", host: {}, lines: {}, vmReady: true, namespaceReady: true },
  {
    name: "no kvm",
    host: { openReadWrite: (path) => (path === "/dev/kvm" ? "ENOENT" : undefined) },
    lines: {
      kvm: { ok: false, detail: "/dev/kvm does not exist", fix: /modprobe kvm_intel/ },
      vmm: { ok: true, warning: true, detail: QEMU_TCG, fix: /for speed give QEMU KVM: load the KVM module/ },
    },
    vmReady: true,
    namespaceReady: true,
  },
  {
    name: "kvm not writable",
    host: { uid: () => 1000, openReadWrite: () => "EACCES" },
    lines: {
      kvm: { ok: false, detail: "/dev/kvm is not readable and writable by uid 1000", fix: /usermod -aG kvm/ },
      root: { ok: false, detail: "running as uid 1000; the namespace backend needs root", fix: /sudo/ },
      vmm: { ok: true, warning: true, detail: QEMU_TCG, fix: /usermod -aG kvm/ },
    },
    vmReady: true,
    namespaceReady: false,
  },
  {
    name: "no libkrun",
    host: {
      libkrun: () => ({
        found: false,
        rejected: [{ path: "/opt/libkrun.so.1", reason: "lacks core (krun_set_kernel)" }],
      }),
    },
    lines: {
      libkrun: {
        ok: false,
        detail: `libkrun.so.1 not found in ${LIB}, MSB_LIBKRUN or the system library paths; /opt/libkrun.so.1: lacks core (krun_set_kernel)`,
        fix: /MSB_LIBKRUN=.*scripts\/setup\.sh|scripts\/setup\.sh.*MSB_LIBKRUN=/,
      },
      vmm: { ok: true, detail: QEMU_KVM },
    },
    vmReady: true,
    namespaceReady: true,
  },
  {
    name: "libkrun without BLK (krun_has_feature)",
    host: { libkrun: () => ({ ...FULL_LIBKRUN, features: { net: true, blk: false } }) },
    lines: {
      libkrun: { ok: false, detail: `${LIB}/libkrun.so.1.19.7, version 1.19.7 lacks BLK (virtio-blk disks)` },
      vmm: { ok: true, detail: QEMU_KVM },
    },
    vmReady: true,
    namespaceReady: true,
  },
  {
    name: "libkrun 1.16 without BLK, judged by its symbols",
    host: {
      libkrun: () => ({
        ...FULL_LIBKRUN,
        realPath: `${LIB}/libkrun.so.1.16.0`,
        version: "1.16.0",
        groups: {
          block: false,
          net: true,
          console: true,
          consolePorts: false,
          vsock: false,
          virtiofs3: false,
          features: false,
        },
        missing: {
          block: "krun_add_disk",
          consolePorts: "krun_add_virtio_console_multiport",
          vsock: "krun_disable_implicit_vsock",
          virtiofs3: "krun_add_virtiofs3",
        },
        features: undefined,
      }),
    },
    lines: {
      libkrun: {
        ok: false,
        detail:
          `${LIB}/libkrun.so.1.16.0, version 1.16.0 lacks BLK (virtio-blk disks), ` +
          "console ports (krun_add_virtio_console_multiport, libkrun ≥1.17), " +
          "turning off TSI (krun_disable_implicit_vsock, libkrun ≥1.17), " +
          "read-only shares (krun_add_virtiofs3, libkrun ≥1.18)",
      },
      vmm: { ok: true, detail: QEMU_KVM },
    },
    vmReady: true,
    namespaceReady: true,
  },
  {
    name: "libkrunfw with the wrong ABI",
    host: {
      libkrunfw: () => ({
        found: true,
        path: "libkrunfw.so.5",
        realPath: "/usr/lib64/libkrunfw.so.5",
        version: undefined,
        abi: 4,
      }),
    },
    lines: {
      libkrunfw: { ok: false, detail: "/usr/lib64/libkrunfw.so.5 has ABI 4; libkrun ≥1.17 needs ABI 5" },
      vmm: {
        ok: true,
        detail: /with KVM; not libkrun \(libkrun: libkrunfw: \/usr\/lib64\/libkrunfw\.so\.5 has ABI 4/,
      },
    },
    vmReady: true,
    namespaceReady: true,
  },
  {
    name: "not root",
    host: { uid: () => 1000 },
    lines: { root: { ok: false, detail: "running as uid 1000; the namespace backend needs root" } },
    vmReady: true,
    namespaceReady: false,
  },
  {
    name: "no erofs at all",
    host: { readText: () => "nodev\toverlay\n" },
    lines: {
      erofs: {
        ok: false,
        detail: "not in /proc/filesystems and no erofs module for this kernel",
        fix: /CONFIG_EROFS_FS/,
      },
    },
    vmReady: true,
    namespaceReady: false,
  },
  {
    name: "erofs and overlay as loadable modules",
    host: {
      readText: () => "\text4\n",
      kernelModuleAvailable: (name) => name === "erofs" || name === "overlay",
    },
    lines: {
      erofs: { ok: true, detail: "loadable (kernel module erofs, loads on first mount)" },
      overlay: { ok: true, detail: "loadable (kernel module overlay, loads on first mount)" },
    },
    vmReady: true,
    namespaceReady: true,
  },
  {
    name: "no loop devices and no mkfs.ext4",
    host: { exists: (path) => path === "/", findExecutable: () => undefined },
    lines: {
      loop: { ok: false, detail: "/dev/loop-control does not exist", fix: /modprobe loop/ },
      "mkfs-ext4": { ok: false, detail: /mkfs\.ext4 not found/, fix: /apt-get install e2fsprogs/ },
      qemu: { ok: false, detail: /^qemu-system-x86_64 not found/, fix: /apt install qemu-system-x86/ },
      disk: { ok: true, detail: `50.0 GiB free in / (for ${HOME})` },
    },
    vmReady: false,
    namespaceReady: false,
  },
  {
    name: "neither libkrun nor QEMU: no VM",
    host: {
      libkrun: () => ({ found: false, rejected: [] }),
      findExecutable: (name) =>
        name === "mkfs.ext4" ? { path: "/usr/sbin/mkfs.ext4", onPath: true } : undefined,
    },
    lines: {
      libkrun: { ok: false, detail: /^libkrun\.so\.1 not found/ },
      qemu: { ok: false, detail: /^qemu-system-x86_64 not found/ },
      vmm: {
        ok: false,
        detail: /^no VMM can run here \(libkrun: libkrun\.so\.1 not found/,
        fix: /apt install qemu-system-x86/,
      },
    },
    vmReady: false,
    namespaceReady: true,
  },
  {
    name: "MSB_VMM=qemu on a libkrun host",
    host: {},
    env: { MSB_VMM: "qemu" },
    lines: {
      vmm: { ok: true, detail: "MSB_VMM=qemu: QEMU microvm (/usr/sbin/qemu-system-x86_64) with KVM" },
    },
    vmReady: true,
    namespaceReady: true,
  },
  {
    name: "MSB_VMM=qemu where QEMU's KVM probe fails: TCG, said before any run",
    host: {},
    env: { MSB_VMM: "qemu" },
    kvm: { usable: false, reason: "error: failed to set MSR 0x10a to 0x69" },
    lines: {
      vmm: {
        ok: true,
        warning: true,
        detail:
          "MSB_VMM=qemu: QEMU microvm (/usr/sbin/qemu-system-x86_64) with KVM, but QEMU cannot run KVM guests here (error: failed to set MSR 0x10a to 0x69): TCG, slow",
      },
    },
    vmReady: true,
    namespaceReady: true,
  },
  {
    name: "MSB_VMM=libkrun without libkrun",
    host: { libkrun: () => ({ found: false, rejected: [] }) },
    env: { MSB_VMM: "libkrun" },
    lines: {
      libkrun: { ok: false, detail: /^libkrun\.so\.1 not found/ },
      vmm: { ok: false, detail: /^MSB_VMM=libkrun, but libkrun\.so\.1 not found/ },
    },
    vmReady: false,
    namespaceReady: true,
  },
  {
    name: "low disk",
    host: { freeBytes: (path) => (path === "/home/dev" ? 1.5 * GIB : undefined) },
    lines: {
      disk: {
        ok: true,
        warning: true,
        detail: `only 1.5 GiB free in /home/dev (for ${HOME}); images and sandbox disks need more`,
        fix: /MSB_HOME/,
      },
    },
    vmReady: true,
    namespaceReady: true,
  },
];

const HEALTHY_DETAILS: Record<string, string> = {
  kvm: "/dev/kvm is readable and writable",
  libkrun: `${LIB}/libkrun.so.1.19.7, version 1.19.7, features NET BLK (krun_has_feature)`,
  libkrunfw: `${LIB}/libkrunfw.so.5.4.0, version 5.4.0, ABI 5`,
  qemu: "/usr/sbin/qemu-system-x86_64",
  vmm: `libkrun (${LIB}/libkrun.so.1.19.7, version 1.19.7, features NET BLK (krun_has_feature)) with KVM`,
  root: "running as root",
  loop: "/dev/loop-control present",
  erofs: "supported by the kernel",
  overlay: "supported by the kernel",
  "mkfs-ext4": "/usr/sbin/mkfs.ext4",
  disk: `50.0 GiB free in /home/dev (for ${HOME})`,
};

function doctorOn(
  host: Partial<DoctorProbe>,
  env: Record<string, string> = {},
  kvm: KvmProbe = { usable: true },
): Promise<DoctorReport> {
  return runDoctor(msbPaths(HOME), { ...healthyHost(), ...host }, env, async () => kvm);
}

describe("runDoctor on fake hosts", () => {
  for (const hostCase of CASES) {
    test(hostCase.name, async () => {
      const report = await doctorOn(hostCase.host, hostCase.env, hostCase.kvm);
      expect(report.checks.map((check) => check.id)).toEqual(Object.keys(HEALTHY_DETAILS));
      for (const check of report.checks) {
        const expected = hostCase.lines[check.id] ?? { ok: true, detail: HEALTHY_DETAILS[check.id]! };
        expect({ id: check.id, ok: check.ok, warning: check.warning === true }).toEqual({
          id: check.id,
          ok: expected.ok,
          warning: expected.warning === true,
        });
        if (typeof expected.detail === "string") expect(check.detail).toBe(expected.detail);
        else expect(check.detail).toMatch(expected.detail);
        if (expected.fix) expect(check.fix).toMatch(expected.fix);
        if (!check.ok) expect(check.fix).toBeDefined();
      }
      expect({ vmReady: report.vmReady, namespaceReady: report.namespaceReady }).toEqual({
        vmReady: hostCase.vmReady,
        namespaceReady: hostCase.namespaceReady,
      });
    });
  }

  test("features come from symbol groups when krun_has_feature is absent", async () => {
    const report = await doctorOn({ libkrun: () => ({ ...FULL_LIBKRUN, features: undefined }) });
    expect(report.checks.find((check) => check.id === "libkrun")?.detail).toBe(
      `${LIB}/libkrun.so.1.19.7, version 1.19.7, features NET BLK (from exported symbols)`,
    );
    expect(report.vmReady).toBe(true);
  });

  test("mkfs.ext4 found only in sbin is reported as off PATH", async () => {
    const report = await doctorOn({ findExecutable: () => ({ path: "/usr/sbin/mkfs.ext4", onPath: false }) });
    expect(report.checks.find((check) => check.id === "mkfs-ext4")?.detail).toBe(
      "/usr/sbin/mkfs.ext4 (not on PATH)",
    );
  });

  test("the probe is asked about $MSB_HOME/lib", async () => {
    const asked: string[] = [];
    await doctorOn({
      libkrun: (libDir) => {
        asked.push(libDir);
        return FULL_LIBKRUN;
      },
    });
    expect(asked).toEqual([LIB]);
  });
});
