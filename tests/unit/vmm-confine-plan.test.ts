// The libkrun vmm's confinement as data: which host paths are bound into the VM's root and how,
// the paths libkrun gets once confined, and the argv the supervisor starts the vmm with.
import { describe, expect, test } from "bun:test";
import { MsbError } from "../../src/errors.ts";
import {
  buildVmmArgv,
  type ConfineBind,
  confinedBoot,
  planVmmConfinement,
} from "../../src/vmm/confine-plan.ts";
import { buildLibkrunBoot } from "../../src/vmm/libkrun-boot.ts";
import type { VmDisk, VmShare, VmSpec } from "../../src/vmm/vm-spec.ts";

const BOOT = "/var/lib/msb/lib/boot/0123456789abcdef";
const LOWER: VmDisk = { serial: "msb-lower", path: "/var/lib/msb/images/ab/rootfs.erofs", readOnly: true };
const UPPER: VmDisk = { serial: "msb-upper", path: "/var/lib/msb/sandboxes/box/upper.ext4", readOnly: false };

function vm(shares: VmShare[], disks: VmDisk[] = [LOWER, UPPER]): VmSpec {
  return {
    version: 1,
    cpus: 1,
    memoryMib: 512,
    consoleLog: "/var/lib/msb/sandboxes/box/logs/guest.log",
    disks,
    shares,
    network: { socket: "/run/msb/box/net.sock", mac: "02:6d:73:00:00:00" },
    agentPort: { name: "msb-agent", socket: "/run/msb/box/agent.sock" },
  };
}

const share = (tag: string, path: string, readOnly: boolean): VmShare => ({ tag, path, readOnly });
const dir = (path: string, readOnly: boolean): ConfineBind => ({ path, kind: "dir", readOnly });
const file = (path: string, readOnly: boolean): ConfineBind => ({ path, kind: "file", readOnly });

describe("planVmmConfinement", () => {
  test.each<[string, VmSpec, ConfineBind[]]>([
    [
      "the boot root read-only, the disks as files, by depth then name",
      vm([]),
      [file(LOWER.path, true), dir(BOOT, true), file(UPPER.path, false)],
    ],
    [
      "shares keep their mode; parents come before what is nested in them",
      vm([share("msb-m0", "/srv/data/sub", false), share("msb-m1", "/srv", true)], []),
      [dir("/srv", true), dir("/srv/data/sub", false), dir(BOOT, true)],
    ],
    [
      "one path shared read-only and read-write is bound once, read-write",
      vm([share("msb-m0", "/srv", true), share("msb-m1", "/srv", false)], []),
      [dir("/srv", false), dir(BOOT, true)],
    ],
    [
      "a disk volume used read-only by two mounts stays read-only",
      vm([], [LOWER, { serial: "msb-vol-0", path: LOWER.path, readOnly: true }]),
      [file(LOWER.path, true), dir(BOOT, true)],
    ],
  ])("%s", (_, spec, binds) => {
    const plan = planVmmConfinement(buildLibkrunBoot(spec, BOOT), "/run/msb/box/vmm", ["/dev/kvm"]);
    expect(plan).toEqual({
      namespaceRoot: "/run/msb/box/vmm/root",
      hiddenRoot: ".msb-vmm",
      binds,
      devices: ["/dev/kvm"],
    });
  });

  test.each<[string, VmSpec, string]>([
    ["a relative share", vm([share("msb-m0", "srv", false)]), 'to "srv": not a plain absolute path'],
    ["the host's root", vm([share("msb-m0", "/", false)]), 'to "/": not a plain absolute path'],
    ["a path with ..", vm([share("msb-m0", "/srv/../etc", false)]), "not a plain absolute path"],
    ["a trailing slash", vm([share("msb-m0", "/srv/", false)]), "not a plain absolute path"],
    ["the vmm's own name", vm([share("msb-m0", "/.msb-vmm/x", false)]), "/.msb-vmm is the vmm's own"],
    [
      "a path both shared and a disk",
      vm([share("msb-m0", LOWER.path, false)]),
      `${LOWER.path} is both a shared folder and a disk`,
    ],
  ])("refuses %s", (_, spec, message) => {
    const plan = () => planVmmConfinement(buildLibkrunBoot(spec, BOOT), "/run/msb/box/vmm");
    expect(plan).toThrow(MsbError);
    expect(plan).toThrow(message);
  });
});

describe("confinedBoot", () => {
  test("libkrun gets every path it opens relative to the VM's root; nothing else changes", () => {
    const spec = vm([share("msb-m0", "/srv", true)]);
    const boot = buildLibkrunBoot(spec, BOOT);
    expect(confinedBoot(boot)).toEqual({
      ...boot,
      root: `.${BOOT}`,
      vm: {
        ...spec,
        disks: [
          { ...LOWER, path: `.${LOWER.path}` },
          { ...UPPER, path: `.${UPPER.path}` },
        ],
        shares: [share("msb-m0", "./srv", true)],
      },
    });
  });
});

describe("buildVmmArgv", () => {
  const vmm = ["/usr/local/bin/msb", "vmm", "/run/msb/box/vm.json"];
  test.each<[string, string | null, string[]]>([
    ["not root: the vmm as is", null, vmm],
    [
      "root: under unshare, in a private mount namespace",
      "/usr/bin/unshare",
      ["/usr/bin/unshare", "--mount", "--propagation", "private", "--", ...vmm],
    ],
  ])("%s", (_, unshare, argv) => {
    expect(buildVmmArgv(vmm, unshare)).toEqual(argv);
  });
});
