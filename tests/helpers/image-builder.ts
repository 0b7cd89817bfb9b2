// Builds the OCI images the integration tests and the benchmark pull: layer tars (a tiny ustar
// writer, so hardlinks, symlinks and whiteouts are exact), gzip/zstd/plain layer blobs, OCI and
// Docker v2 manifests, OCI indexes, pushing them to a registry, and docker-save / OCI-layout
// archives for `msb load`. Every timestamp is fixed so the same input gives the same digests.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  type BlobSource,
  type PushTarget,
  pushBlob,
  pushManifest,
  sha256Digest,
  sha256FileDigest,
} from "./oci-push.ts";

export const MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

const FIXED_MTIME = 1_700_000_000;
const CREATED = "2024-01-02T03:04:05Z";

// ---- tar ------------------------------------------------------------------------------------

export type TarEntry =
  | { type: "file"; path: string; data: Uint8Array | string; mode?: number; uid?: number; gid?: number }
  | { type: "dir"; path: string; mode?: number; uid?: number; gid?: number }
  | { type: "symlink"; path: string; target: string }
  | { type: "hardlink"; path: string; target: string };

const TYPE_FLAGS = { file: "0", hardlink: "1", symlink: "2", dir: "5" } as const;
const encoder = new TextEncoder();

function writeString(header: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) throw new Error(`tar field too long: ${value}`);
  header.set(bytes, offset);
}

function writeOctal(header: Uint8Array, offset: number, length: number, value: number): void {
  writeString(header, offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
}

/** ustar keeps up to 155 bytes of directory in `prefix` and 100 of name; split at a slash. */
function splitPath(path: string): [prefix: string, name: string] {
  if (encoder.encode(path).length <= 100) return ["", path];
  const cut = path.lastIndexOf("/", path.length - 2);
  const prefix = path.slice(0, cut);
  const name = path.slice(cut + 1);
  if (cut < 0 || encoder.encode(prefix).length > 155 || encoder.encode(name).length > 100) {
    throw new Error(`path too long for ustar: ${path}`);
  }
  return [prefix, name];
}

function tarHeader(entry: TarEntry, size: number): Uint8Array {
  const header = new Uint8Array(512);
  const path = entry.type === "dir" && !entry.path.endsWith("/") ? `${entry.path}/` : entry.path;
  const [prefix, name] = splitPath(path);
  const defaultMode = entry.type === "dir" ? 0o755 : entry.type === "symlink" ? 0o777 : 0o644;
  const mode = "mode" in entry && entry.mode !== undefined ? entry.mode : defaultMode;
  writeString(header, 0, 100, name);
  writeOctal(header, 100, 8, mode);
  writeOctal(header, 108, 8, "uid" in entry ? (entry.uid ?? 0) : 0);
  writeOctal(header, 116, 8, "gid" in entry ? (entry.gid ?? 0) : 0);
  writeOctal(header, 124, 12, size);
  writeOctal(header, 136, 12, FIXED_MTIME);
  writeString(header, 156, 1, TYPE_FLAGS[entry.type]);
  if (entry.type === "symlink" || entry.type === "hardlink") writeString(header, 157, 100, entry.target);
  writeString(header, 257, 6, "ustar\0");
  writeString(header, 263, 2, "00");
  writeString(header, 345, 155, prefix);
  // The checksum is computed with its own field read as eight spaces.
  header.fill(0x20, 148, 156);
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  writeString(header, 148, 8, `${checksum.toString(8).padStart(6, "0")}\0 `);
  return header;
}

/** A complete tar archive (with the two zero end blocks) of `entries`, in order. */
export function tarArchive(entries: TarEntry[]): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    const data =
      entry.type === "file"
        ? typeof entry.data === "string"
          ? encoder.encode(entry.data)
          : entry.data
        : null;
    parts.push(tarHeader(entry, data?.length ?? 0));
    if (data) {
      parts.push(data);
      const padding = (512 - (data.length % 512)) % 512;
      if (padding) parts.push(new Uint8Array(padding));
    }
  }
  parts.push(new Uint8Array(1024));
  const archive = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    archive.set(part, offset);
    offset += part.length;
  }
  return archive;
}

