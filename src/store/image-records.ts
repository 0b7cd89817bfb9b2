// Image rows in msb.db: one manifest row per platform-specific manifest, one image row per
// reference pointing at it. Pure data access; callers hold the store lock when writing.
import type { Database } from "bun:sqlite";

export interface ManifestLayerRecord {
  digest: string;
  diffId: string | null;
  mediaType: string;
  sizeBytes: number;
}

export interface ManifestRecord {
  digest: string;
  mediaType: string;
  configDigest: string;
  os: string;
  architecture: string;
  variant: string | null;
  configJson: string;
  imageCreated: string | null;
  sizeBytes: number;
  rootfsBytes: number | null;
  storedAt: string;
  layers: ManifestLayerRecord[];
}

export interface ImageRecord {
  reference: string;
  indexDigest: string | null;
  pulledAt: string;
  manifest: ManifestRecord;
}

interface ManifestRow {
  digest: string;
  media_type: string;
  config_digest: string;
  os: string;
  architecture: string;
  variant: string | null;
  config_json: string;
  image_created: string | null;
  size_bytes: number;
  rootfs_bytes: number | null;
  stored_at: string;
}

interface ImageRow {
  reference: string;
  manifest_digest: string;
  index_digest: string | null;
  pulled_at: string;
}

export function saveImage(
  db: Database,
  manifest: ManifestRecord,
  reference: string,
  indexDigest: string | null,
) {
  db.transaction(() => {
    db.query(
      `INSERT INTO manifests (digest, media_type, config_digest, os, architecture, variant, config_json,
         image_created, size_bytes, rootfs_bytes, stored_at)
       VALUES ($digest, $mediaType, $configDigest, $os, $architecture, $variant, $configJson, $imageCreated,
         $sizeBytes, $rootfsBytes, $storedAt)
       ON CONFLICT(digest) DO UPDATE SET rootfs_bytes = excluded.rootfs_bytes`,
    ).run({
      digest: manifest.digest,
      mediaType: manifest.mediaType,
      configDigest: manifest.configDigest,
      os: manifest.os,
      architecture: manifest.architecture,
      variant: manifest.variant,
      configJson: manifest.configJson,
      imageCreated: manifest.imageCreated,
      sizeBytes: manifest.sizeBytes,
      rootfsBytes: manifest.rootfsBytes,
      storedAt: manifest.storedAt,
    });
    db.query("DELETE FROM manifest_layers WHERE manifest_digest = $digest").run({ digest: manifest.digest });
    const insertLayer = db.query(
      `INSERT INTO manifest_layers (manifest_digest, position, digest, diff_id, media_type, size_bytes)
       VALUES ($manifest, $position, $digest, $diffId, $mediaType, $sizeBytes)`,
    );
    manifest.layers.forEach((layer, position) => {
      insertLayer.run({ manifest: manifest.digest, position, ...layer });
    });
    db.query(
      `INSERT INTO images (reference, manifest_digest, index_digest, pulled_at)
       VALUES ($reference, $manifest, $indexDigest, $pulledAt)
       ON CONFLICT(reference) DO UPDATE SET manifest_digest = excluded.manifest_digest,
         index_digest = excluded.index_digest, pulled_at = excluded.pulled_at`,
    ).run({ reference, manifest: manifest.digest, indexDigest, pulledAt: new Date().toISOString() });
  }).immediate();
}

export function findImage(db: Database, reference: string): ImageRecord | undefined {
  const row = db.query<ImageRow, [string]>("SELECT * FROM images WHERE reference = ?").get(reference);
  return row ? toImageRecord(db, row) : undefined;
}

/** Images whose manifest digest starts with `prefix` (for `msb image inspect sha256:abc…`). */
export function findImagesByDigestPrefix(db: Database, prefix: string): ImageRecord[] {
  const rows = db
    .query<ImageRow, [string]>("SELECT * FROM images WHERE manifest_digest LIKE ? || '%' ORDER BY reference")
    .all(prefix.includes(":") ? prefix : `sha256:${prefix}`);
  return rows.map((row) => toImageRecord(db, row));
}

export function listImages(db: Database): ImageRecord[] {
  const rows = db.query<ImageRow, []>("SELECT * FROM images ORDER BY reference").all();
  return rows.map((row) => toImageRecord(db, row));
}

export function deleteImage(db: Database, reference: string): void {
  db.query("DELETE FROM images WHERE reference = ?").run(reference);
}

/** Names of sandboxes built from this reference or this manifest. */
export function sandboxesUsingImage(db: Database, reference: string, manifestDigest: string): string[] {
  return db
    .query<{ name: string }, [string, string]>(
      "SELECT name FROM sandboxes WHERE image_reference = ? OR manifest_digest = ? ORDER BY name",
    )
    .all(reference, manifestDigest)
    .map((row) => row.name);
}

/** Manifests no image and no sandbox points at any more. */
export function orphanManifests(db: Database): string[] {
  return db
    .query<{ digest: string }, []>(
      `SELECT digest FROM manifests
       WHERE digest NOT IN (SELECT manifest_digest FROM images)
         AND digest NOT IN (SELECT manifest_digest FROM sandboxes)`,
    )
    .all()
    .map((row) => row.digest);
}

export function storedManifests(db: Database): string[] {
  return db
    .query<{ digest: string }, []>("SELECT digest FROM manifests")
    .all()
    .map((row) => row.digest);
}

export function deleteManifest(db: Database, digest: string): void {
  db.query("DELETE FROM manifests WHERE digest = ?").run(digest);
}

/** Every blob digest a stored manifest still needs: the manifest itself, its config, its layers. */
export function referencedBlobs(db: Database): Set<string> {
  const digests = new Set<string>();
  for (const row of db
    .query<{ digest: string; config_digest: string }, []>("SELECT digest, config_digest FROM manifests")
    .all()) {
    digests.add(row.digest);
    digests.add(row.config_digest);
  }
  for (const row of db.query<{ digest: string }, []>("SELECT DISTINCT digest FROM manifest_layers").all()) {
    digests.add(row.digest);
  }
  return digests;
}

function toImageRecord(db: Database, row: ImageRow): ImageRecord {
  const manifest = db
    .query<ManifestRow, [string]>("SELECT * FROM manifests WHERE digest = ?")
    .get(row.manifest_digest);
  if (!manifest) throw new Error(`image ${row.reference} points at missing manifest ${row.manifest_digest}`);
  const layers = db
    .query<{ digest: string; diff_id: string | null; media_type: string; size_bytes: number }, [string]>(
      "SELECT digest, diff_id, media_type, size_bytes FROM manifest_layers WHERE manifest_digest = ? ORDER BY position",
    )
    .all(row.manifest_digest)
    .map((layer) => ({
      digest: layer.digest,
      diffId: layer.diff_id,
      mediaType: layer.media_type,
      sizeBytes: layer.size_bytes,
    }));
  return {
    reference: row.reference,
    indexDigest: row.index_digest,
    pulledAt: row.pulled_at,
    manifest: {
      digest: manifest.digest,
      mediaType: manifest.media_type,
      configDigest: manifest.config_digest,
      os: manifest.os,
      architecture: manifest.architecture,
      variant: manifest.variant,
      configJson: manifest.config_json,
      imageCreated: manifest.image_created,
      sizeBytes: manifest.size_bytes,
      rootfsBytes: manifest.rootfs_bytes,
      storedAt: manifest.stored_at,
      layers,
    },
  };
}
