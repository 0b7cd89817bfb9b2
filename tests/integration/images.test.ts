// `msb images`, `msb image inspect` and `msb rmi` on images pulled from a loopback registry:
// the table and JSON shapes, the aliases, and that removing images garbage-collects the blobs
// and image roots nothing references any more.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  busyboxImage,
  dockerV2Image,
  hostArchitecture,
  type PushedImage,
  pushImage,
  zstdAndPlainImage,
} from "../helpers/image-builder.ts";
import { type LocalRegistry, startRegistry } from "../helpers/local-registry.ts";
import {
  describeRun,
  listDir,
  requireMsbBinary,
  rootfsPath,
  runMsb,
  runMsbOk,
  type TempDir,
  tempMsbHome,
} from "../helpers/msb-cli.ts";
import { announceSkip, requireDockerRegistry } from "../helpers/skip.ts";

const skipReason = announceSkip("images", requireDockerRegistry());

function hexOf(digest: string): string {
  return digest.replace(/^sha256:/, "");
}

describe.skipIf(skipReason !== undefined)("msb images / image inspect / rmi", () => {
  let registry: LocalRegistry;
  let home: TempDir;
  let busybox: PushedImage;
  let docker: PushedImage;
  let zstd: PushedImage;

  beforeAll(async () => {
    requireMsbBinary();
    registry = await startRegistry();
    const target = { url: registry.url };
    busybox = await pushImage(target, "test/busybox", "latest", await busyboxImage());
    docker = await pushImage(target, "test/docker", "v2", dockerV2Image());
    zstd = await pushImage(target, "test/zstd", "latest", zstdAndPlainImage());
    home = await tempMsbHome();
  });

  afterAll(async () => {
    await registry?.stop();
    await home?.remove();
  });

  test("an empty store lists nothing and says so on stderr", async () => {
    const result = await runMsb(["images"], { msbHome: home.path });
    expect(result.code, describeRun(["images"], result)).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("No images found.");
  });

  test("lists pulled images as a table", async () => {
    for (const image of [busybox, docker, zstd]) {
      await runMsbOk(["pull", "-q", image.reference], { msbHome: home.path });
    }
    const result = await runMsbOk(["images"], { msbHome: home.path });
    const [header, ...rows] = result.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^REFERENCE\s+DIGEST\s+SIZE\s+CREATED\s*$/);
    expect(rows).toHaveLength(3);
    const busyboxRow = rows.find((row) => row.startsWith(`${busybox.reference} `));
    expect(busyboxRow, result.stdout).toBeDefined();
    expect(busyboxRow).toContain(`sha256:${hexOf(busybox.manifestDigest).slice(0, 12)}`);
    expect(busyboxRow).not.toMatch(/sha256:[0-9a-f]{13}/);
  });

  test("--format json has the documented fields", async () => {
    const result = await runMsbOk(["images", "--format", "json"], { msbHome: home.path });
    const images = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(images).toHaveLength(3);
    const entry = images.find((image) => image.reference === busybox.reference);
    expect(entry, result.stdout).toBeDefined();
    // Checked apart, and before toMatchObject: bun 1.4.5's toMatchObject overwrites the received
    // properties it matched with expect.any(...) matchers.
    const { size_bytes: sizeBytes, created_at: createdAt, ...rest } = entry!;
    expect(typeof sizeBytes).toBe("number");
    expect(sizeBytes as number).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(createdAt as string))).toBe(false);
    expect(rest).toMatchObject({
      reference: busybox.reference,
      digest: busybox.manifestDigest,
      architecture: hostArchitecture(),
      os: "linux",
      layer_count: 2,
    });
  });

  test("-q and the `image ls` alias print only references", async () => {
    const quiet = await runMsbOk(["images", "-q"], { msbHome: home.path });
    const expected = [busybox, docker, zstd].map((image) => image.reference).sort();
    expect(quiet.stdout.trim().split("\n").sort()).toEqual(expected);
    const alias = await runMsbOk(["image", "ls", "-q"], { msbHome: home.path });
    expect(alias.stdout).toBe(quiet.stdout);
  });

  test("image inspect shows the image and its config as text", async () => {
    const result = await runMsbOk(["image", "inspect", busybox.reference], { msbHome: home.path });
    for (const label of ["Reference", "Digest", "Architecture", "OS", "Size", "Created"]) {
      expect(result.stdout).toMatch(new RegExp(`^\\s*${label}\\b`, "m"));
    }
    expect(result.stdout).toContain(busybox.manifestDigest);
    expect(result.stdout).toMatch(/^\s*Config\b/m);
    for (const label of ["Entrypoint", "Cmd", "WorkingDir", "User", "Env"]) {
      expect(result.stdout).toMatch(new RegExp(`^\\s*${label}\\b`, "m"));
    }
    expect(result.stdout).toContain("/home/user");
    expect(result.stdout).toContain("GREETING=hello");
    expect(result.stdout).toContain("Layers (2)");
  });

  test("image inspect --format json has the documented fields", async () => {
    const result = await runMsbOk(["image", "inspect", busybox.reference, "--format", "json"], {
      msbHome: home.path,
    });
    const inspected = JSON.parse(result.stdout);
    expect(typeof inspected.size_bytes).toBe("number");
    expect(Number.isNaN(Date.parse(inspected.created_at))).toBe(false);
    expect(inspected).toMatchObject({
      reference: busybox.reference,
      digest: busybox.manifestDigest,
      architecture: hostArchitecture(),
      os: "linux",
      config: {
        entrypoint: ["/bin/sh", "-c"],
        cmd: ["echo hello"],
        env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello"],
        working_dir: "/home/user",
        user: "1000:1000",
      },
      layers: busybox.layers.map((layer) => ({
        digest: layer.digest,
        size_bytes: layer.size,
        media_type: layer.mediaType,
      })),
    });
  });

  test("image inspect of an unknown image exits 3", async () => {
    const args = ["image", "inspect", `${registry.host}/test/nope:latest`];
    const result = await runMsb(args, { msbHome: home.path });
    expect(result.code, describeRun(args, result)).toBe(3);
  });

  test("rmi removes the record and garbage-collects only what nothing else uses", async () => {
    const blobsDir = join(home.path, "blobs/sha256");
    const blobsBefore = readdirSync(blobsDir);
    const args = ["rmi", docker.reference];
    const result = await runMsb(args, { msbHome: home.path });
    expect(result.code, describeRun(args, result)).toBe(0);

    const blobsAfter = readdirSync(blobsDir);
    expect(blobsAfter.length).toBeLessThan(blobsBefore.length);
    for (const digest of [
      docker.manifestDigest,
      docker.configDigest,
      ...docker.layers.map((l) => l.digest),
    ]) {
      expect(blobsAfter).not.toContain(hexOf(digest));
    }
    for (const layer of busybox.layers) expect(blobsAfter).toContain(hexOf(layer.digest));
    expect(existsSync(rootfsPath(home.path, docker.manifestDigest))).toBe(false);
    expect(existsSync(rootfsPath(home.path, busybox.manifestDigest))).toBe(true);

    const listed = await runMsbOk(["images", "-q"], { msbHome: home.path });
    expect(listed.stdout).not.toContain(docker.reference);
  });

  test("rmi of an unknown image exits 3 and names it", async () => {
    const reference = `${registry.host}/test/nope:latest`;
    const result = await runMsb(["rmi", reference], { msbHome: home.path });
    expect(result.code, describeRun(["rmi", reference], result)).toBe(3);
    expect(result.stderr.split("\n")[0]).toBe(`error: image not found: ${reference}`);
  });

  test("removing the last images (image rm alias, -q) empties images/ and blobs/", async () => {
    const args = ["image", "rm", "-q", busybox.reference, zstd.reference];
    const result = await runMsb(args, { msbHome: home.path });
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(result.stdout).toBe("");
    expect(listDir(home.path, "images")).toEqual([]);
    expect(listDir(home.path, "blobs/sha256")).toEqual([]);
    const listed = await runMsb(["images"], { msbHome: home.path });
    expect(listed.stdout).toBe("");
    expect(listed.stderr).toContain("No images found.");
  });
});
