// `msb pull` against a real loopback registry serving images built here: manifest flavours
// (OCI, Docker v2, index), layer compressions, platform selection, re-pull and --force, pull by
// digest, the error exit codes, a corrupted blob, and the EROFS root the pull leaves behind.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import {
  BUSYBOX_TREE,
  busyboxImage,
  dockerV2Image,
  hostArchitecture,
  MEDIA_TYPES,
  multiPlatformImages,
  type PushedImage,
  type PushedIndex,
  pushImage,
  pushIndex,
  uniqueImage,
  zstdAndPlainImage,
} from "../helpers/image-builder.ts";
import { countBlobGets, type LocalRegistry, startRegistry } from "../helpers/local-registry.ts";
import {
  describeRun,
  erofsNid,
  extractErofs,
  listDir,
  type MsbResult,
  requireMsbBinary,
  rootfsPath,
  runMsb,
  runMsbOk,
  type TempDir,
  tempMsbHome,
} from "../helpers/msb-cli.ts";
import { announceSkip, firstSkipReason, requireDockerRegistry, requireTool } from "../helpers/skip.ts";

const registrySkip = announceSkip("pull", requireDockerRegistry());
const erofsSkip = announceSkip(
  "pull: EROFS root contents",
  firstSkipReason(registrySkip, requireTool("fsck.erofs", "apt-get install erofs-utils")),
);

interface InspectJson {
  reference: string;
  digest: string;
  architecture: string;
  os: string;
  size_bytes: number;
  created_at: string;
  config: { entrypoint: string[]; cmd: string[]; env: string[]; working_dir: string; user: string };
  layers: { digest: string; size_bytes: number; media_type: string }[];
}

async function inspectJson(reference: string, msbHome: string): Promise<InspectJson> {
  const result = await runMsbOk(["image", "inspect", reference, "--format", "json"], { msbHome });
  return JSON.parse(result.stdout) as InspectJson;
}

function expectExit(result: MsbResult, args: string[], code: number): void {
  expect(result.code, describeRun(args, result)).toBe(code);
}

