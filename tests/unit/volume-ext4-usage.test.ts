// Used space of an unmounted disk volume from its ext4 superblock: synthetic superblocks (block
// sizes, 64-bit counts, bad magic) and a real image made the way `volume create --size` makes it.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUpperDisk } from "../../src/backend/upper-disk.ts";
import { parseExt4Usage, readExt4Usage } from "../../src/volume/ext4-usage.ts";

function superblock(fields: { logBlock: number; blocks: number; free: number; wide?: boolean }): Uint8Array {
  const bytes = new Uint8Array(1024);
  const view = new DataView(bytes.buffer);
  view.setUint16(0x38, 0xef53, true);
  view.setUint32(0x18, fields.logBlock, true);
  view.setUint32(0x4, fields.blocks % 2 ** 32, true);
  view.setUint32(0xc, fields.free % 2 ** 32, true);
  if (fields.wide) {
    view.setUint32(0x60, 0x80, true);
    view.setUint32(0x150, Math.floor(fields.blocks / 2 ** 32), true);
    view.setUint32(0x158, Math.floor(fields.free / 2 ** 32), true);
  }
  return bytes;
}

describe("parseExt4Usage", () => {
  test.each([
    ["4 KiB blocks", { logBlock: 2, blocks: 4096, free: 1000 }, 4096 * 4096, 3096 * 4096],
    ["1 KiB blocks", { logBlock: 0, blocks: 16384, free: 16384 }, 16384 * 1024, 0],
    ["64-bit counts", { logBlock: 2, blocks: 2 ** 33, free: 2 ** 32, wide: true }, 2 ** 45, 2 ** 44],
    ["high words ignored without 64bit", { logBlock: 2, blocks: 100, free: 40 }, 409600, 245760],
  ])("%s", (_, fields, total, used) => {
    expect(parseExt4Usage(superblock(fields))).toEqual({ totalBytes: total, usedBytes: used });
  });

  test("refuses what is not ext4", () => {
    expect(() => parseExt4Usage(new Uint8Array(1024))).toThrow("bad magic");
    expect(() => parseExt4Usage(new Uint8Array(10))).toThrow("truncated");
  });
});

describe("readExt4Usage", () => {
  const dir = mkdtempSync(join(tmpdir(), "msb-ext4-usage-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a fresh 64 MiB volume: whole size, a little metadata in use, sparse on the host", async () => {
    const image = join(dir, "v.ext4");
    await createUpperDisk(image, 64 * 1024 * 1024, { rootOwner: { uid: 1000, gid: 1000 } });
    const usage = readExt4Usage(image);
    expect(usage.totalBytes).toBe(64 * 1024 * 1024);
    expect(usage.usedBytes).toBeGreaterThan(0);
    expect(usage.usedBytes).toBeLessThan(16 * 1024 * 1024);
    expect(statSync(image).blocks * 512).toBeLessThan(8 * 1024 * 1024);
  });

  test("names the file when it is not ext4", () => {
    const image = join(dir, "v.ext4");
    expect(() => readExt4Usage("/dev/null")).toThrow("/dev/null");
    expect(readExt4Usage(image).totalBytes).toBe(64 * 1024 * 1024);
  });
});
