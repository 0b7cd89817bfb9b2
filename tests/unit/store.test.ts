// The state store: migrations, image records, blob verification and garbage collection.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blobPath, msbPaths } from "../../src/paths.ts";
import { collectBlobs, hasBlob, sha256Digest, writeBlob } from "../../src/store/blob-store.ts";
import { openDatabase, schemaVersion } from "../../src/store/db.ts";
import {
  deleteImage,
  findImage,
  listImages,
  type ManifestRecord,
  orphanManifests,
  referencedBlobs,
  sandboxesUsingImage,
  saveImage,
} from "../../src/store/image-records.ts";
import { MIGRATIONS } from "../../src/store/migrations.ts";

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "msb-store-"));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

function manifest(digest: string, layers: string[]): ManifestRecord {
  return {
    digest,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    configDigest: `${digest}-config`,
    os: "linux",
    architecture: "amd64",
    variant: null,
    configJson: "{}",
    imageCreated: "2026-01-01T00:00:00Z",
    sizeBytes: 100,
    rootfsBytes: 4096,
    storedAt: new Date().toISOString(),
    layers: layers.map((layer) => ({ digest: layer, diffId: null, mediaType: "tar", sizeBytes: 10 })),
  };
}

describe("database", () => {
  test("migrates a new database to the latest version, once", () => {
    const path = join(home, "msb.db");
    const first = openDatabase(path);
    expect(schemaVersion(first)).toBe(MIGRATIONS.at(-1)!.version);
    first.close();
    const second = openDatabase(path);
    expect(schemaVersion(second)).toBe(MIGRATIONS.at(-1)!.version);
    expect(second.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get()?.journal_mode).toBe("wal");
    second.close();
  });

  test("refuses a database from a newer msb", () => {
    const path = join(home, "msb.db");
    const db = openDatabase(path);
    db.exec("PRAGMA user_version = 999");
    db.close();
    expect(() => openDatabase(path)).toThrow(/schema version 999, newer than this msb knows/);
  });
});

describe("image records", () => {
  test("saves, finds, lists and re-points references", () => {
    const db = openDatabase(join(home, "msb.db"));
    saveImage(db, manifest("sha256:aa", ["sha256:l1", "sha256:l2"]), "docker.io/library/a:1", null);
    saveImage(
      db,
      manifest("sha256:aa", ["sha256:l1", "sha256:l2"]),
      "docker.io/library/a:latest",
      "sha256:ix",
    );
    expect(listImages(db).map((image) => image.reference)).toEqual([
      "docker.io/library/a:1",
      "docker.io/library/a:latest",
    ]);
    const found = findImage(db, "docker.io/library/a:latest");
    expect(found?.indexDigest).toBe("sha256:ix");
    expect(found?.manifest.layers.map((layer) => layer.digest)).toEqual(["sha256:l1", "sha256:l2"]);
    saveImage(db, manifest("sha256:bb", ["sha256:l3"]), "docker.io/library/a:1", null);
    expect(findImage(db, "docker.io/library/a:1")?.manifest.digest).toBe("sha256:bb");
    expect(orphanManifests(db)).toEqual([]);
    deleteImage(db, "docker.io/library/a:latest");
    expect(orphanManifests(db)).toEqual(["sha256:aa"]);
    db.close();
  });

  test("a sandbox keeps its manifest alive after the reference is gone", () => {
    const db = openDatabase(join(home, "msb.db"));
    saveImage(db, manifest("sha256:aa", ["sha256:l1"]), "r:1", null);
    db.query(
      `INSERT INTO sandboxes (id, name, image_reference, manifest_digest, status, config_json, created_at, updated_at)
       VALUES ('s1', 'dev', 'r:1', 'sha256:aa', 'stopped', '{}', 'now', 'now')`,
    ).run();
    expect(sandboxesUsingImage(db, "r:1", "sha256:aa")).toEqual(["dev"]);
    deleteImage(db, "r:1");
    expect(orphanManifests(db)).toEqual([]);
    expect(referencedBlobs(db)).toEqual(new Set(["sha256:aa", "sha256:aa-config", "sha256:l1"]));
    db.close();
  });
});

describe("blob store", () => {
  test("stores bytes only under their true digest", async () => {
    const paths = msbPaths(home);
    const bytes = new TextEncoder().encode("hello");
    const digest = sha256Digest(bytes);
    await writeBlob(paths, digest, bytes);
    expect(hasBlob(paths, digest, 5)).toBe(true);
    expect(hasBlob(paths, digest, 6)).toBe(false);
    const wrong = `sha256:${"0".repeat(64)}`;
    await expect(writeBlob(paths, wrong, bytes)).rejects.toThrow(/does not match its digest/);
    expect(existsSync(blobPath(paths, wrong))).toBe(false);
  });

  test("collects unreferenced blobs and stale partial files", async () => {
    const paths = msbPaths(home);
    const keep = new TextEncoder().encode("keep");
    const drop = new TextEncoder().encode("drop");
    await writeBlob(paths, sha256Digest(keep), keep);
    await writeBlob(paths, sha256Digest(drop), drop);
    const dir = join(paths.blobs, "sha256");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${sha256Digest(keep).slice(7)}.partial`), "half");
    const result = collectBlobs(paths, new Set([sha256Digest(keep)]));
    expect(result.removed).toBe(2);
    expect(readdirSync(dir)).toEqual([sha256Digest(keep).slice(7)]);
  });
});
