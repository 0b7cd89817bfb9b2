// The step pull and load share once every blob is in the store: build the image's read-only
// root (rootfs.erofs) from its layers, then record the image. Safe against concurrent msb
// processes: one builder per manifest, the file appears only when complete.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { MsbError } from "../errors.ts";
import { blobPath, imageDir } from "../paths.ts";
import type { ManifestRecord } from "../store/image-records.ts";
import { saveImage } from "../store/image-records.ts";
import { lockItem, type Store } from "../store/store.ts";
import { openLayer } from "../tar/decompress.ts";
import type { ParsedImageConfig } from "./image-config.ts";
import { buildRootfs, type LayerInput, type RootfsBuildResult } from "./rootfs-build.ts";

export interface StoredLayer {
  digest: string;
  mediaType: string;
  size: number;
}

export interface ImageToInstall {
  reference: string;
  indexDigest: string | null;
  manifestDigest: string;
  manifestMediaType: string;
  configDigest: string;
  configBytes: Uint8Array;
  config: ParsedImageConfig;
  layers: StoredLayer[];
}

export interface InstallResult {
  rootfsPath: string;
  built: RootfsBuildResult | null;
}

export function rootfsPath(store: Store, manifestDigest: string): string {
  return join(imageDir(store.paths, manifestDigest), "rootfs.erofs");
}

export async function installImage(
  store: Store,
  image: ImageToInstall,
  options: { rebuild?: boolean; onBuildStart?: () => void } = {},
): Promise<InstallResult> {
  if (image.config.diffIds.length !== image.layers.length) {
    throw new MsbError(
      `image ${image.reference} lists ${image.layers.length} layers but its config has ${image.config.diffIds.length} diff_ids`,
      { hint: "the image is malformed; rebuild or re-push it" },
    );
  }
  const target = rootfsPath(store, image.manifestDigest);
  let built: RootfsBuildResult | null = null;
  const lock = await lockItem(store, "image", image.manifestDigest);
  try {
    if (options.rebuild || !existsSync(target)) {
      options.onBuildStart?.();
      removeInterruptedBuilds(imageDir(store.paths, image.manifestDigest));
      const temp = `${target}.tmp-${process.pid}`;
      try {
        built = await buildRootfs(layerInputs(store, image), temp);
        renameSync(temp, target);
      } finally {
        rmSync(temp, { force: true });
      }
    }
    saveImage(store.db, manifestRecord(image, statSync(target).size), image.reference, image.indexDigest);
  } finally {
    lock.release();
  }
  return { rootfsPath: target, built };
}

/** Leftovers of a build that was killed; safe to remove while holding the image lock. */
function removeInterruptedBuilds(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(dir)) {
    if (name !== "rootfs.erofs") rmSync(join(dir, name), { force: true });
  }
}

function layerInputs(store: Store, image: ImageToInstall): LayerInput[] {
  return image.layers.map((layer, index) => ({
    label: `layer ${index + 1}/${image.layers.length} (${layer.digest})`,
    open: () =>
      verifyDiffId(
        openLayer(blobPath(store.paths, layer.digest), layer.mediaType),
        image.config.diffIds[index] ?? "",
        layer.digest,
      ),
  }));
}

/** Passes the uncompressed layer through, failing at the end if it does not hash to its diff_id. */
async function* verifyDiffId(source: AsyncIterable<Uint8Array>, diffId: string, digest: string) {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of source) {
    hasher.update(chunk);
    yield chunk;
  }
  const actual = `sha256:${hasher.digest("hex")}`;
  if (actual !== diffId) {
    throw new MsbError(`layer ${digest} uncompresses to ${actual}, but the image config says ${diffId}`, {
      hint: "the image is corrupt; pull it again with --force",
    });
  }
}

function manifestRecord(image: ImageToInstall, rootfsBytes: number): ManifestRecord {
  return {
    digest: image.manifestDigest,
    mediaType: image.manifestMediaType,
    configDigest: image.configDigest,
    os: image.config.os,
    architecture: image.config.architecture,
    variant: image.config.variant,
    configJson: new TextDecoder().decode(image.configBytes),
    imageCreated: image.config.created,
    sizeBytes: image.layers.reduce((total, layer) => total + layer.size, image.configBytes.length),
    rootfsBytes,
    storedAt: new Date().toISOString(),
    layers: image.layers.map((layer, index) => ({
      digest: layer.digest,
      diffId: image.config.diffIds[index] ?? null,
      mediaType: layer.mediaType,
      sizeBytes: layer.size,
    })),
  };
}
