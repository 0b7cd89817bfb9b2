// The root assembly plan as tables: the full step list for a namespace and a VM boot config
// (one line per step), user mount variants, overlay option escaping, target validation, and
// resolving guest paths through an image's symlinks without leaving the root.
import { describe, expect, test } from "bun:test";
import type { AgentBootConfig, BootMount } from "../../src/agent/boot-config.ts";
import { planRootAssembly, type RootStep } from "../../src/agent/mount-plan.ts";
import { validateMountTarget } from "../../src/agent/mount-target.ts";
import { resolveInRoot } from "../../src/agent/resolve-in-root.ts";

function config(backend: AgentBootConfig["backend"], mounts: BootMount[] = []): AgentBootConfig {
  return {
    version: 1,
    backend,
    hostname: "box",
    lowerDisk: backend === "vm" ? "/dev/vda" : "/img/rootfs.erofs",
    upperDisk: backend === "vm" ? "/dev/vdb" : "/sb/upper.ext4",
    runtimeDir: "/run/msb/ab12",
    agentSocket: "/run/msb/ab12/agent.sock",
    env: [],
    workdir: null,
    user: null,
    mounts,
    shutdownGraceMs: 1000,
  };
}

const where = (path: { host: string } | { guest: string }) =>
  "host" in path ? path.host : `guest:${path.guest}`;

/** One readable line per step. */
function line(step: RootStep): string {
  switch (step.kind) {
    case "mkdir":
      return `mkdir ${step.path} ${step.mode.toString(8)}`;
    case "mount": {
      const options = [step.flags.join(","), step.data ?? "", step.loop ? `loop=${step.loop}` : ""];
      return `mount ${step.fstype} ${step.source} ${where(step.target)} ${options.filter(Boolean).join(" ")}`.trim();
    }
    case "bind": {
      const options = [step.readonly ? "ro" : "rw", step.flags.join(","), step.optional ? "optional" : ""];
      return `bind ${where(step.source)} ${where(step.target)} ${options.filter(Boolean).join(" ")}`;
    }
    case "symlink":
      return `symlink ${where(step.path)} -> ${step.linkTarget}`;
    case "pivot":
      return `pivot ${step.newRoot}`;
  }
}

const STAGE = "/run/msb/ab12/.stage";
const NX = "nosuid,nodev,noexec";

const commonStart = (lower: string, upper: string, loop: boolean) => [
  `mkdir ${STAGE} 700`,
  `mount tmpfs msb-stage ${STAGE} mode=0700`,
  `mkdir ${STAGE}/lower 755`,
  `mkdir ${STAGE}/disk 755`,
  `mkdir ${STAGE}/root 755`,
  `mount erofs ${lower} ${STAGE}/lower rdonly${loop ? " loop=ro" : ""}`,
  `mount ext4 ${upper} ${STAGE}/disk${loop ? " loop=rw" : ""}`,
  `mkdir ${STAGE}/disk/upper 755`,
  `mkdir ${STAGE}/disk/work 700`,
  `mount overlay overlay ${STAGE}/root lowerdir=${STAGE}/lower,upperdir=${STAGE}/disk/upper,workdir=${STAGE}/disk/work`,
  `mount proc proc guest:/proc ${NX}`,
];

const devTail = [
  "mount devpts devpts guest:/dev/pts nosuid,noexec newinstance,ptmxmode=0666,mode=0620,gid=5",
  "mount tmpfs shm guest:/dev/shm nosuid,nodev mode=1777",
  "symlink guest:/dev/fd -> /proc/self/fd",
  "symlink guest:/dev/stdin -> /proc/self/fd/0",
  "symlink guest:/dev/stdout -> /proc/self/fd/1",
  "symlink guest:/dev/stderr -> /proc/self/fd/2",
  "symlink guest:/dev/ptmx -> pts/ptmx",
  "mount tmpfs tmpfs guest:/tmp nosuid,nodev mode=1777",
  "bind /run/msb/ab12 guest:/.msb ro nosuid,nodev",
];

const userMounts: BootMount[] = [
  { kind: "bind", source: "/host/src", target: "/src", readonly: false },
  { kind: "bind", source: "/host/cfg", target: "//etc/app/", readonly: true },
  { kind: "tmpfs", target: "/cache", sizeBytes: 1048576 },
  { kind: "tmpfs", target: "/scratch", sizeBytes: null },
  { kind: "disk", volume: "db", image: "/v/db.ext4", source: "/v/.mnt/db", target: "/data", readonly: false },
  { kind: "disk", volume: "db", image: "/v/db.ext4", source: "/v/.mnt/db", target: "/seed", readonly: true },
];

/** The same disk volume on the vm backend: a virtio-blk disk found by its serial. */
const vmUserMounts: BootMount[] = userMounts.map((mount) =>
  mount.kind === "disk" ? { ...mount, source: "msb-vol-0" } : mount,
);

