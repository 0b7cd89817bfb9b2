// Cgroup layout detection and limit files as tables: the hybrid v1 host these tests run on,
// co-mounted v1 controllers, pure v2, a hybrid whose controllers sit on v2, hosts without
// usable controllers, CPU/memory conversions, and the directories removal looks for by name.
import { describe, expect, test } from "bun:test";
import { type CgroupHostView, detectCgroupLayout, planCgroup } from "../../src/backend/cgroup-plan.ts";

const v1 = (id: number, root: string, mountpoint: string, options: string) =>
  `${id} 31 0:${id} ${root} ${mountpoint} rw,relatime - cgroup cgroup rw,${options}`;
const v2 = (id: number, mountpoint: string) =>
  `${id} 31 0:${id} / ${mountpoint} rw,relatime - cgroup2 cgroup2 rw`;
const rootMount = "23 1 8:1 / / rw,relatime - ext4 /dev/vda rw";

function view(mountInfo: string[], controllers: Record<string, string> = {}): CgroupHostView {
  return {
    mountInfo: [rootMount, ...mountInfo].join("\n"),
    v2Controllers: (mountpoint) => controllers[mountpoint] ?? null,
  };
}

const hybrid = view(
  [
    v1(32, "/", "/sys/fs/cgroup/cpu", "cpu"),
    v1(33, "/", "/sys/fs/cgroup/cpuacct", "cpuacct"),
    v1(34, "/", "/sys/fs/cgroup/cpuset", "cpuset"),
    v1(35, "/", "/sys/fs/cgroup/memory", "memory"),
    v2(41, "/sys/fs/cgroup/unified"),
  ],
  { "/sys/fs/cgroup/unified": "" },
);

const cpuAcctV1 = view([
  v1(32, "/", "/sys/fs/cgroup/cpu,cpuacct", "cpu,cpuacct"),
  v1(35, "/", "/sys/fs/cgroup/memory", "memory"),
]);

const coMounted = view([v1(32, "/", "/cg/all", "memory,cpu,cpuacct")]);

const pureV2 = view([v2(30, "/sys/fs/cgroup")], {
  "/sys/fs/cgroup": "cpuset cpu io memory hugetlb pids rdma misc\n",
});

const hybridControllersOnV2 = view(
  [v1(40, "/", "/sys/fs/cgroup/systemd", "xattr,name=systemd"), v2(41, "/sys/fs/cgroup/unified")],
  { "/sys/fs/cgroup/unified": "cpu memory pids" },
);

const MiB = 1024 * 1024;

