// The qemu-system command line for VM sandboxes: machine, accelerator, kernel command line,
// disks by serial (the boot disk last), the NIC on net.sock, the named agent port, virtio-fs
// shares and their virtiofsd command lines, over a table of specs.
import { describe, expect, test } from "bun:test";
import { buildQemuArgv, kernelCmdline, quote } from "../../src/vmm/qemu-argv.ts";
import { virtiofsdArgv } from "../../src/vmm/qemu-virtiofs.ts";
import { AGENT_PORT_NAME, type VmSpec } from "../../src/vmm/vm-spec.ts";

const guest = { kernel: "/g/vmlinuz", initramfs: "/g/initramfs.cpio", bootDisk: "/g/boot.erofs" };

const base: VmSpec = {
  version: 1,
  cpus: 2,
  memoryMib: 512,
  consoleLog: "/sb/logs/guest.log",
  disks: [
    { serial: "msb-lower", path: "/img/rootfs.erofs", readOnly: true },
    { serial: "msb-upper", path: "/sb/upper.ext4", readOnly: false },
  ],
  shares: [],
  network: { socket: "/run/ab/net.sock", mac: "02:6d:73:00:00:02" },
  agentPort: { name: AGENT_PORT_NAME, socket: "/run/ab/agent.sock" },
};

/** The value after each occurrence of `flag`. */
function values(argv: string[], flag: string): string[] {
  return argv.flatMap((arg, index) => (arg === flag ? [argv[index + 1] as string] : []));
}

describe("buildQemuArgv", () => {
  test("a networked sandbox under TCG", () => {
    const argv = buildQemuArgv({
      binary: "/usr/bin/qemu-system-x86_64",
      spec: base,
      guest,
      accel: "tcg",
      shareSockets: [],
    });
    expect(argv[0]).toBe("/usr/bin/qemu-system-x86_64");
    expect(values(argv, "-M")).toEqual(["microvm,x-option-roms=off,rtc=on"]);
    expect(values(argv, "-accel")).toEqual(["tcg"]);
    expect(values(argv, "-cpu")).toEqual(["max"]);
    expect(values(argv, "-smp")).toEqual(["2"]);
    expect(values(argv, "-m")).toEqual(["512M"]);
    expect(values(argv, "-kernel")).toEqual(["/g/vmlinuz"]);
    expect(values(argv, "-initrd")).toEqual(["/g/initramfs.cpio"]);
    expect(values(argv, "-serial")).toEqual(["stdio"]);
    expect(argv).toContain("-no-reboot");
    expect(argv).toContain("-nodefaults");
    expect(values(argv, "-drive")).toEqual([
      "id=disk0,file=/img/rootfs.erofs,format=raw,if=none,readonly=on",
      "id=disk1,file=/sb/upper.ext4,format=raw,if=none",
      "id=disk2,file=/g/boot.erofs,format=raw,if=none,readonly=on",
    ]);
    expect(values(argv, "-netdev")).toEqual([
      "stream,id=net0,server=off,addr.type=unix,addr.path=/run/ab/net.sock",
    ]);
    expect(values(argv, "-chardev")).toEqual(["socket,id=agent,path=/run/ab/agent.sock"]);
    expect(values(argv, "-device")).toEqual([
      "virtio-blk-device,drive=disk0,serial=msb-lower",
      "virtio-blk-device,drive=disk1,serial=msb-upper",
      "virtio-blk-device,drive=disk2,serial=msb-boot",
      "virtio-net-device,netdev=net0,mac=02:6d:73:00:00:02",
      "virtio-serial-device",
      "virtserialport,chardev=agent,name=msb-agent",
    ]);
  });

  test.each<[string, Partial<VmSpec>, "kvm" | "tcg", (argv: string[]) => void]>([
    [
      "--no-network has no NIC at all",
      { network: null },
      "tcg",
      (argv) => {
        expect(values(argv, "-netdev")).toEqual([]);
        expect(argv.some((arg) => arg.startsWith("virtio-net"))).toBe(false);
      },
    ],
    [
      "KVM uses the host CPU and no TCG timer options",
      {},
      "kvm",
      (argv) => {
        expect(values(argv, "-accel")).toEqual(["kvm"]);
        expect(values(argv, "-cpu")).toEqual(["host"]);
        expect(values(argv, "-append")).toEqual(["console=ttyS0 quiet panic=-1"]);
      },
    ],
    [
      "commas in paths are doubled",
      {
        disks: [{ serial: "msb-lower", path: "/a,b/rootfs.erofs", readOnly: true }],
        agentPort: { name: AGENT_PORT_NAME, socket: "/r,1/agent.sock" },
      },
      "tcg",
      (argv) => {
        expect(values(argv, "-drive")[0]).toBe(
          "id=disk0,file=/a,,b/rootfs.erofs,format=raw,if=none,readonly=on",
        );
        expect(values(argv, "-chardev")).toEqual(["socket,id=agent,path=/r,,1/agent.sock"]);
      },
    ],
    [
      "one vCPU and the memory in MiB",
      { cpus: 1, memoryMib: 2048 },
      "tcg",
      (argv) => {
        expect(values(argv, "-smp")).toEqual(["1"]);
        expect(values(argv, "-m")).toEqual(["2048M"]);
      },
    ],
  ])("%s", (_, change, accel, check) => {
    check(buildQemuArgv({ binary: "qemu", spec: { ...base, ...change }, guest, accel, shareSockets: [] }));
  });

  test("shares: guest RAM in shared memory and one vhost-user-fs device per share, by tag", () => {
    const spec: VmSpec = {
      ...base,
      shares: [
        { tag: "msb-m0", path: "/home/me/src", readOnly: false },
        { tag: "msb-m1", path: "/data", readOnly: true },
      ],
    };
    const argv = buildQemuArgv({
      binary: "qemu",
      spec,
      guest,
      accel: "tcg",
      shareSockets: ["/run/ab/fs0.sock", "/run/ab/fs1.sock"],
    });
    expect(values(argv, "-M")).toEqual(["microvm,x-option-roms=off,rtc=on,memory-backend=mem"]);
    expect(values(argv, "-object")).toEqual(["memory-backend-memfd,id=mem,size=512M,share=on"]);
    expect(values(argv, "-chardev").slice(0, 2)).toEqual([
      "socket,id=fs0,path=/run/ab/fs0.sock",
      "socket,id=fs1,path=/run/ab/fs1.sock",
    ]);
    expect(values(argv, "-device").filter((device) => device.startsWith("vhost-user-fs"))).toEqual([
      "vhost-user-fs-device,chardev=fs0,tag=msb-m0",
      "vhost-user-fs-device,chardev=fs1,tag=msb-m1",
    ]);
  });

  test("no shares: private guest RAM", () => {
    const argv = buildQemuArgv({ binary: "qemu", spec: base, guest, accel: "tcg", shareSockets: [] });
    expect(values(argv, "-object")).toEqual([]);
  });

  test("a share without its virtiofsd socket is a programming error", () => {
    const spec = { ...base, shares: [{ tag: "msb-m0", path: "/src", readOnly: false }] };
    expect(() => buildQemuArgv({ binary: "qemu", spec, guest, accel: "tcg", shareSockets: [] })).toThrow(
      "1 shares but 0 virtiofsd sockets",
    );
  });
});

