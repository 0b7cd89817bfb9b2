// Manifest formats msb accepts (OCI index and manifest, Docker manifest list and schema 2),
// their validation, and the layer compressions that go with them. Docker schema 1 is refused.
import { MsbError } from "../../errors.ts";
import type { Platform } from "../platform.ts";
import { DIGEST_PATTERN } from "../reference.ts";

export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
} as const;

/** Accept header for manifest requests: every format msb can use, best first. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.dockerManifestList,
  MediaType.ociManifest,
  MediaType.dockerManifest,
].join(", ");

const INDEX_TYPES = new Set<string>([MediaType.ociIndex, MediaType.dockerManifestList]);
const MANIFEST_TYPES = new Set<string>([MediaType.ociManifest, MediaType.dockerManifest]);
const SCHEMA1_TYPES = new Set<string>([MediaType.dockerSchema1, MediaType.dockerSchema1Signed]);
const CONFIG_TYPES = new Set<string>([MediaType.ociConfig, MediaType.dockerConfig]);

export type LayerCompression = "gzip" | "zstd" | "none";

const LAYER_COMPRESSION: Record<string, LayerCompression> = {
  "application/vnd.oci.image.layer.v1.tar": "none",
  "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
  "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
  "application/vnd.oci.image.layer.nondistributable.v1.tar": "none",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
  "application/vnd.docker.image.rootfs.diff.tar": "none",
  "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
};

/** How a layer blob is compressed, from its media type; undefined for non-layer types. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  return LAYER_COMPRESSION[mediaType];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

export interface ImageIndex {
  kind: "index";
  mediaType: string;
  manifests: Descriptor[];
}

export interface ImageManifest {
  kind: "manifest";
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export type ManifestDocument = ImageIndex | ImageManifest;

/** The largest manifest or index msb reads into memory (the spec's recommended limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * Parses and validates a manifest or index. The media type comes from the document itself,
 * then from Content-Type, then from its shape (OCI allows leaving `mediaType` out).
 */
export function parseManifest(
  bytes: Uint8Array,
  contentType: string | null,
  source: string,
): ManifestDocument {
  const invalid = (reason: string) => new MsbError(`invalid manifest for ${source}: ${reason}`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new MsbError(`invalid manifest for ${source}: not JSON`, { cause: error });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw invalid("not a JSON object");
  const headerType = contentType?.split(";")[0]?.trim().toLowerCase();
  const mediaType =
    (typeof json.mediaType === "string" && json.mediaType) ||
    (headerType &&
    (INDEX_TYPES.has(headerType) || MANIFEST_TYPES.has(headerType) || SCHEMA1_TYPES.has(headerType))
      ? headerType
      : undefined) ||
    (Array.isArray(json.manifests) ? MediaType.ociIndex : MediaType.ociManifest);

  if (SCHEMA1_TYPES.has(mediaType) || json.schemaVersion === 1) {
    throw new MsbError(`${source} uses the Docker schema 1 manifest format, which msb does not support`, {
      hint: "push the image again with a current Docker, buildah or skopeo (schema 2 or OCI)",
    });
  }
  if (json.schemaVersion !== 2) throw invalid(`schemaVersion is ${String(json.schemaVersion)}, expected 2`);

  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(json.manifests)) throw invalid("an index without a manifests list");
    return { kind: "index", mediaType, manifests: json.manifests.map((entry) => descriptor(entry, invalid)) };
  }
  if (!MANIFEST_TYPES.has(mediaType)) throw invalid(`unsupported media type ${mediaType}`);
  const config = descriptor(json.config, invalid);
  if (!CONFIG_TYPES.has(config.mediaType)) {
    throw new MsbError(`${source} is not a container image (its config is ${config.mediaType})`);
  }
  if (!Array.isArray(json.layers)) throw invalid("a manifest without a layers list");
  const layers = json.layers.map((entry) => descriptor(entry, invalid));
  for (const layer of layers) {
    if (!layerCompression(layer.mediaType)) throw invalid(`unsupported layer media type ${layer.mediaType}`);
  }
  return { kind: "manifest", mediaType, config, layers };
}

function descriptor(value: unknown, invalid: (reason: string) => MsbError): Descriptor {
  if (typeof value !== "object" || value === null) throw invalid("a descriptor is not an object");
  const { mediaType, digest, size, platform } = value as Record<string, unknown>;
  if (typeof mediaType !== "string" || !mediaType) throw invalid("a descriptor has no mediaType");
  if (typeof digest !== "string" || !DIGEST_PATTERN.test(digest)) {
    throw invalid(`descriptor digest ${String(digest)} is not sha256:<64 hex digits>`);
  }
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`descriptor ${digest} has a bad size ${String(size)}`);
  }
  const result: Descriptor = { mediaType, digest, size };
  if (typeof platform === "object" && platform !== null) {
    const { os, architecture, variant } = platform as Record<string, unknown>;
    if (typeof os !== "string" || typeof architecture !== "string") {
      throw invalid(`descriptor ${digest} has a platform without os and architecture`);
    }
    result.platform = { os, architecture, ...(typeof variant === "string" && variant ? { variant } : {}) };
  }
  return result;
}

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType);
}

/** Whether an index entry is a single-platform image manifest (not a nested index). */
export function isImageManifestMediaType(mediaType: string): boolean {
  return MANIFEST_TYPES.has(mediaType);
}