// ---- layers, configs, manifests ---------------------------------------------------------------

export interface Layer extends BlobSource {
  mediaType: string;
  /** sha256 of the uncompressed tar, as listed in the config's rootfs.diff_ids. */
  diffId: string;
  /** The uncompressed tar, for in-memory layers (docker-save archives carry it as is). */
  tar?: Uint8Array;
}

export type Compression = "gzip" | "zstd" | "none";

const LAYER_MEDIA_TYPES: Record<"oci" | "docker", Partial<Record<Compression, string>>> = {
  oci: { gzip: MEDIA_TYPES.ociLayerGzip, zstd: MEDIA_TYPES.ociLayerZstd, none: MEDIA_TYPES.ociLayer },
  docker: { gzip: MEDIA_TYPES.dockerLayerGzip },
};

export function layerFromEntries(
  entries: TarEntry[],
  compression: Compression = "gzip",
  format: "oci" | "docker" = "oci",
): Layer {
  const tar = tarArchive(entries);
  const mediaType = LAYER_MEDIA_TYPES[format][compression];
  if (!mediaType) throw new Error(`no ${format} media type for ${compression} layers`);
  const body =
    compression === "gzip" ? Bun.gzipSync(tar) : compression === "zstd" ? Bun.zstdCompressSync(tar) : tar;
  return { mediaType, digest: sha256Digest(body), size: body.length, diffId: sha256Digest(tar), body, tar };
}

/**
 * A gzip layer of a directory on disk, for layers too big for memory: GNU tar with fixed owners
 * and times writes `<outPrefix>.tar`, it is hashed (diff_id), then `gzip -1` makes the blob.
 */
export async function layerFromDirectory(dir: string, outPrefix: string): Promise<Layer> {
  const tarPath = `${outPrefix}.tar`;
  const blobPath = `${outPrefix}.tar.gz`;
  await run([
    "tar",
    "-C",
    dir,
    "--sort=name",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    `--mtime=@${FIXED_MTIME}`,
    "-cf",
    tarPath,
    ".",
  ]);
  const diffId = await sha256FileDigest(tarPath);
  await run(["gzip", "-1", "-n", "-f", tarPath]);
  const blob = Bun.file(blobPath);
  return {
    mediaType: MEDIA_TYPES.ociLayerGzip,
    digest: await sha256FileDigest(blobPath),
    size: blob.size,
    diffId,
    body: blob,
  };
}

async function run(argv: string[]): Promise<void> {
  const child = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`${argv.join(" ")} failed (${code}): ${stderr}`);
}

export interface ImageConfig {
  architecture: string;
  os?: string;
  variant?: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
}

/** Everything one image consists of, ready to push or to pack into an archive. */
export interface ImageParts {
  manifest: Uint8Array;
  manifestMediaType: string;
  manifestDigest: string;
  config: BlobSource & { mediaType: string };
  layers: Layer[];
  platform: { os: string; architecture: string; variant?: string };
}

export function makeImage(
  layers: Layer[],
  config: ImageConfig,
  format: "oci" | "docker" = "oci",
): ImageParts {
  const os = config.os ?? "linux";
  const configJson = {
    created: CREATED,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
    os,
    config: {
      ...(config.user ? { User: config.user } : {}),
      ...(config.env ? { Env: config.env } : {}),
      ...(config.entrypoint ? { Entrypoint: config.entrypoint } : {}),
      ...(config.cmd ? { Cmd: config.cmd } : {}),
      ...(config.workingDir ? { WorkingDir: config.workingDir } : {}),
    },
    rootfs: { type: "layers", diff_ids: layers.map((layer) => layer.diffId) },
    history: layers.map((_, index) => ({ created: CREATED, created_by: `msb test layer ${index + 1}` })),
  };
  const configBytes = encoder.encode(JSON.stringify(configJson));
  const configDescriptor = {
    mediaType: format === "oci" ? MEDIA_TYPES.ociConfig : MEDIA_TYPES.dockerConfig,
    digest: sha256Digest(configBytes),
    size: configBytes.length,
  };
  const manifestMediaType = format === "oci" ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest;
  const manifest = encoder.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestMediaType,
      config: configDescriptor,
      layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    }),
  );
  return {
    manifest,
    manifestMediaType,
    manifestDigest: sha256Digest(manifest),
    config: { ...configDescriptor, body: configBytes },
    layers,
    platform: {
      os,
      architecture: config.architecture,
      ...(config.variant ? { variant: config.variant } : {}),
    },
  };
}

