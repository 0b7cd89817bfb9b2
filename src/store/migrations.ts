// Versioned schema of msb.db. Append a migration; never edit one that has shipped.

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: "images, manifests, layers, sandboxes",
    sql: `
      CREATE TABLE manifests (
        digest TEXT PRIMARY KEY,
        media_type TEXT NOT NULL,
        config_digest TEXT NOT NULL,
        os TEXT NOT NULL,
        architecture TEXT NOT NULL,
        variant TEXT,
        config_json TEXT NOT NULL,
        image_created TEXT,
        size_bytes INTEGER NOT NULL,
        rootfs_bytes INTEGER,
        stored_at TEXT NOT NULL
      );
      CREATE TABLE manifest_layers (
        manifest_digest TEXT NOT NULL REFERENCES manifests(digest) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        digest TEXT NOT NULL,
        diff_id TEXT,
        media_type TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        PRIMARY KEY (manifest_digest, position)
      );
      CREATE INDEX manifest_layers_digest ON manifest_layers(digest);
      CREATE TABLE images (
        reference TEXT PRIMARY KEY,
        manifest_digest TEXT NOT NULL REFERENCES manifests(digest),
        index_digest TEXT,
        pulled_at TEXT NOT NULL
      );
      CREATE INDEX images_manifest ON images(manifest_digest);
      CREATE TABLE sandboxes (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        image_reference TEXT NOT NULL,
        manifest_digest TEXT NOT NULL,
        status TEXT NOT NULL,
        config_json TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: "sandbox runtime: supervisor, run times, last exit, ephemeral",
    sql: `
      ALTER TABLE sandboxes ADD COLUMN supervisor_pid INTEGER;
      ALTER TABLE sandboxes ADD COLUMN runtime_dir TEXT;
      ALTER TABLE sandboxes ADD COLUMN started_at TEXT;
      ALTER TABLE sandboxes ADD COLUMN stopped_at TEXT;
      ALTER TABLE sandboxes ADD COLUMN exit_code INTEGER;
      ALTER TABLE sandboxes ADD COLUMN exit_reason TEXT;
      ALTER TABLE sandboxes ADD COLUMN ephemeral INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX sandboxes_manifest ON sandboxes(manifest_digest);
    `,
  },
  {
    version: 3,
    description: "named volumes",
    sql: `
      CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('dir', 'disk')),
        size_bytes INTEGER,
        uid INTEGER,
        gid INTEGER,
        created_at TEXT NOT NULL
      );
    `,
  },
];
