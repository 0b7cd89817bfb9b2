// Content-addressed blobs under MSB_HOME/blobs/sha256/<hex>. A blob appears under its final
// name only after its digest was verified, so a reader never sees a half-written blob.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { MsbError } from "../errors.ts";
import { blobPath, type MsbPaths } from "../paths.ts";

export function hasBlob(paths: MsbPaths, digest: string, size?: number): boolean {
  const path = blobPath(paths, digest);
  if (!existsSync(path)) return false;
  return size === undefined || statSync(path).size === size;
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
}

/** A stored blob's bytes when it is present and small enough to hold (configs, manifests). */
export function readSmallBlob(paths: MsbPaths, digest: string, limit = 4 << 20): Uint8Array | undefined {
  const path = blobPath(paths, digest);
  if (!existsSync(path) || statSync(path).size > limit) return undefined;
  return readFileSync(path);
}

/** Stores small bytes (manifests, configs) after checking they hash to `digest`. */
export async function writeBlob(paths: MsbPaths, digest: string, bytes: Uint8Array): Promise<void> {
  const actual = sha256Digest(bytes);
  if (actual !== digest) {
    throw new MsbError(`content does not match its digest: expected ${digest}, got ${actual}`, {
      hint: "the source is corrupt or was modified; pull again",
    });
  }
  const path = blobPath(paths, digest);
  if (existsSync(path)) return;
  mkdirSync(join(paths.blobs, "sha256"), { recursive: true });
  const temp = `${path}.tmp-${process.pid}`;
  await Bun.write(temp, bytes);
  renameSync(temp, path);
}

/** Moves an already verified file into the store under its digest. */
export function adoptBlob(paths: MsbPaths, digest: string, verifiedFile: string): void {
  mkdirSync(join(paths.blobs, "sha256"), { recursive: true });
  renameSync(verifiedFile, blobPath(paths, digest));
}

/** Deletes blob files (and stale partial downloads) whose digest is not in `keep`. */
export function collectBlobs(paths: MsbPaths, keep: Set<string>): { removed: number; freedBytes: number } {
  const dir = join(paths.blobs, "sha256");
  if (!existsSync(dir)) return { removed: 0, freedBytes: 0 };
  let removed = 0;
  let freedBytes = 0;
  for (const name of readdirSync(dir)) {
    const hex = name.split(".")[0] ?? name;
    if (keep.has(`sha256:${hex}`) && name === hex) continue;
    const path = join(dir, name);
    freedBytes += statSync(path).size;
    rmSync(path, { force: true });
    removed++;
  }
  return { removed, freedBytes };
}
