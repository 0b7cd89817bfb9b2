// createUpperDisk against the real mkfs.ext4 (no root needed): a sparse file of the requested
// size, ext4 with its journal kept, replaced atomically, and refusals with a usable message.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createUpperDisk } from "../../src/backend/upper-disk.ts";
import { announceSkip, requireTool } from "../helpers/skip.ts";
import { tempDir } from "../helpers/tar-fixtures.ts";

const DUMPE2FS = "/usr/sbin/dumpe2fs";
const skipReason = announceSkip(
  "upper disk",
  requireTool("/usr/sbin/mkfs.ext4", "apt-get install e2fsprogs") ??
    requireTool(DUMPE2FS, "apt-get install e2fsprogs"),
);
const work = tempDir("upper-disk");
afterAll(work.cleanup);

describe.skipIf(skipReason !== undefined)("createUpperDisk", () => {
  test("a sparse 4 GiB ext4 with a journal, formatted in well under a second", async () => {
    const path = join(work.path, "upper.ext4");
    const started = performance.now();
    await createUpperDisk(path, 4 * 1024 ** 3);
    const elapsed = performance.now() - started;
    const stat = statSync(path);
    expect(stat.size).toBe(4 * 1024 ** 3);
    expect(stat.blocks * 512).toBeLessThan(64 * 1024 * 1024);
    expect(elapsed).toBeLessThan(1000);
    const header = Bun.spawnSync([DUMPE2FS, "-h", path], { stderr: "pipe" }).stdout.toString();
    expect(header).toMatch(/Filesystem features:.*has_journal/);
    expect(header).toMatch(/Filesystem state:\s+clean/);
    expect(header).toMatch(/Reserved block count:\s+0\n/);
    expect(existsSync(`${path}.partial`)).toBe(false);
  });

  test("an existing file is replaced by a fresh filesystem", async () => {
    const path = join(work.path, "replaced.ext4");
    writeFileSync(path, "not a filesystem");
    await createUpperDisk(path, 32 * 1024 * 1024);
    expect(statSync(path).size).toBe(32 * 1024 * 1024);
  });

  test.each([
    [1024, "disk size 1024 is too small"],
    [1.5 * 1024 ** 3 + 0.5, "too small"],
  ])("size %p is refused", async (size, message) => {
    await expect(createUpperDisk(join(work.path, "bad.ext4"), size)).rejects.toThrow(message);
    expect(existsSync(join(work.path, "bad.ext4"))).toBe(false);
  });

  test("a directory that does not exist fails without leaving a partial file", async () => {
    const path = join(work.path, "missing", "upper.ext4");
    await expect(createUpperDisk(path, 32 * 1024 * 1024)).rejects.toThrow("ENOENT");
  });
});
