// The agent's stats collectors over fixture trees (tests/fixtures/metrics): a namespace sandbox
// on cgroup v1 (memory from its cgroup, CPU and disk summed over its processes, since it is not
// in a cpuacct or blkio cgroup of its own), one on cgroup v2, and a VM guest's /proc; then which
// source the agent picks for other host layouts.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type GuestFiles,
  planStatsSource,
  readCounters,
  type SourceProbe,
  sourceFiles,
} from "../../src/metrics/stats-source.ts";

const FIXTURES = join(import.meta.dir, "../fixtures/metrics");
const MIB = 1024 * 1024;

/** The fixture tree `name` seen as the agent sees its host: absolute paths under the tree. */
function fixtureHost(name: string, backend: SourceProbe["backend"] = "namespace") {
  const root = join(FIXTURES, name);
  const text = (file: string) => (existsSync(join(root, file)) ? readFileSync(join(root, file), "utf8") : "");
  const probe: SourceProbe = {
    backend,
    procSelfCgroup: text("proc-self-cgroup"),
    mountInfo: text("mountinfo"),
    exists: (path) => existsSync(join(root, path)),
  };
  const files: GuestFiles = {
    read: (path) => (existsSync(join(root, path)) ? readFileSync(join(root, path), "utf8") : null),
    pids: () =>
      readdirSync(join(root, "proc"))
        .filter((entry) => /^\d+$/.test(entry))
        .map(Number),
  };
  return { probe, files };
}

describe("collectors over fixture files", () => {
  test("cgroup v1: memory from the sandbox's cgroup, CPU and disk from its processes", () => {
    const { probe, files } = fixtureHost("cgroup-v1");
    const source = planStatsSource(probe);
    expect(source.label).toBe("cgroup1+processes");
    expect(sourceFiles(source)).toEqual([
      "/sys/fs/cgroup/memory/msb/box/memory.usage_in_bytes",
      "/sys/fs/cgroup/memory/msb/box/memory.stat",
      "/sys/fs/cgroup/memory/msb/box/memory.limit_in_bytes",
    ]);
    expect(readCounters(source, files)).toEqual({
      // utime+stime+cutime+cstime of pids 1, 7 and 9: 490 + 10 + 500 ticks of 10 ms.
      cpuUsec: 10_000_000,
      // usage minus total_inactive_file.
      memoryBytes: 150 * MIB - 10 * MIB,
      memoryLimitBytes: 512 * MIB,
      diskReadBytes: 1.5 * MIB,
      // write_bytes minus cancelled_write_bytes.
      diskWriteBytes: 3 * MIB,
    });
  });

  test("cgroup v2: cpu.stat, memory.current less inactive files, no limit, io.stat", () => {
    const { probe, files } = fixtureHost("cgroup-v2");
    const source = planStatsSource(probe);
    expect(source.label).toBe("cgroup2");
    expect(readCounters(source, files)).toEqual({
      cpuUsec: 7_250_000,
      memoryBytes: 256 * MIB - 40 * MIB,
      memoryLimitBytes: null,
      diskReadBytes: 4 * MIB,
      diskWriteBytes: 8 * MIB,
    });
  });

  test("VM guest: /proc/stat busy time, MemTotal - MemAvailable, whole virtio disks", () => {
    const { probe, files } = fixtureHost("vm", "vm");
    const source = planStatsSource(probe);
    expect(source.label).toBe("vm");
    expect(sourceFiles(source)).toEqual([]);
    expect(readCounters(source, files)).toEqual({
      // user+nice+system+irq+softirq+steal = 1700 ticks.
      cpuUsec: 17_000_000,
      memoryBytes: (507_904 - 400_000) * 1024,
      memoryLimitBytes: 507_904 * 1024,
      // vda and vdb, not the partition vdb1 nor loop0; 512-byte sectors.
      diskReadBytes: (24_576 + 8_192) * 512,
      diskWriteBytes: 65_536 * 512,
    });
  });

  test("missing files read as unknown, not as zero", () => {
    const { probe } = fixtureHost("cgroup-v2");
    const source = planStatsSource(probe);
    const nothing: GuestFiles = { read: () => null, pids: () => [] };
    expect(readCounters(source, nothing)).toEqual({
      cpuUsec: null,
      memoryBytes: null,
      memoryLimitBytes: null,
      diskReadBytes: null,
      diskWriteBytes: null,
    });
  });
});

