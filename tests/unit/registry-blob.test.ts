import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { MsbError, NotFoundError } from "../../src/errors.ts";
import { parseReference } from "../../src/image/reference.ts";
import { RegistryClient } from "../../src/image/registry/client.ts";
import { FakeRegistry, type FakeRegistryOptions, sha256 } from "../helpers/fake-registry.ts";

let registry: FakeRegistry | undefined;
let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "msb-blob-"));
});
afterEach(() => {
  registry?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const client = () => new RegistryClient({ retry: { attempts: 4, baseDelayMs: 1 } });

/** 200 KiB of non-repeating bytes, so a misplaced range shows up in the digest. */
function blobBytes(size = 200 * 1024): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  return bytes;
}

function setup(options: FakeRegistryOptions = {}) {
  registry = new FakeRegistry(options);
  const bytes = blobBytes();
  const blob = registry.putBlob(bytes);
  const ref = parseReference(`${registry.host}/team/app:1`);
  const dest = join(dir, "blobs", "sha256", blob.digest.slice(7));
  mkdirSync(dirname(dest), { recursive: true });
  return { fake: registry, bytes, blob, ref, dest };
}

async function failure(promise: Promise<unknown>): Promise<MsbError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MsbError) return error;
    throw error;
  }
  throw new Error("expected a failure");
}

test("downloads into a new directory, verifies and reports progress", async () => {
  const { fake, bytes, blob, ref } = setup();
  const dest = join(dir, "fresh", "blob");
  const progress: number[] = [];
  await client().downloadBlob(ref, blob, dest, (done) => progress.push(done));
  expect(sha256(readFileSync(dest))).toBe(blob.digest);
  expect(readFileSync(dest).length).toBe(bytes.length);
  expect(existsSync(`${dest}.partial`)).toBe(false);
  expect(progress.at(-1)).toBe(bytes.length);
  expect(fake.registryRequests("/blobs/")[0]?.headers["accept-encoding"]).toBe("identity");
});

test("a blob that does not match its digest leaves no file behind", async () => {
  const { fake, blob, ref, dest } = setup();
  const wrong = blobBytes(blob.size).map((byte) => byte ^ 1);
  fake.corrupt.set(blob.digest, wrong);
  const error = await failure(client().downloadBlob(ref, blob, dest));
  expect(error.message).toContain(`blob ${blob.digest} of ${ref.registry}/team/app:1 failed verification`);
  expect(error.message).toContain(`expected ${blob.size} bytes`);
  expect(error.message).toContain(`got ${blob.size} bytes with digest ${sha256(wrong)}`);
  expect(existsSync(dest)).toBe(false);
  expect(existsSync(`${dest}.partial`)).toBe(false);
});

test("a blob longer than its descriptor is cut off and refused", async () => {
  const { fake, blob, ref, dest } = setup();
  fake.corrupt.set(blob.digest, blobBytes(blob.size + 10));
  const error = await failure(client().downloadBlob(ref, blob, dest));
  expect(error.message).toContain(`got more than ${blob.size} bytes`);
  expect(existsSync(dest)).toBe(false);
  expect(existsSync(`${dest}.partial`)).toBe(false);
});

test("a dropped connection resumes with a Range request", async () => {
  const { fake, blob, ref, dest } = setup();
  fake.dropBlobMidway(blob.digest, 50_000);
  await client().downloadBlob(ref, blob, dest);
  const requests = fake.registryRequests(`/blobs/${blob.digest}`);
  expect(requests).toHaveLength(2);
  expect(requests[0]?.headers.range).toBeUndefined();
  expect(requests[1]?.headers.range).toBe("bytes=50000-");
  expect(sha256(readFileSync(dest))).toBe(blob.digest);
});

test("a partial file from an earlier run is re-hashed and resumed", async () => {
  const { fake, bytes, blob, ref, dest } = setup();
  writeFileSync(`${dest}.partial`, bytes.subarray(0, 123_456));
  const progress: number[] = [];
  await client().downloadBlob(ref, blob, dest, (done) => progress.push(done));
  expect(fake.registryRequests(`/blobs/${blob.digest}`).map((request) => request.headers.range)).toEqual([
    "bytes=123456-",
  ]);
  expect(progress[0]).toBe(123_456);
  expect(sha256(readFileSync(dest))).toBe(blob.digest);
});