/** An `error: ...` line (the first line unless progress came before) and no stack trace. */
function expectCleanError(result: MsbResult, { first = true } = {}): void {
  const lines = result.stderr.split("\n");
  if (first) expect(lines[0]).toStartWith("error:");
  else
    expect(
      lines.some((line) => line.startsWith("error:")),
      result.stderr,
    ).toBe(true);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

describe.skipIf(registrySkip !== undefined)("msb pull", () => {
  let registry: LocalRegistry;
  let home: TempDir;
  let busybox: PushedImage;
  let multi: PushedIndex;
  let docker: PushedImage;
  let zstd: PushedImage;

  beforeAll(async () => {
    requireMsbBinary();
    registry = await startRegistry();
    const target = { url: registry.url };
    busybox = await pushImage(target, "test/busybox", "latest", await busyboxImage());
    multi = await pushIndex(target, "test/multi", "latest", multiPlatformImages());
    docker = await pushImage(target, "test/docker", "v2", dockerV2Image());
    zstd = await pushImage(target, "test/zstd", "latest", zstdAndPlainImage());
    home = await tempMsbHome();
  });

  afterAll(async () => {
    await registry?.stop();
    await home?.remove();
  });

  test("pulls a multi-layer OCI image anonymously and records it", async () => {
    const args = ["pull", busybox.reference];
    const result = await runMsb(args, { msbHome: home.path });
    expectExit(result, args, 0);
    expect(result.stderr.length).toBeGreaterThan(0);
    expect(existsSync(rootfsPath(home.path, busybox.manifestDigest))).toBe(true);

    const inspected = await inspectJson(busybox.reference, home.path);
    expect(inspected.digest).toBe(busybox.manifestDigest);
    expect(inspected.architecture).toBe(hostArchitecture());
    expect(inspected.os).toBe("linux");
    expect(inspected.layers.map((layer) => layer.digest)).toEqual(
      busybox.layers.map((layer) => layer.digest),
    );
    expect(inspected.config.entrypoint).toEqual(["/bin/sh", "-c"]);
    expect(inspected.config.working_dir).toBe("/home/user");
  });

  test("re-pull of an unchanged image says up to date and downloads no layer", async () => {
    const layerDigests = busybox.layers.map((layer) => layer.digest);
    const before = countBlobGets(await registry.requests(), layerDigests);
    const args = ["pull", busybox.reference];
    const result = await runMsb(args, { msbHome: home.path });
    expectExit(result, args, 0);
    expect(result.stderr).toMatch(/up to date/i);
    expect(countBlobGets(await registry.requests(), layerDigests)).toBe(before);
  });

  test("-f downloads every layer again", async () => {
    const layerDigests = busybox.layers.map((layer) => layer.digest);
    const before = countBlobGets(await registry.requests(), layerDigests);
    const args = ["pull", "-f", busybox.reference];
    const result = await runMsb(args, { msbHome: home.path });
    expectExit(result, args, 0);
    expect(countBlobGets(await registry.requests(), layerDigests) - before).toBe(layerDigests.length);
    expect(existsSync(rootfsPath(home.path, busybox.manifestDigest))).toBe(true);
  });

  test("pulls by digest", async () => {
    const reference = `${registry.host}/${busybox.repository}@${busybox.manifestDigest}`;
    const args = ["pull", reference];
    const result = await runMsb(args, { msbHome: home.path });
    expectExit(result, args, 0);
    expect((await inspectJson(reference, home.path)).digest).toBe(busybox.manifestDigest);
  });

  test("picks the host platform from an index by default", async () => {
    const args = ["pull", multi.reference];
    const result = await runMsb(args, { msbHome: home.path });
    expectExit(result, args, 0);
    const inspected = await inspectJson(multi.reference, home.path);
    expect(inspected.architecture).toBe(hostArchitecture());
    const expected = multi.platforms[`linux/${hostArchitecture()}`];
    if (expected) expect(inspected.digest).toBe(expected.manifestDigest);
  });

  test("--platform linux/arm64 picks the arm64 manifest", async () => {
    const armHome = await tempMsbHome();
    try {
      const args = ["pull", "--platform", "linux/arm64", multi.reference];
      const result = await runMsb(args, { msbHome: armHome.path });
      expectExit(result, args, 0);
      const inspected = await inspectJson(multi.reference, armHome.path);
      expect(inspected.architecture).toBe("arm64");
      expect(inspected.digest).toBe(multi.platforms["linux/arm64/v8"]!.manifestDigest);
    } finally {
      await armHome.remove();
    }
  });

  test("pulls a Docker v2 schema2 image quietly with -q", async () => {
    const args = ["pull", "-q", docker.reference];
    const result = await runMsb(args, { msbHome: home.path });
    expectExit(result, args, 0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe("");
    const inspected = await inspectJson(docker.reference, home.path);
    expect(inspected.digest).toBe(docker.manifestDigest);
    expect(inspected.layers.map((layer) => layer.media_type)).toEqual([
      MEDIA_TYPES.dockerLayerGzip,
      MEDIA_TYPES.dockerLayerGzip,
    ]);
  });

  test("pulls zstd and uncompressed layers", async () => {
    const args = ["pull", zstd.reference];
    const result = await runMsb(args, { msbHome: home.path });
    expectExit(result, args, 0);
    const inspected = await inspectJson(zstd.reference, home.path);
    expect(inspected.layers.map((layer) => layer.media_type)).toEqual([
      MEDIA_TYPES.ociLayerZstd,
      MEDIA_TYPES.ociLayer,
    ]);
  });

  test("a malformed reference is a usage error (exit 2)", async () => {
    const args = ["pull", "UPPER/case"];
    const result = await runMsb(args, { msbHome: home.path });
    expectExit(result, args, 2);
    expectCleanError(result);
  });

  test("a missing image is not found (exit 3)", async () => {
    const args = ["pull", `${registry.host}/nope:latest`];
    const result = await runMsb(args, { msbHome: home.path });
    expectExit(result, args, 3);
    expectCleanError(result);
  });

  test("an unreachable registry is unavailable (exit 7)", async () => {
    const args = ["pull", "127.0.0.1:1/test/busybox:latest"];
    const result = await runMsb(args, { msbHome: home.path, timeoutMs: 90_000 });
    expectExit(result, args, 7);
    expectCleanError(result);
  });

  test("a corrupted blob fails the pull with a digest error and leaves nothing behind", async () => {
    const corrupt = await pushImage({ url: registry.url }, "test/corrupt", "latest", uniqueImage("corrupt"));
    const layer = corrupt.layers[0]!;
    // Same size, different bytes: the registry serves it happily, only the digest can tell.
    const dataPath = registry.blobDataPath(layer.digest);
    const original = readFileSync(dataPath);
    await Bun.write(
      dataPath,
      original.map((byte) => byte ^ 0xff),
    );

    const corruptHome = await tempMsbHome();
    try {
      const args = ["pull", corrupt.reference];
      const result = await runMsb(args, { msbHome: corruptHome.path });
      expect(result.code, describeRun(args, result)).not.toBe(0);
      expectCleanError(result, { first: false });
      expect(result.stderr).toMatch(/digest/i);

      const listed = await runMsb(["images", "-q"], { msbHome: corruptHome.path });
      expect(listed.stdout).not.toContain("test/corrupt");
      expect(existsSync(rootfsPath(corruptHome.path, corrupt.manifestDigest))).toBe(false);
      const blobsDir = join(corruptHome.path, "blobs/sha256");
      const stored = existsSync(blobsDir) ? readdirSync(blobsDir) : [];
      expect(stored).not.toContain(layer.digest.slice("sha256:".length));
      expect(listDir(corruptHome.path, "tmp"), "partial downloads left in $MSB_HOME/tmp").toEqual([]);
      for (const name of stored) {
        const hex = createHash("sha256")
          .update(readFileSync(join(blobsDir, name)))
          .digest("hex");
        expect(hex, `blob ${name} holds other content`).toBe(name);
      }
    } finally {
      await corruptHome.remove();
    }
  });

  describe.skipIf(erofsSkip !== undefined)("EROFS root", () => {
    // Each test pulls what it checks (a no-op after the tests above) so it also runs alone.
    test("the busybox root has the layers applied in order", async () => {
      await runMsbOk(["pull", busybox.reference], { msbHome: home.path });
      const imagePath = rootfsPath(home.path, busybox.manifestDigest);
      const root = await extractErofs(imagePath);
      const at = (path: string) => join(root.path, path);
      try {
        expect(readFileSync(at("bin/busybox")).equals(readFileSync("/usr/bin/busybox"))).toBe(true);
        expect(lstatSync(at("bin/busybox")).mode & 0o777).toBe(0o755);
        for (const applet of BUSYBOX_TREE.applets) expect(readlinkSync(at(`bin/${applet}`))).toBe("busybox");
        expect(readFileSync(at("etc/passwd"), "utf8")).toBe(BUSYBOX_TREE.passwd);
        expect(readFileSync(at("etc/group"), "utf8")).toBe(BUSYBOX_TREE.group);
        expect(readFileSync(at(BUSYBOX_TREE.replaced), "utf8")).toBe(BUSYBOX_TREE.motd);
        expect(existsSync(at(BUSYBOX_TREE.whitedOut))).toBe(false);
        expect(existsSync(at(BUSYBOX_TREE.whiteout))).toBe(false);
        expect(existsSync(at(BUSYBOX_TREE.opaqueGone))).toBe(false);
        expect(readdirSync(at(BUSYBOX_TREE.opaqueDir))).toEqual(["new.txt"]);
        expect(readFileSync(at(BUSYBOX_TREE.hardlink), "utf8")).toBe(BUSYBOX_TREE.greeting);
        const home = lstatSync(at("home/user"));
        expect([home.uid, home.gid, home.mode & 0o7777]).toEqual([1000, 1000, 0o700]);
        expect(lstatSync(at("tmp")).mode & 0o7777).toBe(0o1777);
      } finally {
        await root.remove();
      }
      // fsck.erofs --extract writes hardlinks as copies; dump.erofs shows they share one inode.
      if (Bun.which("dump.erofs")) {
        const targetNid = erofsNid(imagePath, `/${BUSYBOX_TREE.hardlinkTarget}`);
        expect(targetNid).toBeDefined();
        expect(erofsNid(imagePath, `/${BUSYBOX_TREE.hardlink}`)).toBe(targetNid);
      }
    });

    test("the Docker v2, zstd, plain and per-platform roots hold their layer files", async () => {
      const arch = hostArchitecture();
      const cases: [string, Record<string, string>][] = [
        [
          docker.manifestDigest,
          { "docker-layer-1.txt": "docker one\n", "docker-layer-2.txt": "docker two\n" },
        ],
        [zstd.manifestDigest, { "zstd-layer.txt": "zstd ".repeat(1000), "plain-layer.txt": "plain\n" }],
      ];
      const hostPlatform = multi.platforms[`linux/${arch}`];
      if (hostPlatform) cases.push([hostPlatform.manifestDigest, { platform: `linux/${arch}\n` }]);
      for (const reference of [docker.reference, zstd.reference, multi.reference]) {
        await runMsbOk(["pull", reference], { msbHome: home.path });
      }
      for (const [digest, files] of cases) {
        const root = await extractErofs(rootfsPath(home.path, digest));
        try {
          for (const [name, content] of Object.entries(files)) {
            expect(readFileSync(join(root.path, name), "utf8")).toBe(content);
          }
        } finally {
          await root.remove();
        }
      }
    });
  });
});
