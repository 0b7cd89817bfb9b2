// `msb pull`: resolve a reference for a platform, download what the store lacks (in parallel,
// verified, resumable), build the image root and record it. Reports progress through events;
// never prints.

import { existsSync } from "node:fs";
import { MsbError } from "../errors.ts";
import { blobPath } from "../paths.ts";
import { hasBlob, readSmallBlob, writeBlob } from "../store/blob-store.ts";
import { findImage } from "../store/image-records.ts";
import { lockItem, lockStoreContent, type Store } from "../store/store.ts";
import { lookupCredentials } from "./credentials.ts";
import { collectAfterFailure } from "./garbage.ts";
import { parseImageConfig } from "./image-config.ts";
import { installImage, rootfsPath } from "./install-image.ts";
import { hostPlatform, parsePlatform } from "./platform.ts";
import { formatReference, parseReference } from "./reference.ts";
import { type LayerDescriptor, RegistryClient } from "./registry/client.ts";

export interface PullOptions {
  force?: boolean;
  platform?: string;
  insecure?: boolean;
  concurrency?: number;
  signal?: AbortSignal;
}

export interface PullEvents {
  resolved?(info: { reference: string; manifestDigest: string; layers: LayerDescriptor[] }): void;
  layerStart?(layer: LayerDescriptor, cached: boolean): void;
  layerProgress?(layer: LayerDescriptor, bytesDone: number): void;
  layerDone?(layer: LayerDescriptor): void;
  buildStart?(): void;
}

export interface PullResult {
  reference: string;
  manifestDigest: string;
  upToDate: boolean;
  downloadedBytes: number;
  layers: number;
  warnings: string[];
}

export async function pullImage(
  store: Store,
  input: string,
  options: PullOptions = {},
  events: PullEvents = {},
): Promise<PullResult> {
  const ref = parseReference(input);
  const reference = formatReference(ref);
  const platform = options.platform ? parsePlatform(options.platform) : hostPlatform();
  const client = new RegistryClient({
    insecure: options.insecure,
    credentials: (registry) => lookupCredentials(store.paths, registry),
    cachedBlob: (digest) => readSmallBlob(store.paths, digest),
  });
  const resolved = await client.resolve(ref, platform);
  events.resolved?.({ reference, manifestDigest: resolved.manifestDigest, layers: resolved.layers });

  const existing = findImage(store.db, reference);
  const complete =
    existing?.manifest.digest === resolved.manifestDigest &&
    existsSync(rootfsPath(store, resolved.manifestDigest));
  if (complete && !options.force) {
    return {
      reference,
      manifestDigest: resolved.manifestDigest,
      upToDate: true,
      downloadedBytes: 0,
      layers: resolved.layers.length,
      warnings: [],
    };
  }

  const contentLock = await lockStoreContent(store, "add");
  try {
    await writeBlob(store.paths, resolved.manifestDigest, resolved.manifestBytes);
    await writeBlob(store.paths, resolved.configDigest, resolved.configBytes);
    let downloadedBytes = 0;
    await forEachLimited(resolved.layers, options.concurrency ?? 4, async (layer) => {
      const lock = await lockItem(store, "blob", layer.digest);
      try {
        const cached = !options.force && hasBlob(store.paths, layer.digest, layer.size);
        events.layerStart?.(layer, cached);
        if (!cached) {
          await client.downloadBlob(
            ref,
            layer,
            blobPath(store.paths, layer.digest),
            (done) => events.layerProgress?.(layer, done),
            options.signal,
          );
          downloadedBytes += layer.size;
        }
        events.layerDone?.(layer);
      } finally {
        lock.release();
      }
    });
    const config = parseImageConfig(resolved.configBytes, resolved.configDigest);
    const installed = await installImage(
      store,
      {
        reference,
        indexDigest: resolved.indexDigest ?? null,
        manifestDigest: resolved.manifestDigest,
        manifestMediaType: resolved.manifestMediaType,
        configDigest: resolved.configDigest,
        configBytes: resolved.configBytes,
        config,
        layers: resolved.layers.map((layer) => ({
          digest: layer.digest,
          mediaType: layer.mediaType,
          size: layer.size,
        })),
      },
      { rebuild: options.force, onBuildStart: events.buildStart },
    );
    return {
      reference,
      manifestDigest: resolved.manifestDigest,
      upToDate: false,
      downloadedBytes,
      layers: resolved.layers.length,
      warnings: installed.built?.warnings ?? [],
    };
  } catch (error) {
    contentLock.release();
    await collectAfterFailure(store);
    throw error;
  } finally {
    contentLock.release();
  }
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure instanceof Error ? failure : new MsbError(String(failure));
}
