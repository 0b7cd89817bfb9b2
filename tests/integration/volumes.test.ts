// Named volumes end to end on the namespace backend, with the compiled dist/msb as root: a
// directory volume created on first use whose data outlives the sandbox, a disk volume whose
// --size is enforced by ext4 (ENOSPC in the guest, the host file never larger), one disk volume
// shared by two running sandboxes through a single host mount, removal refused while sandboxes
// use a volume (and --force), read-only mounts, uid/gid ownership, and bad sizes and names.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  expectNoHostLeftovers,
  mountsUnder,
  type SandboxEnv,
  sandboxSkipReason,
  setupSandboxEnv,
} from "../helpers/sandbox-fixtures.ts";

const skipReason = sandboxSkipReason("volumes");
const TEST_TIMEOUT_MS = 90_000;
const MIB = 1024 * 1024;

interface VolumeRow {
  name: string;
  kind: string;
  size_bytes: number | null;
  used_bytes: number;
  uid: number | null;
  gid: number | null;
  path: string;
  used_by: string[];
}

describe.skipIf(skipReason !== undefined)("named volumes (namespace backend)", () => {
  let env: SandboxEnv;
  const volumes = async (): Promise<VolumeRow[]> =>
    JSON.parse((await env.msbOk(["volume", "ls", "--format", "json"])).stdout) as VolumeRow[];
  const inspect = async (name: string): Promise<VolumeRow> =>
    JSON.parse((await env.msbOk(["volume", "inspect", name])).stdout) as VolumeRow;
  /** `msb run [flags] <image> -- sh -c <script>` in an unnamed, ephemeral sandbox. */
  const sh = (script: string, flags: string[] = []) =>
    env.msb(["run", ...flags, env.image, "--", "sh", "-c", script]);
  const exec = (name: string, script: string) => env.msb(["exec", name, "--", "sh", "-c", script]);
  const volumeMounts = () => mountsUnder(join(env.home.path, "volumes"));

  beforeAll(async () => {
    env = await setupSandboxEnv();
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await env?.cleanup();
  }, TEST_TIMEOUT_MS);

  test(
    "-v NAME creates a directory volume whose data outlives the sandbox",
    async () => {
      const first = await sh("echo kept > /cache/note && echo done", ["-v", "cache:/cache"]);
      expect(first.stderr).toBe("");
      expect(first.stdout).toBe("done\n");
      const row = (await volumes()).find((volume) => volume.name === "cache");
      expect(row).toMatchObject({ kind: "dir", size_bytes: null, used_by: [] });
      expect(row!.used_bytes).toBeGreaterThan(0);
      expect(readFileSync(join(env.home.path, "volumes", "cache", "note"), "utf8")).toBe("kept\n");

      await env.msbOk(["create", "--name", "writer", "-v", "cache:/c", env.image]);
      expect((await exec("writer", "cat /c/note && echo more >> /c/note")).stdout).toBe("kept\n");
      await env.msbOk(["rm", "-f", "writer"]);
      const next = await sh("cat /again/note", ["-v", "cache:/again"]);
      expect(next.stdout).toBe("kept\nmore\n");
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a disk volume's --size is a hard quota: ENOSPC in the guest, the host file stays within it",
    async () => {
      await env.msbOk(["volume", "create", "quota", "--size", "16M"]);
      const image = join(env.home.path, "volumes", "quota.ext4");
      const fill = await sh(
        "dd if=/dev/zero of=/q/fill bs=64K count=1024; echo exit=$?; wc -c < /q/fill; df -k /q",
        ["-v", "quota:/q"],
      );
      expect(fill.stderr).toContain("No space left on device");
      const lines = fill.stdout.split("\n");
      expect(lines[0]).not.toBe("exit=0");
      const written = Number(lines[1]);
      expect(written).toBeGreaterThan(8 * MIB);
      expect(written).toBeLessThan(16 * MIB);
      const host = statSync(image);
      expect(host.size).toBe(16 * MIB);
      expect(host.blocks * 512).toBeLessThanOrEqual(16 * MIB);
      const row = await inspect("quota");
      expect(row).toMatchObject({ kind: "disk", size_bytes: 16 * MIB, used_by: [] });
      expect(row.used_bytes).toBeGreaterThanOrEqual(written);
      expect(row.used_bytes).toBeLessThanOrEqual(16 * MIB);
      // Deleting frees the space again: the quota is the filesystem's, not a counter.
      expect(
        (await sh("rm /q/fill && head -c 1048576 /dev/zero > /q/again && echo ok", ["-v", "quota:/q"]))
          .stdout,
      ).toBe("ok\n");
      expect(await expectNoHostLeftovers(env)).toEqual({ loops: [], mounts: [] });
      // A supervisor killed outright cannot unmount: whoever cleans up after it does.
      await env.msbOk(["create", "--name", "killed", "-v", "quota:/q", env.image]);
      expect(volumeMounts()).toHaveLength(1);
      await env.msbOk(["rm", "-f", "killed"]);
      expect(await expectNoHostLeftovers(env)).toEqual({ loops: [], mounts: [] });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "two running sandboxes share one disk volume through a single host mount",
    async () => {
      await env.msbOk(["volume", "create", "shared", "--size", "32M"]);
      await env.msbOk(["create", "--name", "left", "-v", "shared:/s", env.image]);
      await env.msbOk(["create", "--name", "right", "-v", "shared:/data:ro", env.image]);
      expect(volumeMounts().filter((line) => line.includes("/.mnt/shared"))).toHaveLength(1);
      expect((await exec("left", "echo from-left > /s/msg && sync && echo ok")).stdout).toBe("ok\n");
      expect((await exec("right", "cat /data/msg")).stdout).toBe("from-left\n");
      const readOnly = await exec("right", "echo x > /data/other");
      expect(readOnly.code).not.toBe(0);
      expect(readOnly.stderr).toContain("Read-only file system");
      expect((await inspect("shared")).used_by).toEqual(["left", "right"]);

      await env.msbOk(["stop", "left"]);
      // Still mounted for the other one.
      expect((await exec("right", "cat /data/msg")).stdout).toBe("from-left\n");
      await env.msbOk(["stop", "right"]);
      expect(await expectNoHostLeftovers(env)).toEqual({ loops: [], mounts: [] });
      await env.msbOk(["start", "right"]);
      expect((await exec("right", "cat /data/msg")).stdout).toBe("from-left\n");
      await env.msbOk(["stop", "right"]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a volume in use cannot be removed unless forced",
    async () => {
      const refused = await env.msb(["volume", "rm", "shared"]);
      expect(refused.code).toBe(4);
      expect(refused.stderr).toContain("volume shared is used by sandboxes left, right");
      expect((await volumes()).map((volume) => volume.name)).toContain("shared");

      await env.msbOk(["start", "left"]);
      const forced = await env.msb(["volume", "rm", "--force", "shared"]);
      expect(forced.code).toBe(0);
      expect((await volumes()).map((volume) => volume.name)).not.toContain("shared");
      // The running sandbox keeps what it sees until it stops.
      expect((await exec("left", "cat /s/msg")).stdout).toBe("from-left\n");
      await env.msbOk(["rm", "-f", "left", "right"]);
      expect(await expectNoHostLeftovers(env)).toEqual({ loops: [], mounts: [] });

      await sh("true", ["-v", "gone:/g"]);
      expect((await env.msb(["volume", "rm", "gone"])).code).toBe(0);
      expect((await env.msb(["volume", "rm", "gone"])).code).toBe(3);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "read-only volumes refuse writes",
    async () => {
      const result = await sh("cat /ro/note; touch /ro/x", ["-v", "cache:/ro:ro"]);
      expect(result.stdout).toBe("kept\nmore\n");
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain("Read-only file system");
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "uid/gid options make the volume the guest user's",
    async () => {
      await env.msbOk(["volume", "create", "home-dir", "--opt", "uid=1000,gid=1000"]);
      await env.msbOk(["volume", "create", "home-disk", "--size", "16M", "-o", "uid=1000", "-o", "gid=1000"]);
      const script = "touch /a/f /b/f && stat -c %u:%g /a /a/f /b /b/f";
      const result = await sh(script, ["--user", "1000:1000", "-v", "home-dir:/a", "-v", "home-disk:/b"]);
      expect(result.stderr).toBe("");
      expect(result.stdout).toBe("1000:1000\n1000:1000\n1000:1000\n1000:1000\n");
      const hostFile = statSync(join(env.home.path, "volumes", "home-dir", "f"));
      expect([hostFile.uid, hostFile.gid]).toEqual([1000, 1000]);
      expect(await inspect("home-disk")).toMatchObject({ uid: 1000, gid: 1000, kind: "disk" });
    },
    TEST_TIMEOUT_MS,
  );

  test.each([
    [["volume", "create", "tiny", "--size", "8M"], "the minimum is 16M"],
    [["volume", "create", "tiny", "--size", "lots"], "invalid --size size 'lots'"],
    [["volume", "create", "-bad"], "unknown option -b"],
    [["volume", "create", "a/b"], "invalid volume name 'a/b'"],
    [["volume", "create", "x.ext4"], "names ending in .ext4 are reserved"],
    [["volume", "create", "own", "--opt", "uid=1"], "--opt needs both uid and gid"],
    [["volume", "create", "own", "--opt", "mode=0700"], "invalid volume option 'mode=0700'"],
    [["volume", "create", "cache"], "volume cache already exists"],
  ])("refuses %j", async (args, message) => {
    const before = (await volumes()).map((volume) => volume.name);
    const result = await env.msb(args);
    expect(result.code).toBe(message.includes("already exists") ? 4 : 2);
    expect(result.stderr).toContain(message);
    expect((await volumes()).map((volume) => volume.name)).toEqual(before);
  });

  test("-v with a reserved volume name creates nothing", async () => {
    const result = await sh("true", ["-v", "disk.ext4:/x"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("names ending in .ext4 are reserved");
    expect((await env.msbOk(["ls", "-q"])).stdout).toBe("");
  });
});
