// Named volume rows in msb.db. A volume's data lives apart from its row (volumes/<name>/ or
// volumes/<name>.ext4); the row says which kind it is, its quota and ownership. Which sandboxes
// use a volume is read from the sandboxes' own specs, so it cannot drift from what they mount.
import type { Database } from "bun:sqlite";
import { ConflictError } from "../errors.ts";
import { listSandboxes, type SandboxRecord } from "./sandbox-records.ts";

/** `dir`: a host directory, no quota. `disk`: a sparse ext4 image whose size is the quota. */
export type VolumeKind = "dir" | "disk";

export interface VolumeOwner {
  uid: number;
  gid: number;
}

export interface VolumeRecord {
  name: string;
  kind: VolumeKind;
  /** The disk's size (its quota); null for a directory volume. */
  sizeBytes: number | null;
  /** Owner of the volume's root directory; null: root. */
  owner: VolumeOwner | null;
  createdAt: string;
}

interface VolumeRow {
  name: string;
  kind: string;
  size_bytes: number | null;
  uid: number | null;
  gid: number | null;
  created_at: string;
}

/** Records a new volume; a taken name is a ConflictError. */
export function insertVolume(db: Database, volume: Omit<VolumeRecord, "createdAt">): VolumeRecord {
  const record: VolumeRecord = { ...volume, createdAt: new Date().toISOString() };
  try {
    db.transaction(() => {
      db.query(
        `INSERT INTO volumes (name, kind, size_bytes, uid, gid, created_at)
         VALUES ($name, $kind, $sizeBytes, $uid, $gid, $createdAt)`,
      ).run({
        name: record.name,
        kind: record.kind,
        sizeBytes: record.sizeBytes,
        uid: record.owner?.uid ?? null,
        gid: record.owner?.gid ?? null,
        createdAt: record.createdAt,
      });
    }).immediate();
  } catch (error) {
    if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
      throw new ConflictError(
        `volume ${volume.name} already exists`,
        `use it with -v ${volume.name}:/path, or remove it first with 'msb volume rm ${volume.name}'`,
      );
    }
    throw error;
  }
  return record;
}

export function findVolume(db: Database, name: string): VolumeRecord | undefined {
  const row = db.query<VolumeRow, [string]>("SELECT * FROM volumes WHERE name = ?").get(name);
  return row ? toRecord(row) : undefined;
}

export function listVolumes(db: Database): VolumeRecord[] {
  return db.query<VolumeRow, []>("SELECT * FROM volumes ORDER BY name").all().map(toRecord);
}

export function deleteVolume(db: Database, name: string): boolean {
  let changes = 0;
  db.transaction(() => {
    changes = db.query("DELETE FROM volumes WHERE name = ?").run(name).changes;
  }).immediate();
  return changes > 0;
}

/** Sandboxes (any state) whose spec mounts the volume, by name. */
export function sandboxesUsingVolume(db: Database, name: string): SandboxRecord[] {
  return listSandboxes(db).filter((sandbox) => mountsVolume(sandbox, name));
}

export function mountsVolume(sandbox: Pick<SandboxRecord, "spec">, name: string): boolean {
  return sandbox.spec.mounts.some((mount) => mount.kind === "volume" && mount.name === name);
}

function toRecord(row: VolumeRow): VolumeRecord {
  return {
    name: row.name,
    kind: row.kind === "disk" ? "disk" : "dir",
    sizeBytes: row.size_bytes,
    owner: row.uid === null || row.gid === null ? null : { uid: row.uid, gid: row.gid },
    createdAt: row.created_at,
  };
}
