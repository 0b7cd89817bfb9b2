// Picks the images out of an OCI layout's index.json: named entries (by the standard ref.name
// annotation or containerd's image.name), nested multi-platform indexes resolved to the
// requested platform, and a lone unnamed image for --tag.
import { MsbError } from "../errors.ts";
import { formatPlatform, type Platform, selectPlatform } from "./platform.ts";
import { isIndexMediaType, MediaType, parseManifest } from "./registry/manifest.ts";

export const MEDIA_TYPES = {
  ociManifest: MediaType.ociManifest,
  ociConfig: MediaType.ociConfig,
  layerTar: "application/vnd.oci.image.layer.v1.tar",
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  layerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
} as const;

interface IndexEntry {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface SelectedManifest {
  manifestDigest: string;
  indexDigest: string | null;
  name: string | undefined;
}

export async function selectFromIndex(
  index: { manifests?: IndexEntry[] },
  readBlob: (digest: string) => Promise<Uint8Array>,
  platform: Platform,
): Promise<SelectedManifest[]> {
  const entries = index.manifests ?? [];
  const named = entries.filter((entry) => imageName(entry) !== undefined);
  let candidates: IndexEntry[];
  if (named.length > 0) {
    candidates = named;
  } else if (entries.length === 1) {
    candidates = entries;
  } else {
    const best = selectPlatform(entries, platform);
    if (!best) throw noPlatform(platform);
    candidates = [best];
  }
  const selected: SelectedManifest[] = [];
  for (const entry of candidates) {
    const name = imageName(entry);
    if (!isIndexMediaType(entry.mediaType ?? "")) {
      selected.push({ manifestDigest: entry.digest, indexDigest: null, name });
      continue;
    }
    const nested = parseManifest(await readBlob(entry.digest), entry.mediaType ?? null, entry.digest);
    if (nested.kind !== "index") throw new MsbError(`index ${entry.digest} in the archive is not an index`);
    const best = selectPlatform(nested.manifests, platform);
    if (!best) throw noPlatform(platform);
    selected.push({ manifestDigest: best.digest, indexDigest: entry.digest, name });
  }
  return selected;
}

function imageName(entry: IndexEntry): string | undefined {
  const annotations = entry.annotations ?? {};
  const full = annotations["io.containerd.image.name"];
  if (full) return full;
  const ref = annotations["org.opencontainers.image.ref.name"];
  // A bare tag ("latest") names no repository; only a full reference can be used as is.
  return ref && /[/:]/.test(ref) ? ref : undefined;
}

function noPlatform(platform: Platform): MsbError {
  return new MsbError(`the archive has no image for ${formatPlatform(platform)}`, {
    code: "notFound",
    hint: "choose one of its platforms with --platform",
  });
}
