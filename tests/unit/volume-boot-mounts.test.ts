// The agent's mounts from a spec's: named volumes resolved per backend (directory → bind of its
// folder, disk → the shared host mount on namespace, a virtio-blk serial in mount order on vm).
import { describe, expect, test } from "bun:test";
import type { MountSpec } from "../../src/sandbox/spec.ts";
import { volumeDiskSerial } from "../../src/vmm/vm-spec.ts";
import { bootMounts, type ResolvedVolume, volumeNames } from "../../src/volume/boot-mounts.ts";

const volumes: Record<string, ResolvedVolume> = {
  cache: { kind: "dir", path: "/h/volumes/cache" },
  db: { kind: "disk", image: "/h/volumes/db.ext4", hostMount: "/h/volumes/.mnt/db" },
  logs: { kind: "disk", image: "/h/volumes/logs.ext4", hostMount: "/h/volumes/.mnt/logs" },
};
const resolve = (name: string): ResolvedVolume => {
  const found = volumes[name];
  if (!found) throw new Error(`unknown ${name}`);
  return found;
};

const spec: MountSpec[] = [
  { kind: "bind", source: "/src", target: "/src", readonly: true },
  { kind: "volume", name: "logs", target: "/logs", readonly: false },
  { kind: "volume", name: "cache", target: "/cache", readonly: true },
  { kind: "tmpfs", target: "/scratch", sizeBytes: null },
  { kind: "volume", name: "db", target: "/db", readonly: false },
  { kind: "volume", name: "logs", target: "/logs-ro", readonly: true },
];

describe("bootMounts", () => {
  test.each([
    ["namespace", ["/h/volumes/.mnt/logs", "/h/volumes/.mnt/db", "/h/volumes/.mnt/logs"]],
    ["vm", ["msb-vol-0", "msb-vol-1", "msb-vol-0"]],
  ] as const)("%s", (backend, diskSources) => {
    const mounts = bootMounts(spec, backend, resolve);
    expect(mounts).toEqual([
      { kind: "bind", source: "/src", target: "/src", readonly: true },
      {
        kind: "disk",
        volume: "logs",
        image: "/h/volumes/logs.ext4",
        source: diskSources[0],
        target: "/logs",
        readonly: false,
      },
      { kind: "bind", source: "/h/volumes/cache", target: "/cache", readonly: true },
      { kind: "tmpfs", target: "/scratch", sizeBytes: null },
      {
        kind: "disk",
        volume: "db",
        image: "/h/volumes/db.ext4",
        source: diskSources[1],
        target: "/db",
        readonly: false,
      },
      {
        kind: "disk",
        volume: "logs",
        image: "/h/volumes/logs.ext4",
        source: diskSources[2],
        target: "/logs-ro",
        readonly: true,
      },
    ]);
  });

  test("a spec without volumes passes through", () => {
    const plain = [{ kind: "tmpfs" as const, target: "/t", sizeBytes: 1024 }];
    expect(bootMounts(plain, "namespace", resolve)).toEqual(plain);
  });
});

describe("volumeDiskSerial", () => {
  test.each([
    [0, "msb-vol-0"],
    [41, "msb-vol-41"],
  ])("disk volume %d is %s, within virtio-blk's 20 bytes", (index, serial) => {
    expect(volumeDiskSerial(index)).toBe(serial);
    expect(Buffer.byteLength(serial)).toBeLessThanOrEqual(20);
  });
});

test("volumeNames lists each mounted volume once, in order", () => {
  expect(volumeNames(spec)).toEqual(["logs", "cache", "db"]);
});
