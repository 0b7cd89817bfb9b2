// How the agent finds its VM devices by name: the agent's console port under
// /sys/class/virtio-ports/*/name and disks by /sys/block/vd*/serial, on fake sysfs trees.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findConsolePort, findDisk, waitForDevice } from "../../src/agent/virtio-devices.ts";
import { tempDir } from "../helpers/tar-fixtures.ts";

const dir = tempDir("sysfs");
afterAll(() => dir.cleanup());
const roots = { sys: join(dir.path, "sys"), dev: "/dev" };
const put = (path: string, text: string) => {
  mkdirSync(join(roots.sys, path, ".."), { recursive: true });
  writeFileSync(join(roots.sys, path), text);
};
put("class/virtio-ports/vport0p0/name", "other\n");
put("class/virtio-ports/vport1p1/name", "msb-agent\n");
mkdirSync(join(roots.sys, "class/virtio-ports/vport2p1"), { recursive: true });
put("block/vda/serial", "msb-boot");
put("block/vdb/serial", "msb-lower\n");
put("block/vdc/serial", "msb-upper");
put("block/loop0/serial", "msb-upper");

describe("findConsolePort", () => {
  test.each([
    ["msb-agent", "/dev/vport1p1"],
    ["other", "/dev/vport0p0"],
    ["missing", null],
  ])("%s", (name, expected) => {
    expect(findConsolePort(name, roots)).toBe(expected);
  });

  test("no virtio-ports class at all", () => {
    expect(findConsolePort("msb-agent", { sys: join(dir.path, "none"), dev: "/dev" })).toBeNull();
  });
});

describe("findDisk", () => {
  test.each<[string, number, string | null]>([
    ["msb-boot", 0, "/dev/vda"],
    ["msb-lower", 0, "/dev/vdb"],
    ["msb-upper", 1, "/dev/vdc"],
    // Serials are in use: a missing one is missing, not guessed by position.
    ["msb-other", 0, null],
  ])("by serial: %s", (serial, position, expected) => {
    expect(findDisk(serial, position, roots)).toBe(expected);
  });

  test.each<[number, string | null]>([
    [0, "/dev/vda"],
    [1, "/dev/vdb"],
    [26, "/dev/vdaa"],
    [27, null],
  ])("by position %d where the VMM sets no serials", (position, expected) => {
    const plain = { sys: join(dir.path, "plain"), dev: "/dev" };
    const names = ["vdb", "vdaa", "vda", ..."cdefghijklmnopqrstuvwxyz".split("").map((c) => `vd${c}`)];
    for (const name of names) {
      mkdirSync(join(plain.sys, "block", name), { recursive: true });
      writeFileSync(join(plain.sys, "block", name, "serial"), `fd01_${name}`);
    }
    mkdirSync(join(plain.sys, "block", "loop0"), { recursive: true });
    expect(findDisk("msb-lower", position, plain)).toBe(expected);
  });
});

describe("waitForDevice", () => {
  test("returns once the device shows up", async () => {
    let calls = 0;
    expect(await waitForDevice("thing", () => (++calls < 3 ? null : "/dev/x"), 2_000)).toBe("/dev/x");
    expect(calls).toBe(3);
  });
  test("names what never appeared", async () => {
    await expect(waitForDevice("disk with serial nope", () => null, 50)).rejects.toThrow(
      "disk with serial nope did not appear within 0.05s",
    );
  });
});