test("a server that ignores Range (200 instead of 206) restarts from zero", async () => {
  const { fake, bytes, blob, ref, dest } = setup();
  fake.ignoreRange = true;
  writeFileSync(`${dest}.partial`, bytes.subarray(0, 1000));
  const progress: number[] = [];
  await client().downloadBlob(ref, blob, dest, (done) => progress.push(done));
  expect(progress).toContain(0);
  expect(sha256(readFileSync(dest))).toBe(blob.digest);
});

test("a complete partial file is verified and kept without a request", async () => {
  const { fake, bytes, blob, ref, dest } = setup();
  writeFileSync(`${dest}.partial`, bytes);
  await client().downloadBlob(ref, blob, dest);
  expect(fake.registryRequests("/blobs/")).toHaveLength(0);
  expect(sha256(readFileSync(dest))).toBe(blob.digest);
});

test("blob redirects drop the Authorization header on the other host", async () => {
  const { fake, blob, ref, dest } = setup({ auth: "bearer" });
  fake.redirectBlobs = true;
  await client().downloadBlob(ref, blob, dest);
  const apiRequest = fake.registryRequests(`/blobs/${blob.digest}`).at(-1);
  expect(apiRequest?.headers.authorization).toStartWith("Bearer ");
  const storageRequests = fake.requests.filter((request) => request.server === "storage");
  expect(storageRequests).toHaveLength(1);
  expect(storageRequests[0]?.headers.authorization).toBeUndefined();
  expect(sha256(readFileSync(dest))).toBe(blob.digest);
});

test("a redirect keeps the Range header", async () => {
  const { fake, bytes, blob, ref, dest } = setup();
  fake.redirectBlobs = true;
  writeFileSync(`${dest}.partial`, bytes.subarray(0, 10));
  await client().downloadBlob(ref, blob, dest);
  expect(fake.requests.find((request) => request.server === "storage")?.headers.range).toBe("bytes=10-");
  expect(sha256(readFileSync(dest))).toBe(blob.digest);
});

test("retries of a failing blob are bounded and keep the partial file for later", async () => {
  const { fake, blob, ref, dest } = setup();
  fake.dropBlobMidway(blob.digest, 1000, 100);
  const error = await failure(client().downloadBlob(ref, blob, dest));
  expect(error.code).toBe("unavailable");
  expect(error.message).toContain(`cannot reach ${fake.host}`);
  expect(fake.registryRequests(`/blobs/${blob.digest}`)).toHaveLength(4);
  expect(existsSync(`${dest}.partial`)).toBe(true);
  expect(existsSync(dest)).toBe(false);
});

test("a 503 before the blob is retried", async () => {
  const { fake, blob, ref, dest } = setup();
  fake.failNext(`/blobs/${blob.digest}`, 1, 503);
  await client().downloadBlob(ref, blob, dest);
  expect(sha256(readFileSync(dest))).toBe(blob.digest);
});

test("a missing blob is a NotFoundError", async () => {
  const { ref, dest } = setup();
  const missing = { digest: `sha256:${"0".repeat(64)}`, size: 1, mediaType: "application/octet-stream" };
  expect(await failure(client().downloadBlob(ref, missing, dest))).toBeInstanceOf(NotFoundError);
});

test("an aborted download stops and keeps its partial file", async () => {
  const { fake, blob, ref, dest } = setup();
  fake.dropBlobMidway(blob.digest, 5000);
  const controller = new AbortController();
  const download = client().downloadBlob(
    ref,
    blob,
    dest,
    (done) => {
      if (done >= 5000) controller.abort(new Error("interrupted"));
    },
    controller.signal,
  );
  await expect(download).rejects.toThrow("interrupted");
  expect(existsSync(dest)).toBe(false);
  expect(readFileSync(`${dest}.partial`).length).toBe(5000);
});