describe("detectCgroupLayout + planCgroup", () => {
  test.each<[string, CgroupHostView, number, number, { dirs: string[]; writes: string[]; version: 1 | 2 }]>([
    [
      "hybrid v1 host",
      hybrid,
      1,
      512 * MiB,
      {
        version: 1,
        dirs: ["/sys/fs/cgroup/memory/msb/sb1", "/sys/fs/cgroup/cpu/msb/sb1"],
        writes: [
          "/sys/fs/cgroup/memory/msb/sb1/memory.limit_in_bytes=536870912",
          "/sys/fs/cgroup/memory/msb/sb1/memory.memsw.limit_in_bytes=536870912?",
          "/sys/fs/cgroup/cpu/msb/sb1/cpu.cfs_period_us=100000",
          "/sys/fs/cgroup/cpu/msb/sb1/cpu.cfs_quota_us=100000",
        ],
      },
    ],
    [
      "v1 with cpu and cpuacct co-mounted",
      cpuAcctV1,
      2,
      1024 * MiB,
      {
        version: 1,
        dirs: ["/sys/fs/cgroup/memory/msb/sb1", "/sys/fs/cgroup/cpu,cpuacct/msb/sb1"],
        writes: [
          "/sys/fs/cgroup/memory/msb/sb1/memory.limit_in_bytes=1073741824",
          "/sys/fs/cgroup/memory/msb/sb1/memory.memsw.limit_in_bytes=1073741824?",
          "/sys/fs/cgroup/cpu,cpuacct/msb/sb1/cpu.cfs_period_us=100000",
          "/sys/fs/cgroup/cpu,cpuacct/msb/sb1/cpu.cfs_quota_us=200000",
        ],
      },
    ],
    [
      "v1 with memory and cpu in one hierarchy: one directory",
      coMounted,
      0.5,
      64 * MiB,
      {
        version: 1,
        dirs: ["/cg/all/msb/sb1"],
        writes: [
          "/cg/all/msb/sb1/memory.limit_in_bytes=67108864",
          "/cg/all/msb/sb1/memory.memsw.limit_in_bytes=67108864?",
          "/cg/all/msb/sb1/cpu.cfs_period_us=100000",
          "/cg/all/msb/sb1/cpu.cfs_quota_us=50000",
        ],
      },
    ],
    [
      "pure v2: under the root's msb/, controllers enabled on the way",
      pureV2,
      0.5,
      256 * MiB,
      {
        version: 2,
        dirs: ["/sys/fs/cgroup/msb/sb1"],
        writes: [
          "/sys/fs/cgroup/cgroup.subtree_control=+memory +cpu",
          "/sys/fs/cgroup/msb/cgroup.subtree_control=+memory +cpu",
          "/sys/fs/cgroup/msb/sb1/memory.max=268435456",
          "/sys/fs/cgroup/msb/sb1/memory.swap.max=0?",
          "/sys/fs/cgroup/msb/sb1/cpu.max=50000 100000",
        ],
      },
    ],
    [
      "hybrid whose controllers are on the unified hierarchy",
      hybridControllersOnV2,
      2,
      128 * MiB,
      {
        version: 2,
        dirs: ["/sys/fs/cgroup/unified/msb/sb1"],
        writes: [
          "/sys/fs/cgroup/unified/cgroup.subtree_control=+memory +cpu",
          "/sys/fs/cgroup/unified/msb/cgroup.subtree_control=+memory +cpu",
          "/sys/fs/cgroup/unified/msb/sb1/memory.max=134217728",
          "/sys/fs/cgroup/unified/msb/sb1/memory.swap.max=0?",
          "/sys/fs/cgroup/unified/msb/sb1/cpu.max=200000 100000",
        ],
      },
    ],
  ])("%s", (_, host, cpus, memoryBytes, expected) => {
    const plan = planCgroup(detectCgroupLayout(host), "sb1", { cpus, memoryBytes });
    expect({
      version: plan.version,
      dirs: plan.dirs,
      writes: plan.writes.map((write) => `${write.path}=${write.value}${write.optional ? "?" : ""}`),
    }).toEqual(expected);
    expect(plan.procsFiles).toEqual(expected.dirs.map((dir) => `${dir}/cgroup.procs`));
  });

  test.each([
    [1, "100000"],
    [2, "200000"],
    [0.5, "50000"],
    [1.234, "123400"],
    [0.001, "1000"],
    [0.0001, "1000"],
  ])("%p CPUs is a quota of %p µs per 100 ms", (cpus, quota) => {
    const plan = planCgroup(detectCgroupLayout(pureV2), "sb1", { cpus, memoryBytes: MiB });
    expect(plan.writes.find((write) => write.path.endsWith("cpu.max"))?.value).toBe(`${quota} 100000`);
  });

  test.each<[string, CgroupHostView, string]>([
    [
      "v1 without a cpu controller",
      view([v1(35, "/", "/sys/fs/cgroup/memory", "memory")]),
      "the cgroup v1 cpu controller is not mounted",
    ],
    [
      "v2 without the memory controller",
      view([v2(30, "/sys/fs/cgroup")], { "/sys/fs/cgroup": "cpu io pids" }),
      "no cgroup hierarchy offers the memory and cpu controllers",
    ],
    ["no cgroup filesystem at all", view([]), "no cgroup hierarchy offers the memory and cpu controllers"],
  ])("%s is refused", (_, host, message) => {
    expect(() => detectCgroupLayout(host)).toThrow(message);
  });

  test.each<[string, string, number, number, string]>([
    ["a path as name", "../escape", 1, MiB, "invalid cgroup name"],
    ["an empty name", "", 1, MiB, "invalid cgroup name"],
    ["zero CPUs", "sb1", 0, MiB, "invalid CPU limit 0"],
    ["NaN CPUs", "sb1", Number.NaN, MiB, "invalid CPU limit NaN"],
    ["no memory", "sb1", 1, 0, "invalid memory limit 0"],
  ])("%s is refused", (_, name, cpus, memoryBytes, message) => {
    expect(() => planCgroup(detectCgroupLayout(pureV2), name, { cpus, memoryBytes })).toThrow(message);
  });

  test("mount points with escaped spaces are decoded", () => {
    const host = view([v2(30, "/sys/fs/my\\040cgroup")], { "/sys/fs/my cgroup": "cpu memory" });
    expect(detectCgroupLayout(host)).toEqual({ version: 2, mount: "/sys/fs/my cgroup" });
  });
});