/** A probe from a /proc/self/cgroup text, mountinfo lines and the files that exist. */
function probe(cgroup: string, mounts: string[], files: string[]): SourceProbe {
  const present = new Set(files);
  return {
    backend: "namespace",
    procSelfCgroup: cgroup,
    mountInfo: mounts.join("\n"),
    exists: (path) => present.has(path),
  };
}

const V1_COMOUNTED = [
  "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct",
  "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
  "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio",
];

describe("planStatsSource", () => {
  const cases: Array<{ name: string; probe: SourceProbe; cpu: unknown; disk: unknown; label: string }> = [
    {
      name: "v1 with cpu,cpuacct co-mounted and a blkio cgroup of its own: all from cgroups",
      probe: probe("7:blkio:/msb/box\n4:memory:/msb/box\n2:cpu,cpuacct:/msb/box\n", V1_COMOUNTED, [
        "/sys/fs/cgroup/memory/msb/box/memory.usage_in_bytes",
        "/sys/fs/cgroup/cpu,cpuacct/msb/box/cpuacct.usage",
        "/sys/fs/cgroup/blkio/msb/box/blkio.throttle.io_service_bytes_recursive",
      ]),
      label: "cgroup1",
      cpu: { from: "cgroup", file: "/sys/fs/cgroup/cpu,cpuacct/msb/box/cpuacct.usage", unit: "cpuacct" },
      disk: {
        from: "cgroup",
        file: "/sys/fs/cgroup/blkio/msb/box/blkio.throttle.io_service_bytes_recursive",
        format: "blkio",
      },
    },
    {
      name: "v1 co-mounted cpuacct but the host's blkio root: disk from processes",
      probe: probe("7:blkio:/\n4:memory:/msb/box\n2:cpu,cpuacct:/msb/box\n", V1_COMOUNTED, [
        "/sys/fs/cgroup/memory/msb/box/memory.usage_in_bytes",
        "/sys/fs/cgroup/cpu,cpuacct/msb/box/cpuacct.usage",
        "/sys/fs/cgroup/blkio/blkio.throttle.io_service_bytes_recursive",
      ]),
      label: "cgroup1+processes",
      cpu: { from: "cgroup", file: "/sys/fs/cgroup/cpu,cpuacct/msb/box/cpuacct.usage", unit: "cpuacct" },
      disk: { from: "processes" },
    },
    {
      name: "hybrid: v1 owns memory, the sandbox sits in the supervisor's v2 cgroup, v1 wins",
      probe: probe(
        "4:memory:/msb/box\n2:cpu,cpuacct:/msb/box\n0::/system.slice/msb.service\n",
        [...V1_COMOUNTED, "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw"],
        [
          "/sys/fs/cgroup/memory/msb/box/memory.usage_in_bytes",
          "/sys/fs/cgroup/cpu,cpuacct/msb/box/cpuacct.usage",
          "/sys/fs/cgroup/unified/system.slice/msb.service/memory.current",
        ],
      ),
      label: "cgroup1+processes",
      cpu: { from: "cgroup", file: "/sys/fs/cgroup/cpu,cpuacct/msb/box/cpuacct.usage", unit: "cpuacct" },
      disk: { from: "processes" },
    },
    {
      name: "v2 mounted below a container's own cgroup (mount root is not /)",
      probe: probe(
        "0::/docker/abc/msb/box\n",
        ["24 30 0:22 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw"],
        ["/sys/fs/cgroup/msb/box/memory.current"],
      ),
      label: "cgroup2+processes",
      cpu: { from: "cgroup", file: "/sys/fs/cgroup/msb/box/cpu.stat", unit: "usage_usec" },
      disk: { from: "processes" },
    },
    {
      name: "no cgroup the agent can read: processes only",
      probe: probe("0::/\n", [], []),
      label: "processes",
      cpu: { from: "processes" },
      disk: { from: "processes" },
    },
  ];
  for (const { name, probe: input, label, cpu, disk } of cases) {
    test(name, () => {
      const source = planStatsSource(input);
      expect(source.label).toBe(label);
      expect(source.cpu).toEqual(cpu as never);
      expect(source.disk).toEqual(disk as never);
    });
  }

  test("a mount point with a space is unescaped", () => {
    const source = planStatsSource(
      probe(
        "0::/msb/box\n",
        ["24 30 0:22 / /cg\\040root rw - cgroup2 cgroup2 rw"],
        ["/cg root/msb/box/memory.current"],
      ),
    );
    expect(source.memory).toEqual(expect.objectContaining({ usage: "/cg root/msb/box/memory.current" }));
  });
});