describe("planRootAssembly", () => {
  test("namespace: loop-mounted disks, protected /proc, read-only /sys, host device nodes, binds", () => {
    expect(planRootAssembly(config("namespace", userMounts)).map(line)).toEqual([
      ...commonStart("/img/rootfs.erofs", "/sb/upper.ext4", true),
      `bind guest:/proc/sys guest:/proc/sys ro ${NX} optional`,
      `bind guest:/proc/sysrq-trigger guest:/proc/sysrq-trigger ro ${NX} optional`,
      `bind guest:/proc/irq guest:/proc/irq ro ${NX} optional`,
      `bind guest:/proc/bus guest:/proc/bus ro ${NX} optional`,
      `bind /dev/null guest:/proc/kcore ro ${NX} optional`,
      `bind /dev/null guest:/proc/keys ro ${NX} optional`,
      `bind /dev/null guest:/proc/timer_list ro ${NX} optional`,
      `bind /dev/null guest:/proc/sched_debug ro ${NX} optional`,
      `mount sysfs sysfs guest:/sys rdonly,${NX}`,
      "mount tmpfs tmpfs guest:/dev nosuid mode=0755,size=65536k",
      ...["null", "zero", "full", "random", "urandom", "tty"].map(
        (node) => `bind /dev/${node} guest:/dev/${node} rw`,
      ),
      ...devTail,
      "bind /host/src guest:/src rw",
      "bind /host/cfg guest:/etc/app ro",
      "mount tmpfs tmpfs guest:/cache nosuid,nodev mode=1777,size=1048576",
      "mount tmpfs tmpfs guest:/scratch nosuid,nodev mode=1777",
      "bind /v/.mnt/db guest:/data rw",
      "bind /v/.mnt/db guest:/seed ro",
      `pivot ${STAGE}/root`,
    ]);
  });

  test("vm: block devices, writable /sys, devtmpfs, virtio-fs tags for binds", () => {
    expect(planRootAssembly(config("vm", vmUserMounts)).map(line)).toEqual([
      ...commonStart("/dev/vda", "/dev/vdb", false),
      `mount sysfs sysfs guest:/sys ${NX}`,
      "mount devtmpfs devtmpfs guest:/dev nosuid mode=0755",
      ...devTail,
      "mount virtiofs /host/src guest:/src",
      "mount virtiofs /host/cfg guest:/etc/app rdonly",
      "mount tmpfs tmpfs guest:/cache nosuid,nodev mode=1777,size=1048576",
      "mount tmpfs tmpfs guest:/scratch nosuid,nodev mode=1777",
      "mount ext4 msb-vol-0 guest:/data",
      "mount ext4 msb-vol-0 guest:/seed rdonly",
      `pivot ${STAGE}/root`,
    ]);
  });

  test("overlay options escape commas, colons and backslashes in the runtime path", () => {
    const overlay = planRootAssembly({ ...config("namespace"), runtimeDir: "/home/a,b:c\\d" }).find(
      (step) => step.kind === "mount" && step.fstype === "overlay",
    );
    const escaped = "/home/a\\,b\\:c\\\\d/.stage";
    expect(overlay?.kind === "mount" ? overlay.data : null).toBe(
      `lowerdir=${escaped}/lower,upperdir=${escaped}/disk/upper,workdir=${escaped}/disk/work`,
    );
  });

  test("an invalid user mount target fails the whole plan", () => {
    const bad = config("namespace", [{ kind: "tmpfs", target: "/dev/shm", sizeBytes: null }]);
    expect(() => planRootAssembly(bad)).toThrow(
      'invalid mount target "/dev/shm": /dev belongs to the sandbox agent',
    );
  });
});

describe("validateMountTarget", () => {
  test.each([
    ["/data", "/data"],
    ["/data/", "/data"],
    ["//srv//www/", "/srv/www"],
    ["/procfs", "/procfs"],
    ["/devices/x", "/devices/x"],
    ["/.msbx", "/.msbx"],
    ["/tmp", "/tmp"],
  ])("%p is accepted as %p", (target, normalized) => {
    expect(validateMountTarget(target)).toBe(normalized);
  });

  test.each([
    ["data", "it must be an absolute path"],
    ["", "it must be an absolute path"],
    ["/", "it must not be the root itself"],
    ["///", "it must not be the root itself"],
    ["/a/../etc", "it must not contain . or .."],
    ["/a/./b", "it must not contain . or .."],
    ["/a\0b", "it contains a NUL byte"],
    ["/proc", "/proc belongs to the sandbox agent"],
    ["/proc/sys/x", "/proc belongs to the sandbox agent"],
    ["/sys/fs/cgroup", "/sys belongs to the sandbox agent"],
    ["/dev", "/dev belongs to the sandbox agent"],
    ["/.msb/scripts", "/.msb belongs to the sandbox agent"],
  ])("%p is refused: %s", (target, why) => {
    expect(() => validateMountTarget(target)).toThrow(why);
  });
});

describe("resolveInRoot", () => {
  const links: Record<string, string> = {
    "/r/escape": "/",
    "/r/up": "../../..",
    "/r/etc": "/private/etc",
    "/r/private/etc/localtime": "../../usr/share/zoneinfo/UTC",
    "/r/loop-a": "loop-b",
    "/r/loop-b": "loop-a",
    "/r/data/current": "./v2",
  };
  const readLink = (path: string) => links[path] ?? null;

  test.each([
    ["/", "/r"],
    ["/a/b", "/r/a/b"],
    ["/escape/hosttmp", "/r/hosttmp"],
    ["/up/etc/passwd", "/r/private/etc/passwd"],
    ["/../../etc/hosts", "/r/private/etc/hosts"],
    ["/etc/localtime", "/r/usr/share/zoneinfo/UTC"],
    ["/data/current/x", "/r/data/v2/x"],
    ["/escape/../..", "/r"],
  ])("%p resolves to %p", (guest, host) => {
    expect(resolveInRoot("/r", guest, readLink)).toBe(host);
    expect(resolveInRoot("/r/", guest, readLink)).toBe(host);
  });

  test("a symlink loop is refused", () => {
    expect(() => resolveInRoot("/r", "/loop-a/x", readLink)).toThrow("too many symlinks");
  });
});
