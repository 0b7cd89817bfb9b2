// Reading and removing stored images: the view models behind `images`, `image inspect` and
// `rmi`, and the garbage collection that frees blobs and roots nothing references any more.
import { ConflictError, MsbError, NotFoundError } from "../errors.ts";
import {
  deleteImage,
  findImage,
  findImagesByDigestPrefix,
  type ImageRecord,
  listImages,
  sandboxesUsingImage,
} from "../store/image-records.ts";
import { lockStoreContent, type Store } from "../store/store.ts";
import { collectGarbage } from "./garbage.ts";
import { type ImageRuntimeConfig, parseImageConfig } from "./image-config.ts";
import { formatReference, parseReference } from "./reference.ts";

export interface ImageSummary {
  reference: string;
  digest: string;
  sizeBytes: number;
  architecture: string;
  os: string;
  layerCount: number;
  createdAt: string;
}

export interface ImageDetails extends ImageSummary {
  variant: string | null;
  indexDigest: string | null;
  pulledAt: string;
  rootfsBytes: number | null;
  config: ImageRuntimeConfig;
  layers: Array<{ digest: string; sizeBytes: number; mediaType: string }>;
}

export function listImageSummaries(store: Store): ImageSummary[] {
  return listImages(store.db).map(summarize);
}

export function inspectImage(store: Store, input: string): ImageDetails {
  const record = resolveStoredImage(store, input);
  const config = parseImageConfig(
    new TextEncoder().encode(record.manifest.configJson),
    record.manifest.configDigest,
  );
  return {
    ...summarize(record),
    variant: record.manifest.variant,
    indexDigest: record.indexDigest,
    pulledAt: record.pulledAt,
    rootfsBytes: record.manifest.rootfsBytes,
    config: config.runtime,
    layers: record.manifest.layers.map((layer) => ({
      digest: layer.digest,
      sizeBytes: layer.sizeBytes,
      mediaType: layer.mediaType,
    })),
  };
}

/** Finds a stored image by reference (any spelling of it) or by a manifest digest prefix. */
export function resolveStoredImage(store: Store, input: string): ImageRecord {
  const digestLike = /^(sha256:)?[0-9a-f]{6,64}$/.test(input);
  if (digestLike) {
    const matches = findImagesByDigestPrefix(store.db, input);
    const first = matches[0];
    if (first && matches.every((match) => match.manifest.digest === first.manifest.digest)) return first;
  }
  const record = findImage(store.db, canonical(input));
  if (!record) throw new NotFoundError(`image not found: ${input}`, "list stored images with 'msb images'");
  return record;
}

export interface RemoveResult {
  removed: string[];
  failures: Array<{ input: string; error: MsbError }>;
  freedBytes: number;
}

/** Removes image references, then collects what no image or sandbox needs. */
export async function removeImages(store: Store, inputs: string[], force: boolean): Promise<RemoveResult> {
  const lock = await lockStoreContent(store, "collect");
  try {
    const removed: string[] = [];
    const failures: RemoveResult["failures"] = [];
    for (const input of inputs) {
      try {
        const record = resolveStoredImage(store, input);
        const users = sandboxesUsingImage(store.db, record.reference, record.manifest.digest);
        if (users.length > 0 && !force) {
          throw new ConflictError(
            `image ${record.reference} is used by sandbox ${users.join(", ")}`,
            "remove the sandbox first, or use --force to drop the reference and keep its files for the sandbox",
          );
        }
        deleteImage(store.db, record.reference);
        removed.push(record.reference);
      } catch (error) {
        if (!(error instanceof MsbError)) throw error;
        failures.push({ input, error });
      }
    }
    return { removed, failures, freedBytes: removed.length > 0 ? collectGarbage(store) : 0 };
  } finally {
    lock.release();
  }
}

function canonical(input: string): string {
  try {
    return formatReference(parseReference(input));
  } catch {
    return input;
  }
}

function summarize(record: ImageRecord): ImageSummary {
  return {
    reference: record.reference,
    digest: record.manifest.digest,
    sizeBytes: record.manifest.sizeBytes,
    architecture: record.manifest.architecture,
    os: record.manifest.os,
    layerCount: record.manifest.layers.length,
    createdAt: record.manifest.imageCreated ?? record.pulledAt,
  };
}