// ---- pushing ----------------------------------------------------------------------------------

export interface PushedImage {
  /** `127.0.0.1:PORT/<repository>:<tag>` */
  reference: string;
  repository: string;
  manifestDigest: string;
  configDigest: string;
  layers: { digest: string; size: number; diffId: string; mediaType: string }[];
}

function registryHost(target: PushTarget): string {
  return new URL(target.url).host;
}

function describePushed(target: PushTarget, repository: string, tag: string, image: ImageParts): PushedImage {
  return {
    reference: `${registryHost(target)}/${repository}:${tag}`,
    repository,
    manifestDigest: image.manifestDigest,
    configDigest: image.config.digest,
    layers: image.layers.map(({ digest, size, diffId, mediaType }) => ({ digest, size, diffId, mediaType })),
  };
}

async function pushBlobsAndManifest(
  target: PushTarget,
  repository: string,
  reference: string,
  image: ImageParts,
): Promise<void> {
  for (const layer of image.layers) await pushBlob(target, repository, layer);
  await pushBlob(target, repository, image.config);
  await pushManifest(target, repository, reference, image.manifest, image.manifestMediaType);
}

export async function pushImage(
  target: PushTarget,
  repository: string,
  tag: string,
  image: ImageParts,
): Promise<PushedImage> {
  await pushBlobsAndManifest(target, repository, tag, image);
  return describePushed(target, repository, tag, image);
}

export interface PushedIndex {
  reference: string;
  indexDigest: string;
  /** Per platform, keyed `os/arch[/variant]`. */
  platforms: Record<string, PushedImage>;
}

/** Pushes each image by digest, then an OCI index of them under `tag`. */
export async function pushIndex(
  target: PushTarget,
  repository: string,
  tag: string,
  images: ImageParts[],
): Promise<PushedIndex> {
  const platforms: Record<string, PushedImage> = {};
  for (const image of images) {
    await pushBlobsAndManifest(target, repository, image.manifestDigest, image);
    const { os, architecture, variant } = image.platform;
    platforms[[os, architecture, variant].filter(Boolean).join("/")] = describePushed(
      target,
      repository,
      tag,
      image,
    );
  }
  const index = encoder.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: images.map((image) => ({
        mediaType: image.manifestMediaType,
        digest: image.manifestDigest,
        size: image.manifest.length,
        platform: image.platform,
      })),
    }),
  );
  await pushManifest(target, repository, tag, index, MEDIA_TYPES.ociIndex);
  return {
    reference: `${registryHost(target)}/${repository}:${tag}`,
    indexDigest: sha256Digest(index),
    platforms,
  };
}

// ---- the test images --------------------------------------------------------------------------

/** What the busybox image's root must look like after its layers are applied. */
export const BUSYBOX_TREE = {
  applets: ["sh", "ls", "cat", "echo", "env", "true"],
  passwd: "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
  group: "root:x:0:\nuser:x:1000:\n",
  /** In layer 1, removed by a `.wh.` whiteout in layer 2. */
  whitedOut: "etc/obsolete.conf",
  whiteout: "etc/.wh.obsolete.conf",
  /** A directory made opaque in layer 2: `opaqueGone` disappears, `opaqueKept` is layer 2's. */
  opaqueDir: "opt/app",
  opaqueGone: "opt/app/old.txt",
  opaqueKept: "opt/app/new.txt",
  /** Layer 2 file and a hardlink to it in the same layer. */
  hardlinkTarget: "usr/share/greeting",
  hardlink: "usr/share/greeting-link",
  greeting: "hello from layer 2\n",
  /** Layer 2 replaces this layer-1 file. */
  replaced: "etc/motd",
  motd: "layer 2 motd\n",
} as const;

