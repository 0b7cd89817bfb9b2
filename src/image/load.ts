// `msb load`: import images from a `docker save` archive or an OCI image layout tar, for hosts
// with no registry access. Blobs are verified by digest like a pull; the same install step
// builds each image's root.
import { existsSync } from "node:fs";
import { MsbError, UsageError } from "../errors.ts";
import { blobPath } from "../paths.ts";
import { adoptBlob, sha256Digest, writeBlob } from "../store/blob-store.ts";
import { lockStoreContent, type Store } from "../store/store.ts";
import { type ArchiveMember, type ArchiveMembers, spoolArchive } from "./archive-members.ts";
import { collectAfterFailure } from "./garbage.ts";
import { parseImageConfig } from "./image-config.ts";
import { type ImageToInstall, installImage, type StoredLayer } from "./install-image.ts";
import { MEDIA_TYPES, selectFromIndex } from "./load-oci.ts";
import { hostPlatform, parsePlatform } from "./platform.ts";
import { formatReference, parseReference } from "./reference.ts";

export interface LoadOptions {
  tag?: string;
  platform?: string;
}

export interface LoadResult {
  images: Array<{ reference: string; manifestDigest: string }>;
}

interface DockerSaveEntry {
  Config?: string;
  RepoTags?: string[] | null;
  Layers?: string[];
}

export async function loadImages(
  store: Store,
  source: AsyncIterable<Uint8Array>,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const lock = await lockStoreContent(store, "add");
  const members = await spoolArchive(source, store.paths.tmp).catch((error) => {
    lock.release();
    throw error;
  });
  try {
    const dockerManifest = await members.readText("manifest.json");
    const images = dockerManifest
      ? await fromDockerSave(store, members, dockerManifest, options)
      : await fromOciLayout(store, members, options);
    const loaded: LoadResult["images"] = [];
    for (const image of images) {
      await installImage(store, image);
      loaded.push({ reference: image.reference, manifestDigest: image.manifestDigest });
    }
    return { images: loaded };
  } catch (error) {
    members.cleanup();
    lock.release();
    await collectAfterFailure(store);
    throw error;
  } finally {
    members.cleanup();
    lock.release();
  }
}

async function fromDockerSave(
  store: Store,
  members: ArchiveMembers,
  text: string,
  options: LoadOptions,
): Promise<ImageToInstall[]> {
  const entries = parseJson<DockerSaveEntry[]>(text, "manifest.json");
  if (!Array.isArray(entries) || entries.length === 0) throw invalidArchive("manifest.json lists no images");
  const images: ImageToInstall[] = [];
  for (const entry of entries) {
    const configMember = entry.Config ? members.get(entry.Config) : undefined;
    if (!configMember) throw invalidArchive(`config ${entry.Config ?? "(none)"} is missing`);
    const configBytes = await Bun.file(configMember.file).bytes();
    const layers: StoredLayer[] = [];
    for (const layerPath of entry.Layers ?? []) {
      const member = members.get(layerPath);
      if (!member) throw invalidArchive(`layer ${layerPath} is missing`);
      layers.push({ digest: member.digest, size: member.size, mediaType: await sniffLayerType(member) });
      storeMember(store, member);
    }
    const manifestBytes = new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: MEDIA_TYPES.ociConfig, digest: configMember.digest, size: configMember.size },
        layers: layers.map((layer) => ({
          mediaType: layer.mediaType,
          digest: layer.digest,
          size: layer.size,
        })),
      }),
    );
    const manifestDigest = sha256Digest(manifestBytes);
    await writeBlob(store.paths, manifestDigest, manifestBytes);
    await writeBlob(store.paths, configMember.digest, configBytes);
    const names = entry.RepoTags?.length ? entry.RepoTags : options.tag ? [options.tag] : [];
    if (names.length === 0) throw untagged();
    for (const name of names) {
      images.push({
        reference: formatReference(parseReference(name)),
        indexDigest: null,
        manifestDigest,
        manifestMediaType: MEDIA_TYPES.ociManifest,
        configDigest: configMember.digest,
        configBytes,
        config: parseImageConfig(configBytes, configMember.digest),
        layers,
      });
    }
  }
  return images;
}

