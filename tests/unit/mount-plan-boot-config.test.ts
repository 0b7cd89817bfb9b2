// What the agent takes from its boot config before it assembles anything: the shape check of
// boot.json, where agent.sock is after the pivot, and the /etc/hosts entry for the hostname.
import { describe, expect, test } from "bun:test";
import { withHostEntry } from "../../src/agent/hostname-files.ts";
import { checkBootConfig } from "../../src/agent/read-boot-config.ts";
import { guestAgentSocket } from "../../src/agent/run-agent.ts";

const valid = {
  version: 1,
  backend: "namespace",
  hostname: "box",
  lowerDisk: "/img/rootfs.erofs",
  upperDisk: "/sb/upper.ext4",
  runtimeDir: "/run/msb/ab12",
  agentSocket: "/run/msb/ab12/agent.sock",
  env: ["PATH=/bin"],
  workdir: null,
  user: "1000:1000",
  mounts: [
    { kind: "bind", source: "/src", target: "/src", readonly: true },
    { kind: "tmpfs", target: "/cache", sizeBytes: null },
    { kind: "disk", volume: "db", image: "/v/db.ext4", source: "/v/.mnt/db", target: "/db", readonly: false },
  ],
  shutdownGraceMs: 5000,
};

describe("checkBootConfig", () => {
  test("accepts a complete config", () => {
    expect(checkBootConfig(valid, "boot.json")).toEqual(valid as never);
  });

  test.each<[string, unknown, string]>([
    ["not an object", [], "not a JSON object"],
    ["another version", { ...valid, version: 2 }, "unsupported version 2"],
    ["an unknown backend", { ...valid, backend: "docker" }, "backend must be namespace or vm"],
    ["an empty hostname", { ...valid, hostname: "" }, "hostname must be a non-empty string"],
    ["no lower disk", { ...valid, lowerDisk: undefined }, "lowerDisk must be a non-empty string"],
    ["env that is not strings", { ...valid, env: [1] }, "env must be a list"],
    ["a numeric workdir", { ...valid, workdir: 3 }, "workdir must be a string or null"],
    [
      "a bind without source",
      { ...valid, mounts: [{ kind: "bind", target: "/x", readonly: false }] },
      "mounts must be",
    ],
    [
      "a disk volume without its image",
      { ...valid, mounts: [{ kind: "disk", volume: "db", source: "/m", target: "/x", readonly: false }] },
      "mounts must be",
    ],
    [
      "an unresolved named volume",
      { ...valid, mounts: [{ kind: "volume", name: "db", target: "/x", readonly: false }] },
      "mounts must be",
    ],
    ["an unknown mount kind", { ...valid, mounts: [{ kind: "nfs", target: "/x" }] }, "mounts must be"],
    [
      "a fractional tmpfs size",
      { ...valid, mounts: [{ kind: "tmpfs", target: "/x", sizeBytes: 1.5 }] },
      "mounts must be",
    ],
    ["a negative grace", { ...valid, shutdownGraceMs: -1 }, "shutdownGraceMs must be a non-negative number"],
  ])("refuses %s", (_, value, message) => {
    expect(() => checkBootConfig(value, "boot.json")).toThrow(`invalid boot config boot.json: ${message}`);
  });
});

describe("guestAgentSocket", () => {
  const base = checkBootConfig(valid, "boot.json");
  test.each([
    ["/run/msb/ab12/agent.sock", "/.msb/agent.sock"],
    ["/run/msb/ab12/sock/agent", "/.msb/sock/agent"],
    ["/dev/vport0p1", "/dev/vport0p1"],
    ["/run/msb/ab12-other/agent.sock", "/run/msb/ab12-other/agent.sock"],
  ])("%p is %p inside the sandbox", (agentSocket, inside) => {
    expect(guestAgentSocket({ ...base, agentSocket })).toBe(inside);
  });
});

describe("withHostEntry", () => {
  test.each([
    ["", "127.0.1.1\tbox\n"],
    ["127.0.0.1\tlocalhost\n", "127.0.0.1\tlocalhost\n127.0.1.1\tbox\n"],
    ["127.0.0.1 localhost", "127.0.0.1 localhost\n127.0.1.1\tbox\n"],
    ["10.0.0.5 box box.local\n", "10.0.0.5 box box.local\n"],
    ["# box\n127.0.0.1 localhost\n", "# box\n127.0.0.1 localhost\n127.0.1.1\tbox\n"],
    ["127.0.0.1 boxer\n", "127.0.0.1 boxer\n127.0.1.1\tbox\n"],
  ])("%p becomes %p", (hosts, expected) => {
    expect(withHostEntry(hosts, "box")).toBe(expected);
  });
});
