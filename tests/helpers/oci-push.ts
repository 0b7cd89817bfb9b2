// A minimal OCI distribution push client for tests and the benchmark: monolithic blob upload
// (POST then PUT ?digest=), HEAD to skip blobs already there, and manifest PUT by tag or digest.
// Only what a loopback docker-registry needs; basic auth when the registry has htpasswd.
import type { BunFile } from "bun";
import type { RegistryUser } from "./local-registry.ts";

export interface PushTarget {
  /** `http://127.0.0.1:PORT` */
  url: string;
  auth?: RegistryUser;
}

export interface BlobSource {
  digest: string;
  size: number;
  /** In-memory bytes, or a file on disk for layers too big to hold in memory. */
  body: Uint8Array | BunFile;
}

function headers(target: PushTarget, extra: Record<string, string> = {}): Record<string, string> {
  if (!target.auth) return extra;
  const token = Buffer.from(`${target.auth.user}:${target.auth.password}`).toString("base64");
  return { ...extra, Authorization: `Basic ${token}` };
}

async function expectStatus(response: Response, expected: number[], what: string): Promise<void> {
  if (expected.includes(response.status)) {
    await response.arrayBuffer();
    return;
  }
  throw new Error(`${what}: HTTP ${response.status} ${await response.text()}`);
}

export async function blobExists(target: PushTarget, repository: string, digest: string): Promise<boolean> {
  const response = await fetch(`${target.url}/v2/${repository}/blobs/${digest}`, {
    method: "HEAD",
    headers: headers(target),
  });
  return response.ok;
}

/** Uploads one blob unless the registry already has it. */
export async function pushBlob(target: PushTarget, repository: string, blob: BlobSource): Promise<void> {
  if (await blobExists(target, repository, blob.digest)) return;
  const started = await fetch(`${target.url}/v2/${repository}/blobs/uploads/`, {
    method: "POST",
    headers: headers(target),
  });
  await expectStatus(started, [202], `start upload of ${blob.digest}`);
  const location = started.headers.get("location");
  if (!location) throw new Error(`start upload of ${blob.digest}: no Location header`);
  // Location may be relative to the registry or absolute, and usually carries a query already.
  const uploadUrl = new URL(location, target.url);
  uploadUrl.searchParams.set("digest", blob.digest);
  const finished = await fetch(uploadUrl, {
    method: "PUT",
    headers: headers(target, {
      "Content-Type": "application/octet-stream",
      "Content-Length": String(blob.size),
    }),
    body: blob.body,
  });
  await expectStatus(finished, [201], `upload of ${blob.digest}`);
}

/** PUTs a manifest or index under `reference` (a tag or its own digest). */
export async function pushManifest(
  target: PushTarget,
  repository: string,
  reference: string,
  manifest: Uint8Array,
  mediaType: string,
): Promise<void> {
  const response = await fetch(`${target.url}/v2/${repository}/manifests/${reference}`, {
    method: "PUT",
    headers: headers(target, { "Content-Type": mediaType }),
    body: manifest,
  });
  await expectStatus(response, [201], `manifest ${repository}:${reference}`);
}

export function sha256Digest(bytes: Uint8Array | string): string {
  return `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
}

/** sha256 of a file, streamed so large layers never sit in memory. */
export async function sha256FileDigest(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return `sha256:${hasher.digest("hex")}`;
}
