// What one shim call mounts: the working directory and the script's directory at their own
// paths (read-only unless --writable), one mount when one holds the other, the script alone
// when its directory would hide the guest's system files, and the workdir that follows.
import { describe, expect, test } from "bun:test";
import {
  type CallContext,
  isMountablePath,
  mountsCover,
  planCallMounts,
  volumeFlag,
} from "../../src/install/call-mounts.ts";
import type { BindMount } from "../../src/sandbox/spec.ts";

/** A host with these files; /home/u/link is a symlink to /data/real. */
const FILES = new Set([
  "/home/u/proj/run.py",
  "/home/u/proj/data.csv",
  "/home/u/scripts/tool.py",
  "/usr/local/bin/helper.py",
  "/data/real/job.py",
]);
const probe = {
  isFile: (path: string) => FILES.has(path.replace("/home/u/link", "/data/real")),
  realpath: (path: string) => path.replace("/home/u/link", "/data/real"),
};

const ro = (source: string, target = source): BindMount => ({ kind: "bind", source, target, readonly: true });

function plan(cwd: string, args: string[], extra: Partial<CallContext> = {}) {
  return planCallMounts({ cwd, args, writable: false, takenTargets: [], ...extra }, probe);
}

describe("planCallMounts", () => {
  test("no script: the working directory, which becomes the guest's", () => {
    expect(plan("/home/u/proj", ["-c", "print(1)"])).toEqual({
      mounts: [ro("/home/u/proj")],
      workdir: "/home/u/proj",
      args: ["-c", "print(1)"],
    });
  });

  test("./script.py in the working directory: one mount, the argument as given", () => {
    expect(plan("/home/u/proj", ["./run.py", "--flag", "x"])).toEqual({
      mounts: [ro("/home/u/proj")],
      workdir: "/home/u/proj",
      args: ["./run.py", "--flag", "x"],
    });
  });

  test("the script is the first argument that is an existing file, not an option", () => {
    const result = plan("/home/u/proj", ["-u", "missing.py", "../scripts/tool.py", "data.csv"]);
    expect(result.mounts).toEqual([ro("/home/u/proj"), ro("/home/u/scripts")]);
  });

  test("a script elsewhere: its directory too", () => {
    expect(plan("/home/u/proj", ["/home/u/scripts/tool.py"]).mounts).toEqual([
      ro("/home/u/proj"),
      ro("/home/u/scripts"),
    ]);
  });

  test("a script directory that holds the working directory replaces its mount", () => {
    const result = plan("/home/u/proj", ["/home/u/proj/run.py"], { cwd: "/home/u/proj" });
    expect(result.mounts).toEqual([ro("/home/u/proj")]);
    const outer = planCallMounts(
      { cwd: "/home/u/proj/sub", args: ["../run.py"], writable: false, takenTargets: [] },
      probe,
    );
    expect(outer.mounts).toEqual([ro("/home/u/proj")]);
    expect(outer.workdir).toBe("/home/u/proj/sub");
  });

  test("a path through a symlink is mounted from its real directory at the path as given", () => {
    expect(plan("/home/u/proj", ["/home/u/link/job.py"]).mounts).toEqual([
      ro("/home/u/proj"),
      ro("/data/real", "/home/u/link"),
    ]);
  });

  test("a script in a system directory is mounted alone", () => {
    expect(plan("/home/u/proj", ["/usr/local/bin/helper.py"]).mounts).toEqual([
      ro("/home/u/proj"),
      ro("/usr/local/bin/helper.py"),
    ]);
  });

  test("a working directory that would hide guest files is not mounted; a relative script becomes absolute", () => {
    expect(plan("/usr/local/bin", ["helper.py", "arg"])).toEqual({
      mounts: [ro("/usr/local/bin/helper.py")],
      workdir: null,
      args: ["/usr/local/bin/helper.py", "arg"],
    });
    expect(plan("/", ["-V"])).toEqual({ mounts: [], workdir: null, args: ["-V"] });
  });

  test("--writable mounts read-write", () => {
    const result = planCallMounts(
      { cwd: "/home/u/proj", args: ["run.py"], writable: true, takenTargets: [] },
      probe,
    );
    expect(result.mounts).toEqual([{ ...ro("/home/u/proj"), readonly: false }]);
  });

  test("a guest path the install's own -v uses is left to it", () => {
    const result = plan("/home/u/proj", ["run.py"], { takenTargets: ["/home/u"] });
    expect(result).toEqual({ mounts: [], workdir: null, args: ["/home/u/proj/run.py"] });
  });
});

describe("isMountablePath", () => {
  test.each([
    ["/home/u/proj", true],
    ["/tmp/work", true],
    ["/root", true],
    ["/opt/app", true],
    ["/", false],
    ["/tmp", false],
    ["/home", false],
    ["/usr", false],
    ["/usr/local/src", false],
    ["/etc/app", false],
    ["/lib64", false],
    ["/proc/self", false],
    ["/home/u/a:b", false],
  ])("%s: %s", (path, mountable) => {
    expect(isMountablePath(path)).toBe(mountable);
  });
});

describe("mountsCover", () => {
  const have = [ro("/home/u"), { ...ro("/data/rw"), readonly: false }];
  test.each([
    [[ro("/home/u")], true],
    [[ro("/home/u/proj")], true],
    [[ro("/elsewhere/proj", "/home/u/proj")], false],
    [[ro("/home/user2")], false],
    [[ro("/data/rw")], false],
    [[{ ...ro("/data/rw/x"), readonly: false }], true],
    [[], true],
  ])("%j covered: %s", (needed, covered) => {
    expect(mountsCover(have, needed)).toBe(covered);
  });
});

test("volumeFlag writes the mode explicitly", () => {
  expect(volumeFlag(ro("/a"))).toBe("/a:/a:ro");
  expect(volumeFlag({ ...ro("/a", "/b"), readonly: false })).toBe("/a:/b:rw");
});
