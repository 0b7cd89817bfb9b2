// `rmi` semantics on the store: refused while a sandbox uses the image, --force drops only the
// reference (the sandbox keeps its root), and garbage collection frees what nothing needs.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeImages, resolveStoredImage } from "../../src/image/catalog.ts";
import { imageDir, msbPaths } from "../../src/paths.ts";
import { sha256Digest, writeBlob } from "../../src/store/blob-store.ts";
import { saveImage } from "../../src/store/image-records.ts";
import { openStore, type Store } from "../../src/store/store.ts";

let home: string;
let store: Store;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "msb-catalog-"));
  store = openStore(msbPaths(home));
});
afterEach(() => {
  store.close();
  rmSync(home, { recursive: true, force: true });
});

async function addImage(reference: string, content: string): Promise<{ manifest: string; layer: string }> {
  const bytes = (text: string) => new TextEncoder().encode(text);
  const layer = sha256Digest(bytes(`layer ${content}`));
  const config = sha256Digest(bytes(`config ${content}`));
  const manifest = sha256Digest(bytes(`manifest ${content}`));
  await writeBlob(store.paths, layer, bytes(`layer ${content}`));
  await writeBlob(store.paths, config, bytes(`config ${content}`));
  await writeBlob(store.paths, manifest, bytes(`manifest ${content}`));
  mkdirSync(imageDir(store.paths, manifest), { recursive: true });
  writeFileSync(join(imageDir(store.paths, manifest), "rootfs.erofs"), "erofs");
  saveImage(
    store.db,
    {
      digest: manifest,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      configDigest: config,
      os: "linux",
      architecture: "amd64",
      variant: null,
      configJson: "{}",
      imageCreated: null,
      sizeBytes: 10,
      rootfsBytes: 5,
      storedAt: new Date().toISOString(),
      layers: [
        { digest: layer, diffId: null, mediaType: "application/vnd.oci.image.layer.v1.tar", sizeBytes: 10 },
      ],
    },
    reference,
    null,
  );
  return { manifest, layer };
}

function addSandbox(name: string, reference: string, manifest: string): void {
  store.db
    .query(
      `INSERT INTO sandboxes (id, name, image_reference, manifest_digest, status, config_json, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'stopped', '{}', 'now', 'now')`,
    )
    .run(name, name, reference, manifest);
}

test("finds images by any spelling of the reference and by digest prefix", async () => {
  const { manifest } = await addImage("docker.io/library/alpine:latest", "a");
  expect(resolveStoredImage(store, "alpine").reference).toBe("docker.io/library/alpine:latest");
  expect(resolveStoredImage(store, manifest.slice(7, 19)).reference).toBe("docker.io/library/alpine:latest");
  expect(() => resolveStoredImage(store, "busybox")).toThrow("image not found: busybox");
});

test("refuses to remove an image a sandbox uses, and reports the others", async () => {
  const used = await addImage("docker.io/library/used:1", "used");
  await addImage("docker.io/library/free:1", "free");
  addSandbox("dev", "docker.io/library/used:1", used.manifest);
  const result = await removeImages(store, ["used:1", "free:1", "missing:1"], false);
  expect(result.removed).toEqual(["docker.io/library/free:1"]);
  expect(result.failures.map((failure) => [failure.input, failure.error.code])).toEqual([
    ["used:1", "conflict"],
    ["missing:1", "notFound"],
  ]);
  expect(result.failures[0]?.error.message).toBe("image docker.io/library/used:1 is used by sandbox dev");
  expect(existsSync(join(imageDir(store.paths, used.manifest), "rootfs.erofs"))).toBe(true);
});

test("--force drops the reference but keeps the root and blobs the sandbox needs", async () => {
  const used = await addImage("docker.io/library/used:1", "used");
  addSandbox("dev", "docker.io/library/used:1", used.manifest);
  const result = await removeImages(store, ["used:1"], true);
  expect(result.removed).toEqual(["docker.io/library/used:1"]);
  expect(existsSync(join(imageDir(store.paths, used.manifest), "rootfs.erofs"))).toBe(true);
  expect(existsSync(join(store.paths.blobs, "sha256", used.layer.slice(7)))).toBe(true);
  store.db.query("DELETE FROM sandboxes").run();
  const other = await addImage("docker.io/library/other:1", "other");
  await removeImages(store, ["other:1"], false);
  expect(readdirSync(store.paths.images)).toEqual([]);
  expect(readdirSync(join(store.paths.blobs, "sha256"))).toEqual([]);
  expect(other.manifest).not.toBe(used.manifest);
});