export const BUSYBOX_CONFIG: ImageConfig = {
  architecture: hostArchitecture(),
  entrypoint: ["/bin/sh", "-c"],
  cmd: ["echo hello"],
  env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello"],
  workingDir: "/home/user",
  user: "1000:1000",
};

/** The OCI name of this machine's CPU architecture (what `msb pull` picks by default). */
export function hostArchitecture(): string {
  const names: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
  };
  return names[process.arch] ?? process.arch;
}

/** Two gzip layers over the host's static busybox; see BUSYBOX_TREE for what they exercise. */
export async function busyboxImage(busyboxPath = "/usr/bin/busybox"): Promise<ImageParts> {
  const tree = BUSYBOX_TREE;
  const base = layerFromEntries([
    { type: "dir", path: "bin" },
    { type: "file", path: "bin/busybox", data: await Bun.file(busyboxPath).bytes(), mode: 0o755 },
    ...tree.applets.map(
      (applet): TarEntry => ({ type: "symlink", path: `bin/${applet}`, target: "busybox" }),
    ),
    { type: "dir", path: "etc" },
    { type: "file", path: "etc/passwd", data: tree.passwd },
    { type: "file", path: "etc/group", data: tree.group },
    { type: "file", path: tree.whitedOut, data: "to be removed\n" },
    { type: "file", path: tree.replaced, data: "layer 1 motd\n" },
    { type: "dir", path: "home" },
    { type: "dir", path: "home/user", uid: 1000, gid: 1000, mode: 0o700 },
    { type: "dir", path: "opt" },
    { type: "dir", path: tree.opaqueDir },
    { type: "file", path: tree.opaqueGone, data: "old\n" },
    { type: "dir", path: "tmp", mode: 0o1777 },
  ]);
  const top = layerFromEntries([
    { type: "dir", path: "etc" },
    { type: "file", path: tree.whiteout, data: "" },
    { type: "file", path: tree.replaced, data: tree.motd },
    { type: "dir", path: tree.opaqueDir },
    { type: "file", path: `${tree.opaqueDir}/.wh..wh..opq`, data: "" },
    { type: "file", path: tree.opaqueKept, data: "new\n" },
    { type: "dir", path: "usr" },
    { type: "dir", path: "usr/share" },
    { type: "file", path: tree.hardlinkTarget, data: tree.greeting },
    { type: "hardlink", path: tree.hardlink, target: tree.hardlinkTarget },
  ]);
  return makeImage([base, top], BUSYBOX_CONFIG);
}

/** A one-layer image whose `/platform` file names its platform, so tests can tell them apart. */
export function platformImage(architecture: string, variant?: string): ImageParts {
  const name = ["linux", architecture, variant].filter(Boolean).join("/");
  const layer = layerFromEntries([{ type: "file", path: "platform", data: `${name}\n` }]);
  return makeImage([layer], { architecture, ...(variant ? { variant } : {}), cmd: ["/platform"] });
}

/** The index the multi-platform tests pull: linux/amd64 and linux/arm64/v8. */
export function multiPlatformImages(): ImageParts[] {
  return [platformImage("amd64"), platformImage("arm64", "v8")];
}

/** A Docker v2 schema2 image: docker media types, two gzip layers. */
export function dockerV2Image(): ImageParts {
  const layers = [
    layerFromEntries([{ type: "file", path: "docker-layer-1.txt", data: "docker one\n" }], "gzip", "docker"),
    layerFromEntries([{ type: "file", path: "docker-layer-2.txt", data: "docker two\n" }], "gzip", "docker"),
  ];
  return makeImage(layers, { architecture: hostArchitecture(), cmd: ["/docker-layer-1.txt"] }, "docker");
}

/** An OCI image with a zstd layer and an uncompressed layer. */
export function zstdAndPlainImage(): ImageParts {
  const layers = [
    layerFromEntries([{ type: "file", path: "zstd-layer.txt", data: "zstd ".repeat(1000) }], "zstd"),
    layerFromEntries([{ type: "file", path: "plain-layer.txt", data: "plain\n" }], "none"),
  ];
  return makeImage(layers, { architecture: hostArchitecture(), cmd: ["/plain-layer.txt"] });
}

