// Opens msb.db (bun:sqlite, WAL) and brings its schema up to date. Concurrent msb processes
// share it safely: WAL for readers, a busy timeout for writers, migrations in one transaction.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { MsbError } from "../errors.ts";
import { acquireLockSync } from "../util/file-lock.ts";
import { MIGRATIONS } from "./migrations.ts";

export function openDatabase(path: string): Database {
  mkdirSync(dirname(path), { recursive: true });
  // Switching a new file to WAL and migrating it need the whole file; SQLite reports "database
  // is locked" to a second process doing the same at that moment instead of waiting for it.
  const lock = acquireLockSync(`${path}.lock`);
  try {
    return openAndMigrate(path);
  } finally {
    lock.release();
  }
}

function openAndMigrate(path: string): Database {
  let db: Database;
  try {
    db = new Database(path, { create: true, strict: true });
  } catch (error) {
    throw new MsbError(`cannot open the state database ${path}`, {
      cause: error,
      hint: "check that MSB_HOME is writable",
    });
  }
  db.exec("PRAGMA busy_timeout = 10000");
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA synchronous = NORMAL");
  migrate(db);
  return db;
}

export function schemaVersion(db: Database): number {
  const row = db.query<{ user_version: number }, []>("PRAGMA user_version").get();
  return row?.user_version ?? 0;
}

function migrate(db: Database): void {
  const latest = MIGRATIONS.at(-1)?.version ?? 0;
  if (schemaVersion(db) === latest) return;
  db.transaction(() => {
    // Re-read inside the write transaction: another process may have migrated meanwhile.
    const current = schemaVersion(db);
    if (current > latest) {
      throw new MsbError(
        `the state database has schema version ${current}, newer than this msb knows (${latest})`,
        {
          code: "conflict",
          hint: "upgrade msb (bash scripts/setup.sh)",
        },
      );
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.exec(`PRAGMA user_version = ${migration.version}`);
    }
  }).immediate();
}
