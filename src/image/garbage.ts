// Garbage collection of the image store: manifests no image or sandbox points at, their
// image roots, and blobs nothing references. Runs only with the content lock held
// exclusively, so no pull or load can be between downloading a blob and recording it.
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { collectBlobs } from "../store/blob-store.ts";
import { deleteManifest, orphanManifests, referencedBlobs, storedManifests } from "../store/image-records.ts";
import { lockStoreContent, type Store } from "../store/store.ts";

/** Call with the content lock held exclusively. Returns the bytes freed. */
export function collectGarbage(store: Store): number {
  let freed = 0;
  for (const digest of orphanManifests(store.db)) deleteManifest(store.db, digest);
  // Roots of manifests no longer recorded, and folders of builds that never finished.
  const recorded = new Set(storedManifests(store.db).map((digest) => digest.replace(/^sha256:/, "")));
  for (const name of existsSync(store.paths.images) ? readdirSync(store.paths.images) : []) {
    if (recorded.has(name)) continue;
    const dir = join(store.paths.images, name);
    for (const file of readdirSync(dir)) freed += statSync(join(dir, file)).size;
    rmSync(dir, { recursive: true, force: true });
  }
  freed += collectBlobs(store.paths, referencedBlobs(store.db)).freedBytes;
  for (const name of existsSync(store.paths.locks) ? readdirSync(store.paths.locks) : []) {
    if (name.startsWith("blob-") || name.startsWith("image-"))
      rmSync(join(store.paths.locks, name), { force: true });
  }
  return freed;
}

/**
 * After a failed pull or load: collect what it left unreferenced, but only if no other msb
 * process is adding content right now (their blobs may not be recorded yet). Otherwise the
 * next `rmi` collects it.
 */
export async function collectAfterFailure(store: Store): Promise<void> {
  let lock: Awaited<ReturnType<typeof lockStoreContent>>;
  try {
    lock = await lockStoreContent(store, "collect", 0);
  } catch {
    return;
  }
  try {
    collectGarbage(store);
  } finally {
    lock.release();
  }
}