/** A one-layer image whose file content is unique to `label` (so its blobs are shared with nothing). */
export function uniqueImage(label: string, bytes = 64 * 1024): ImageParts {
  const data = new Uint8Array(bytes);
  crypto.getRandomValues(data);
  const layer = layerFromEntries([{ type: "file", path: `${label}.bin`, data }]);
  return makeImage([layer], { architecture: hostArchitecture(), cmd: [`/${label}.bin`] });
}

// ---- archives for `msb load` ------------------------------------------------------------------

function hexOf(digest: string): string {
  return digest.replace(/^sha256:/, "");
}

function uncompressedTar(layer: Layer): Uint8Array {
  if (!layer.tar) throw new Error(`layer ${layer.digest} has no in-memory tar`);
  return layer.tar;
}

/**
 * A `docker save` archive: manifest.json with Config/RepoTags/Layers and uncompressed layers,
 * as `<id>/layer.tar` (Docker before 25) or `blobs/sha256/<hex>` (Docker 25+, OCI-shaped).
 */
export function dockerSaveArchive(
  image: ImageParts,
  repoTags: string[],
  layout: "legacy" | "blobs",
): Uint8Array {
  const entries: TarEntry[] = [];
  const configBytes = image.config.body as Uint8Array;
  const diffIds = image.layers.map((layer) => hexOf(layer.diffId));
  let configPath: string;
  let layerPaths: string[];
  if (layout === "legacy") {
    configPath = `${hexOf(image.config.digest)}.json`;
    layerPaths = diffIds.map((hex) => `${hex}/layer.tar`);
    entries.push({ type: "file", path: configPath, data: configBytes });
    image.layers.forEach((layer, index) => {
      entries.push({ type: "dir", path: diffIds[index]! });
      entries.push({ type: "file", path: layerPaths[index]!, data: uncompressedTar(layer) });
    });
  } else {
    configPath = `blobs/sha256/${hexOf(image.config.digest)}`;
    layerPaths = diffIds.map((hex) => `blobs/sha256/${hex}`);
    entries.push({ type: "dir", path: "blobs" }, { type: "dir", path: "blobs/sha256" });
    entries.push({ type: "file", path: configPath, data: configBytes });
    image.layers.forEach((layer, index) => {
      entries.push({ type: "file", path: layerPaths[index]!, data: uncompressedTar(layer) });
    });
  }
  const manifest = [{ Config: configPath, RepoTags: repoTags, Layers: layerPaths }];
  entries.push({ type: "file", path: "manifest.json", data: JSON.stringify(manifest) });
  return tarArchive(entries);
}

export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

/** An OCI image layout archive (oci-layout, index.json, blobs/sha256/...), optionally named. */
export function ociLayoutArchive(image: ImageParts, refName?: string): Uint8Array {
  const descriptor = {
    mediaType: image.manifestMediaType,
    digest: image.manifestDigest,
    size: image.manifest.length,
    ...(refName ? { annotations: { [REF_NAME_ANNOTATION]: refName } } : {}),
  };
  const index = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [descriptor] };
  const blobs: [string, Uint8Array][] = [
    [image.manifestDigest, image.manifest],
    [image.config.digest, image.config.body as Uint8Array],
    ...image.layers.map((layer): [string, Uint8Array] => [layer.digest, layer.body as Uint8Array]),
  ];
  return tarArchive([
    { type: "file", path: "oci-layout", data: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
    { type: "file", path: "index.json", data: JSON.stringify(index) },
    { type: "dir", path: "blobs" },
    { type: "dir", path: "blobs/sha256" },
    ...blobs.map(
      ([digest, data]): TarEntry => ({ type: "file", path: `blobs/sha256/${hexOf(digest)}`, data }),
    ),
  ]);
}

/** Writes `bytes` to `dir/name` (creating dir) and returns the path. */
export async function writeArchive(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await Bun.write(path, bytes);
  return path;
}
