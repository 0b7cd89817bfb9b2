// createSandboxCgroup and removeSandboxCgroup against a directory standing in for a cgroup2
// mount (no root needed): the directory and limit files written in plan order, optional files
// skipped when the kernel does not offer them, removal by name, and hosts without cgroups.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createSandboxCgroup, removeSandboxCgroup } from "../../src/backend/cgroup.ts";
import type { CgroupHostView } from "../../src/backend/cgroup-plan.ts";
import { tempDir } from "../helpers/tar-fixtures.ts";

const work = tempDir("cgroup-files");
afterAll(work.cleanup);

function fakeV2(mount: string): CgroupHostView {
  mkdirSync(mount, { recursive: true });
  return {
    mountInfo: `30 1 0:30 / ${mount} rw - cgroup2 cgroup2 rw`,
    v2Controllers: (mountpoint) => (mountpoint === mount ? "cpu memory pids" : null),
  };
}

describe("sandbox cgroup files", () => {
  test("creation writes the limits; memory.swap.max is skipped when absent", () => {
    const mount = join(work.path, "v2");
    const cgroup = createSandboxCgroup("sb1", { cpus: 1.5, memoryBytes: 1 << 30 }, fakeV2(mount));
    const dir = join(mount, "msb", "sb1");
    expect(cgroup.dirs).toEqual([dir]);
    expect(cgroup.procsFiles).toEqual([join(dir, "cgroup.procs")]);
    expect(readFileSync(join(mount, "cgroup.subtree_control"), "utf8")).toBe("+memory +cpu");
    expect(readFileSync(join(dir, "memory.max"), "utf8")).toBe(String(1 << 30));
    expect(readFileSync(join(dir, "cpu.max"), "utf8")).toBe("150000 100000");
    expect(existsSync(join(dir, "memory.swap.max"))).toBe(false);
  });

  test("removal by name deletes the directory and tolerates one that is already gone", async () => {
    const mount = join(work.path, "v2-remove");
    const view = fakeV2(mount);
    mkdirSync(join(mount, "msb", "sb2"), { recursive: true });
    await removeSandboxCgroup("sb2", view);
    expect(existsSync(join(mount, "msb", "sb2"))).toBe(false);
    await removeSandboxCgroup("sb2", view);
  });

  test("removal on a host without cgroup controllers does nothing", async () => {
    await removeSandboxCgroup("sb3", { mountInfo: "", v2Controllers: () => null });
  });

  test("a limit that cannot be written names the file and the value", () => {
    const mount = join(work.path, "v2-refuse");
    const view = fakeV2(mount);
    mkdirSync(join(mount, "msb", "sb4", "memory.max"), { recursive: true });
    expect(() => createSandboxCgroup("sb4", { cpus: 1, memoryBytes: 1 << 20 }, view)).toThrow(
      `cannot set ${join(mount, "msb", "sb4", "memory.max")} to 1048576`,
    );
  });
});
