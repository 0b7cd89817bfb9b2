// The disk lease without sandboxes, as root: namespace leases share one host mount and the last
// one out unmounts; a VM lease is exclusive both ways; a mount left by a killed supervisor is
// reused rather than mounted twice, and unmounted by the next last release.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createUpperDisk } from "../../src/backend/upper-disk.ts";
import { ConflictError } from "../../src/errors.ts";
import { type MsbPaths, msbPaths } from "../../src/paths.ts";
import { leaseDiskVolume, unmountUnlessUsed } from "../../src/volume/disk-lease.ts";
import { isMountPoint } from "../../src/volume/disk-usage.ts";
import { volumeImagePath, volumeMountPoint } from "../../src/volume/volume-paths.ts";
import { REPO_ROOT, type TempDir, tempDir } from "../helpers/msb-cli.ts";
import { loopDevicesUnder, mountsUnder, requireSandboxFilesystems } from "../helpers/sandbox-fixtures.ts";
import { announceSkip, firstSkipReason, requireRoot } from "../helpers/skip.ts";

const skipReason = announceSkip("volume lease", firstSkipReason(requireRoot(), requireSandboxFilesystems()));

describe.skipIf(skipReason !== undefined)("disk volume leases", () => {
  let home: TempDir;
  let paths: MsbPaths;
  beforeEach(async () => {
    home = await tempDir("msb-lease");
    paths = msbPaths(home.path);
    mkdirSync(paths.volumes);
    await createUpperDisk(volumeImagePath(paths, "db"), 16 * 1024 * 1024);
  });
  afterEach(async () => {
    unmountUnlessUsed(paths, "db");
    await home.remove();
  });

  test("namespace leases share one host mount; the last release unmounts", async () => {
    const first = await leaseDiskVolume(paths, "db", "namespace");
    const second = await leaseDiskVolume(paths, "db", "namespace");
    expect(first.path).toBe(volumeMountPoint(paths, "db"));
    expect(second.path).toBe(first.path);
    expect(mountsUnder(home.path)).toHaveLength(1);
    writeFileSync(`${first.path}/note`, "shared");
    await first.release();
    expect(isMountPoint(second.path)).toBe(true);
    expect(existsSync(`${second.path}/note`)).toBe(true);
    await second.release();
    expect(mountsUnder(home.path)).toEqual([]);
    expect(existsSync(first.path)).toBe(false);
    for (let tries = 0; loopDevicesUnder(home.path).length > 0 && tries < 50; tries++) await Bun.sleep(20);
    expect(loopDevicesUnder(home.path)).toEqual([]);
  });

  test("a VM lease is exclusive, against VMs and namespace sandboxes alike", async () => {
    const vm = await leaseDiskVolume(paths, "db", "vm");
    expect(vm.path).toBe(volumeImagePath(paths, "db"));
    expect(mountsUnder(home.path)).toEqual([]);
    await expect(leaseDiskVolume(paths, "db", "vm")).rejects.toThrow(ConflictError);
    await expect(leaseDiskVolume(paths, "db", "namespace")).rejects.toThrow("in use by a VM sandbox");
    await vm.release();
    const shared = await leaseDiskVolume(paths, "db", "namespace");
    await expect(leaseDiskVolume(paths, "db", "vm")).rejects.toThrow("in use by another running sandbox");
    await shared.release();
  });

  test("a mount left by a killed holder is reused, then unmounted by the last release", async () => {
    const holder = Bun.spawn(
      [
        process.execPath,
        "-e",
        `const { leaseDiskVolume } = await import(${JSON.stringify(`${REPO_ROOT}/src/volume/disk-lease.ts`)});
         const { msbPaths } = await import(${JSON.stringify(`${REPO_ROOT}/src/paths.ts`)});
         await leaseDiskVolume(msbPaths(${JSON.stringify(home.path)}), "db", "namespace");
         console.log("held");
         setInterval(() => {}, 1000);`,
      ],
      { stdout: "pipe", stderr: "inherit" },
    );
    const reader = holder.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("held\n");
    holder.kill("SIGKILL");
    await holder.exited;
    expect(mountsUnder(home.path)).toHaveLength(1);

    const lease = await leaseDiskVolume(paths, "db", "namespace");
    expect(mountsUnder(home.path)).toHaveLength(1);
    await lease.release();
    expect(mountsUnder(home.path)).toEqual([]);
  });

  test("a missing image is a not-found error naming the volume", async () => {
    await expect(leaseDiskVolume(paths, "gone", "namespace")).rejects.toThrow("the disk image");
    expect(mountsUnder(home.path)).toEqual([]);
  });
});