async function fromOciLayout(
  store: Store,
  members: ArchiveMembers,
  options: LoadOptions,
): Promise<ImageToInstall[]> {
  const indexText = await members.readText("index.json");
  if (!indexText || !members.get("oci-layout")) {
    throw invalidArchive(
      "it has neither manifest.json (docker save) nor oci-layout and index.json (OCI layout)",
    );
  }
  const platform = options.platform ? parsePlatform(options.platform) : hostPlatform();
  const readBlob = async (digest: string): Promise<Uint8Array> => {
    const member = members.get(`blobs/${digest.replace(":", "/")}`);
    if (!member) throw invalidArchive(`blob ${digest} is missing`);
    if (member.digest !== digest) throw invalidArchive(`blob ${digest} has content ${member.digest}`);
    return await Bun.file(member.file).bytes();
  };
  const selected = await selectFromIndex(parseJson(indexText, "index.json"), readBlob, platform);
  const images: ImageToInstall[] = [];
  for (const { manifestDigest, indexDigest, name } of selected) {
    const manifestBytes = await readBlob(manifestDigest);
    const manifest = parseJson<{
      mediaType?: string;
      config?: { digest: string };
      layers?: Array<{ digest: string; size: number; mediaType: string }>;
    }>(new TextDecoder().decode(manifestBytes), manifestDigest);
    if (!manifest.config) throw invalidArchive(`manifest ${manifestDigest} has no config`);
    const configBytes = await readBlob(manifest.config.digest);
    const layers = (manifest.layers ?? []).map((layer) => ({
      digest: layer.digest,
      size: layer.size,
      mediaType: layer.mediaType,
    }));
    for (const layer of layers) {
      const member = members.get(`blobs/${layer.digest.replace(":", "/")}`);
      if (!member || member.digest !== layer.digest)
        throw invalidArchive(`layer ${layer.digest} is missing or corrupt`);
      storeMember(store, member);
    }
    await writeBlob(store.paths, manifestDigest, manifestBytes);
    await writeBlob(store.paths, manifest.config.digest, configBytes);
    const reference = name ?? options.tag;
    if (!reference) throw untagged();
    images.push({
      reference: formatReference(parseReference(reference)),
      indexDigest,
      manifestDigest,
      manifestMediaType: manifest.mediaType ?? MEDIA_TYPES.ociManifest,
      configDigest: manifest.config.digest,
      configBytes,
      config: parseImageConfig(configBytes, manifest.config.digest),
      layers,
    });
  }
  return images;
}

/** Moves a verified member into the blob store; later reads of it use the stored copy. */
function storeMember(store: Store, member: ArchiveMember): void {
  const stored = blobPath(store.paths, member.digest);
  if (!existsSync(stored)) adoptBlob(store.paths, member.digest, member.file);
  member.file = stored;
}

async function sniffLayerType(member: ArchiveMember): Promise<string> {
  const head = await Bun.file(member.file).slice(0, 4).bytes();
  if (head[0] === 0x1f && head[1] === 0x8b) return MEDIA_TYPES.layerGzip;
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    return MEDIA_TYPES.layerZstd;
  return MEDIA_TYPES.layerTar;
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new MsbError(`${what} in the archive is not valid JSON`, { cause: error });
  }
}

function invalidArchive(detail: string): MsbError {
  return new MsbError(`not a loadable image archive: ${detail}`, {
    code: "usage",
    hint: "pass an archive made by 'docker save' or an OCI image layout tar",
  });
}

function untagged(): UsageError {
  return new UsageError("an image in the archive has no name", "name it with --tag, e.g. --tag myapp:1.0");
}
