// Streams one blob to disk: into `<dest>.partial`, hashing as it goes, resuming an earlier
// partial download with a Range request, and renaming to `<dest>` only after the size and
// sha256 match. The blob is never held in memory.
import { createHash, type Hash } from "node:crypto";
import { mkdir, open, rename, stat, truncate, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { MsbError, NotFoundError } from "../../errors.ts";
import { formatReference, type ImageReference } from "../reference.ts";
import { networkFailure, TransientError, withRetry } from "./retry.ts";
import { discard, finalRegistryError, type RegistryTransport } from "./transport.ts";
import type { LayerDescriptor, RetryPolicy } from "./types.ts";

export interface BlobDownload {
  transport: RegistryTransport;
  retry: RetryPolicy;
  ref: ImageReference;
  blob: LayerDescriptor;
  destPath: string;
  onProgress?: (bytesDone: number) => void;
  signal?: AbortSignal;
}

/** What is on disk in the partial file: its length and the hash of exactly those bytes. */
interface PartialState {
  path: string;
  bytes: number;
  hash: Hash;
}

export async function downloadBlob(download: BlobDownload): Promise<void> {
  const { blob, destPath, retry, signal } = download;
  await mkdir(dirname(destPath), { recursive: true });
  const partial = await loadPartial(`${destPath}.partial`, blob);
  download.onProgress?.(partial.bytes);
  try {
    await withRetry(() => fetchRemainder(download, partial), retry, signal);
  } catch (error) {
    throw finalRegistryError(error, retry.attempts);
  }
  const actual = `sha256:${partial.hash.digest("hex")}`;
  if (actual !== blob.digest || partial.bytes !== blob.size) {
    await unlink(partial.path).catch(() => undefined);
    throw verificationError(download, `${partial.bytes} bytes with digest ${actual}`);
  }
  await rename(partial.path, destPath);
}

/** One try: asks for the bytes not yet on disk and appends them to the partial file. */
async function fetchRemainder(download: BlobDownload, partial: PartialState): Promise<void> {
  const { blob, ref } = download;
  if (partial.bytes === blob.size) return;
  const headers: Record<string, string> = { "Accept-Encoding": "identity" };
  if (partial.bytes > 0) headers.Range = `bytes=${partial.bytes}-`;
  const response = await download.transport.send({
    registry: ref.registry,
    path: `${ref.repository}/blobs/${blob.digest}`,
    scope: `repository:${ref.repository}:pull`,
    headers,
    signal: download.signal,
    subject: `blob ${blob.digest} of ${formatReference(ref)}`,
  });
  if (response.status === 404) {
    await discard(response);
    throw new NotFoundError(`blob ${blob.digest} of ${formatReference(ref)} not found in the registry`);
  }
  const resumed = response.status === 206 && contentRangeStart(response) === partial.bytes;
  if (response.status !== 200 && !resumed) {
    await discard(response);
    if (response.status === 206 || response.status === 416) {
      await restart(partial, download.onProgress);
      throw new TransientError(`registry ignored the range request for ${blob.digest}; starting over`, {
        retryAfterMs: 0,
      });
    }
    throw new MsbError(`registry ${ref.registry} answered ${response.status} for blob ${blob.digest}`);
  }
  if (!resumed && partial.bytes > 0) await restart(partial, download.onProgress);
  await appendBody(download, response, partial);
  if (partial.bytes < blob.size) {
    throw new TransientError(`download of ${blob.digest} stopped at ${partial.bytes} of ${blob.size} bytes`);
  }
}

async function appendBody(download: BlobDownload, response: Response, partial: PartialState): Promise<void> {
  if (!response.body) return;
  const reader = response.body.getReader();
  const host = response.url ? new URL(response.url).host : download.ref.registry;
  const file = await open(partial.path, "a", 0o644);
  try {
    for (;;) {
      const next = await reader.read().catch((error: unknown) => {
        throw networkFailure(host, error, download.signal);
      });
      if (next.done) return;
      const chunk = next.value;
      if (partial.bytes + chunk.length > download.blob.size) {
        await reader.cancel().catch(() => undefined);
        await unlink(partial.path).catch(() => undefined);
        throw verificationError(download, `more than ${download.blob.size} bytes`);
      }
      await file.write(chunk);
      partial.hash.update(chunk);
      partial.bytes += chunk.length;
      download.onProgress?.(partial.bytes);
    }
  } finally {
    await file.close();
  }
}

/** Picks up a partial file from an interrupted download by hashing what it already holds. */
async function loadPartial(path: string, blob: LayerDescriptor): Promise<PartialState> {
  const partial: PartialState = { path, bytes: 0, hash: createHash("sha256") };
  const existing = await stat(path).catch(() => undefined);
  if (!existing) return partial;
  if (existing.size > blob.size) {
    await truncate(path, 0);
    return partial;
  }
  for await (const chunk of Bun.file(path).stream()) {
    partial.hash.update(chunk);
    partial.bytes += chunk.length;
  }
  if (partial.bytes === blob.size && `sha256:${partial.hash.copy().digest("hex")}` !== blob.digest) {
    await restart(partial);
  }
  return partial;
}

async function restart(partial: PartialState, onProgress?: (bytesDone: number) => void): Promise<void> {
  await truncate(partial.path, 0);
  partial.bytes = 0;
  partial.hash = createHash("sha256");
  onProgress?.(0);
}

function contentRangeStart(response: Response): number | undefined {
  const match = /^bytes ([0-9]+)-/.exec(response.headers.get("content-range") ?? "");
  return match ? Number(match[1]) : undefined;
}

function verificationError(download: BlobDownload, actual: string): MsbError {
  const { blob, ref } = download;
  return new MsbError(
    `blob ${blob.digest} of ${formatReference(ref)} failed verification: expected ${blob.size} bytes ` +
      `with that digest, got ${actual}`,
    { hint: "pull again; if it keeps failing, the registry is serving corrupt data" },
  );
}
