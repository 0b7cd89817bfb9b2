// `msb load` of archives built here: `docker save` archives in both layouts (`<id>/layer.tar`
// and Docker 25+ `blobs/sha256/`), OCI layout archives named by annotation or by --tag, from a
// file (-i) and from stdin. No registry involved.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  BUSYBOX_TREE,
  busyboxImage,
  dockerSaveArchive,
  hostArchitecture,
  type ImageParts,
  ociLayoutArchive,
  writeArchive,
  zstdAndPlainImage,
} from "../helpers/image-builder.ts";
import {
  describeRun,
  extractErofs,
  type MsbResult,
  requireMsbBinary,
  rootfsPath,
  runMsb,
  runMsbOk,
  type TempDir,
  tempDir,
  tempMsbHome,
} from "../helpers/msb-cli.ts";
import { announceSkip, requireLinux, requireTool } from "../helpers/skip.ts";

const skipReason = announceSkip("load", requireLinux());
const erofsSkip = announceSkip(
  "load: EROFS root contents",
  requireTool("fsck.erofs", "apt-get install erofs-utils"),
);

interface Inspected {
  reference: string;
  digest: string;
  architecture: string;
  config: { entrypoint: string[]; working_dir: string };
  layers: { digest: string }[];
}

describe.skipIf(skipReason !== undefined)("msb load", () => {
  let home: TempDir;
  let archives: TempDir;
  let busybox: ImageParts;
  let zstd: ImageParts;

  beforeAll(async () => {
    requireMsbBinary();
    home = await tempMsbHome();
    archives = await tempDir("msb-archives");
    busybox = await busyboxImage();
    zstd = zstdAndPlainImage();
  });

  afterAll(async () => {
    await home?.remove();
    await archives?.remove();
  });

  async function inspect(reference: string): Promise<Inspected> {
    const result = await runMsbOk(["image", "inspect", reference, "--format", "json"], {
      msbHome: home.path,
    });
    return JSON.parse(result.stdout) as Inspected;
  }

  function expectLoaded(args: string[], result: MsbResult, references: string[]): void {
    expect(result.code, describeRun(args, result)).toBe(0);
    const loaded = result.stdout.split("\n").filter((line) => line.startsWith("Loaded image: "));
    expect(loaded).toEqual(references.map((reference) => `Loaded image: ${reference}`));
  }

  test("loads a legacy docker-save archive with -i, one line per tag", async () => {
    const reference = "example.com/test/saved:v1";
    const tags = [reference, "example.com/test/saved:latest"];
    const path = await writeArchive(archives.path, "saved.tar", dockerSaveArchive(busybox, tags, "legacy"));
    const args = ["load", "-i", path];
    expectLoaded(args, await runMsb(args, { msbHome: home.path }), tags);

    const inspected = await inspect(reference);
    expect(inspected.architecture).toBe(hostArchitecture());
    expect(inspected.config.entrypoint).toEqual(["/bin/sh", "-c"]);
    expect(inspected.config.working_dir).toBe("/home/user");
    expect(inspected.layers).toHaveLength(busybox.layers.length);
    expect(existsSync(rootfsPath(home.path, inspected.digest))).toBe(true);
  });

  test("loads a Docker 25+ (blobs/sha256) docker-save archive from stdin", async () => {
    const reference = "example.com/test/saved-blobs:v1";
    const archive = dockerSaveArchive(busybox, [reference], "blobs");
    const args = ["load"];
    expectLoaded(args, await runMsb(args, { msbHome: home.path, stdin: archive }), [reference]);
    expect((await inspect(reference)).layers).toHaveLength(busybox.layers.length);
  });

  test("loads an OCI layout archive named by its ref.name annotation", async () => {
    const reference = "example.com/test/oci:v1";
    const path = await writeArchive(archives.path, "oci.tar", ociLayoutArchive(zstd, reference));
    const args = ["load", "-i", path];
    expectLoaded(args, await runMsb(args, { msbHome: home.path }), [reference]);

    const inspected = await inspect(reference);
    expect(inspected.digest).toBe(zstd.manifestDigest);
    expect(inspected.layers.map((layer) => layer.digest)).toEqual(zstd.layers.map((layer) => layer.digest));
    expect(existsSync(rootfsPath(home.path, zstd.manifestDigest))).toBe(true);
  });

  test("names an untagged OCI layout archive with --tag", async () => {
    const reference = "example.com/test/tagged:v2";
    const path = await writeArchive(archives.path, "untagged.tar", ociLayoutArchive(zstd));
    const args = ["load", "-i", path, "--tag", reference];
    expectLoaded(args, await runMsb(args, { msbHome: home.path }), [reference]);
    expect((await inspect(reference)).digest).toBe(zstd.manifestDigest);
  });

  test("an untagged OCI layout archive without --tag is a usage error (exit 2)", async () => {
    const args = ["load"];
    const result = await runMsb(args, { msbHome: home.path, stdin: ociLayoutArchive(zstd) });
    expect(result.code, describeRun(args, result)).toBe(2);
    expect(result.stderr.split("\n")[0]).toStartWith("error:");
    expect(result.stderr).toContain("--tag");
  });

  test("rejects input that is not an image archive", async () => {
    const args = ["load"];
    const result = await runMsb(args, {
      msbHome: home.path,
      stdin: "this is not a tar archive\n".repeat(40),
    });
    expect(result.code, describeRun(args, result)).not.toBe(0);
    expect(result.stderr.split("\n")[0]).toStartWith("error:");
    expect(result.stdout).not.toContain("Loaded image:");
  });

  describe.skipIf(erofsSkip !== undefined)("EROFS root", () => {
    test("a loaded docker-save image has the busybox tree", async () => {
      const reference = "example.com/test/saved:v1";
      const path = await writeArchive(
        archives.path,
        "saved.tar",
        dockerSaveArchive(busybox, [reference], "legacy"),
      );
      await runMsbOk(["load", "-i", path], { msbHome: home.path });
      const root = await extractErofs(rootfsPath(home.path, (await inspect(reference)).digest));
      try {
        expect(readFileSync(join(root.path, "bin/busybox")).equals(readFileSync("/usr/bin/busybox"))).toBe(
          true,
        );
        expect(existsSync(join(root.path, BUSYBOX_TREE.whitedOut))).toBe(false);
        expect(readFileSync(join(root.path, BUSYBOX_TREE.hardlink), "utf8")).toBe(BUSYBOX_TREE.greeting);
      } finally {
        await root.remove();
      }
    });
  });
});
