// Resolves a reference to one platform's image: fetches the manifest (through the index when
// the image is multi-platform), then the config, verifying every digest and size on the way.
import { createHash } from "node:crypto";
import { MsbError, NotFoundError } from "../../errors.ts";
import {
  formatPlatform,
  normalizePlatform,
  type Platform,
  platformMatchRank,
  selectPlatform,
} from "../platform.ts";
import { formatReference, type ImageReference, referenceTarget } from "../reference.ts";
import { parseImageConfig, platformOfConfig } from "./config.ts";
import { registryApiHost } from "./endpoint.ts";
import {
  type Descriptor,
  type ImageManifest,
  isImageManifestMediaType,
  MANIFEST_ACCEPT,
  MAX_MANIFEST_BYTES,
  parseManifest,
} from "./manifest.ts";
import { withRetry } from "./retry.ts";
import { discard, finalRegistryError, type RegistryTransport, readLimited } from "./transport.ts";
import type { ResolvedImage, RetryPolicy } from "./types.ts";

/** Configs are small JSON documents; anything this big is not one. */
const MAX_CONFIG_BYTES = 32 * 1024 * 1024;

export interface ResolveContext {
  transport: RegistryTransport;
  retry: RetryPolicy;
  cachedBlob?: (digest: string) => Uint8Array | undefined;
}

export async function resolveImage(
  context: ResolveContext,
  ref: ImageReference,
  wanted: Platform,
): Promise<ResolvedImage> {
  const name = formatReference(ref);
  const top = await fetchDocument(
    context,
    ref,
    "manifests",
    referenceTarget(ref),
    `image not found: ${name}`,
  );
  if (ref.digest) expectDigest(top.bytes, ref.digest, undefined, `manifest of ${name}`);
  const topDocument = parseManifest(top.bytes, top.contentType, name);
  const { manifest, document, platform } =
    topDocument.kind === "index"
      ? await chooseFromIndex(context, ref, topDocument.manifests, wanted)
      : { manifest: top, document: topDocument, platform: undefined };
  const indexDigest = topDocument.kind === "index" ? sha256Digest(top.bytes) : undefined;

  const configDescriptor = document.config;
  const cachedConfig = context.cachedBlob?.(configDescriptor.digest);
  const configBlob = cachedConfig
    ? { bytes: cachedConfig }
    : await fetchDocument(context, ref, "blobs", configDescriptor.digest, `config of ${name} not found`);
  expectDigest(configBlob.bytes, configDescriptor.digest, configDescriptor.size, `config of ${name}`);
  const config = parseImageConfig(configBlob.bytes, name, document.layers.length);

  const configPlatform = platformOfConfig(config);
  if (!platform && configPlatform && platformMatchRank(wanted, configPlatform) === undefined) {
    throw new NotFoundError(
      `${name} is an image for ${formatPlatform(configPlatform)}, not ${formatPlatform(wanted)}`,
      `pass --platform ${formatPlatform(configPlatform)} to pull it anyway`,
    );
  }
  return {
    reference: ref,
    manifestDigest: sha256Digest(manifest.bytes),
    manifestMediaType: document.mediaType,
    manifestBytes: manifest.bytes,
    ...(indexDigest ? { indexDigest } : {}),
    platform: platform ?? configPlatform ?? normalizePlatform(wanted),
    configDigest: configDescriptor.digest,
    configBytes: configBlob.bytes,
    config,
    layers: document.layers.map(({ digest, size, mediaType }) => ({ digest, size, mediaType })),
  };
}

interface ChosenManifest {
  manifest: FetchedDocument;
  document: ImageManifest;
  platform: Platform | undefined;
}

async function chooseFromIndex(
  context: ResolveContext,
  ref: ImageReference,
  entries: Descriptor[],
  wanted: Platform,
): Promise<ChosenManifest> {
  const name = formatReference(ref);
  const images = entries.filter((entry) => isImageManifestMediaType(entry.mediaType));
  const chosen = selectPlatform(images, wanted);
  if (!chosen) throw noMatchingPlatform(name, wanted, images);
  const notFound = `manifest ${chosen.digest} of ${name} not found`;
  const manifest = await fetchDocument(context, ref, "manifests", chosen.digest, notFound);
  expectDigest(
    manifest.bytes,
    chosen.digest,
    chosen.size,
    `manifest for ${formatPlatform(wanted)} of ${name}`,
  );
  const document = parseManifest(manifest.bytes, manifest.contentType, name);
  if (document.kind !== "manifest") {
    throw new MsbError(`invalid index for ${name}: entry ${chosen.digest} is another index`);
  }
  return { manifest, document, platform: chosen.platform && normalizePlatform(chosen.platform) };
}

interface FetchedDocument {
  bytes: Uint8Array;
  contentType: string | null;
}

async function fetchDocument(
  context: ResolveContext,
  ref: ImageReference,
  kind: "manifests" | "blobs",
  target: string,
  notFoundMessage: string,
): Promise<FetchedDocument> {
  const subject = kind === "manifests" ? formatReference(ref) : `${target} of ${formatReference(ref)}`;
  const limit = kind === "manifests" ? MAX_MANIFEST_BYTES : MAX_CONFIG_BYTES;
  const fetchOnce = async () => {
    const response = await context.transport.send({
      registry: ref.registry,
      path: `${ref.repository}/${kind}/${target}`,
      scope: `repository:${ref.repository}:pull`,
      headers: kind === "manifests" ? { Accept: MANIFEST_ACCEPT } : {},
      subject,
    });
    if (response.status === 404) {
      await discard(response);
      throw new NotFoundError(
        notFoundMessage,
        `check the name and tag; private images need \`msb registry login ${ref.registry}\``,
      );
    }
    if (!response.ok) {
      await discard(response);
      throw new MsbError(`registry ${ref.registry} answered ${response.status} for ${subject}`);
    }
    const bytes = await readLimited(response, limit, subject, registryApiHost(ref.registry));
    return { bytes, contentType: response.headers.get("content-type") };
  };
  try {
    return await withRetry(fetchOnce, context.retry);
  } catch (error) {
    throw finalRegistryError(error, context.retry.attempts);
  }
}

function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

function expectDigest(bytes: Uint8Array, digest: string, size: number | undefined, what: string): void {
  const actual = sha256Digest(bytes);
  if (actual !== digest || (size !== undefined && bytes.length !== size)) {
    throw new MsbError(
      `${what} failed verification: expected ${digest}` +
        `${size === undefined ? "" : ` (${size} bytes)`}, got ${actual} (${bytes.length} bytes)`,
    );
  }
}

function noMatchingPlatform(name: string, wanted: Platform, images: Descriptor[]): NotFoundError {
  const available = images
    .flatMap((entry) => (entry.platform ? [formatPlatform(normalizePlatform(entry.platform))] : []))
    .filter((platform) => !platform.startsWith("unknown/"));
  return new NotFoundError(
    `${name} has no image for ${formatPlatform(wanted)}; it has ${available.join(", ") || "none"}`,
    "choose one of those with --platform",
  );
}