describe("virtiofsdArgv", () => {
  test("a writable share runs virtiofsd on the folder", () => {
    expect(
      virtiofsdArgv(
        "/usr/lib/qemu/virtiofsd",
        { tag: "msb-m0", path: "/src", readOnly: false },
        "/r/fs0.sock",
      ),
    ).toEqual([
      "/usr/lib/qemu/virtiofsd",
      "--socket-path=/r/fs0.sock",
      "-o",
      "source=/src",
      "-o",
      "cache=auto",
      "-o",
      "xattr",
    ]);
  });

  test("a read-only share binds the folder read-only in a private mount namespace first", () => {
    const argv = virtiofsdArgv("/v", { tag: "msb-m1", path: "/data dir", readOnly: true }, "/r/fs1.sock");
    expect(argv.slice(0, 5)).toEqual(["unshare", "--mount", "--propagation", "private", "--"]);
    expect(argv.slice(5, 7)).toEqual(["/bin/sh", "-c"]);
    expect(argv[7]).toContain('mount -o remount,bind,ro "$1"');
    expect(argv.slice(8)).toEqual([
      "msb-virtiofs",
      "/data dir",
      "/v",
      "--socket-path=/r/fs1.sock",
      "-o",
      "source=/data dir",
      "-o",
      "cache=auto",
      "-o",
      "xattr",
    ]);
  });
});

describe("kernelCmdline", () => {
  test.each([
    ["tcg", "console=ttyS0 quiet panic=-1 tsc_early_khz=2000000 tsc=reliable no_timer_check"],
    ["kvm", "console=ttyS0 quiet panic=-1"],
  ] as const)("%s", (accel, expected) => {
    expect(kernelCmdline(accel)).toBe(expected);
  });
});

describe("quote", () => {
  test.each([
    ["/plain/path", "/plain/path"],
    ["a,b", "a,,b"],
    [",,", ",,,,"],
  ])("%s", (input, expected) => {
    expect(quote(input)).toBe(expected);
  });
});
