// The store handle commands work with: MSB_HOME paths, the open database, and the store-wide
// lock that keeps garbage collection away from a pull that has not recorded its blobs yet.
import type { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type MsbPaths, msbPaths } from "../paths.ts";
import { acquireLock, type FileLock } from "../util/file-lock.ts";
import { openDatabase } from "./db.ts";

export interface Store {
  paths: MsbPaths;
  db: Database;
  close(): void;
}

export function openStore(paths: MsbPaths = msbPaths()): Store {
  for (const dir of [paths.home, paths.blobs, paths.images, paths.locks, paths.tmp])
    mkdirSync(dir, { recursive: true });
  const db = openDatabase(paths.db);
  return { paths, db, close: () => db.close() };
}

/** Shared while adding content (many pulls at once), exclusive while collecting garbage. */
export function lockStoreContent(
  store: Store,
  mode: "add" | "collect",
  timeoutMs?: number,
): Promise<FileLock> {
  return acquireLock(join(store.paths.locks, "content.lock"), { shared: mode === "add", timeoutMs });
}

export function lockItem(store: Store, kind: "blob" | "image", digest: string): Promise<FileLock> {
  return acquireLock(join(store.paths.locks, `${kind}-${digest.replace(/^sha256:/, "")}.lock`));
}
