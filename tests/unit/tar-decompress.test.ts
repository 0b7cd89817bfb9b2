import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { compressionOfMediaType, openLayer, sniffCompression } from "../../src/tar/decompress.ts";
import { concatBytes, patternBytes, tempDir } from "../helpers/tar-fixtures.ts";

const dir = tempDir("decompress");
afterAll(dir.cleanup);

const payload = patternBytes(3 << 20, 11);

async function readLayer(path: string, mediaType: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of openLayer(path, mediaType)) chunks.push(chunk);
  return concatBytes(chunks);
}

function blob(name: string, bytes: Uint8Array): string {
  const path = join(dir.path, name);
  writeFileSync(path, bytes);
  return path;
}

describe("openLayer", () => {
  const plain = blob("plain", payload);
  const gzip = blob("gzip", gzipSync(payload));
  const zstd = blob("zstd", zstdCompressSync(payload));

  test.each([
    ["application/vnd.oci.image.layer.v1.tar", plain],
    ["application/vnd.oci.image.layer.v1.tar+gzip", gzip],
    ["application/vnd.docker.image.rootfs.diff.tar.gzip", gzip],
    ["application/vnd.oci.image.layer.v1.tar+zstd", zstd],
    ["application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", gzip],
  ])("%s", async (mediaType, path) => {
    expect(await readLayer(path, mediaType)).toEqual(payload);
  });

  test("mislabelled and unknown media types are sniffed", async () => {
    expect(await readLayer(gzip, "application/vnd.oci.image.layer.v1.tar")).toEqual(payload);
    expect(await readLayer(zstd, "application/octet-stream")).toEqual(payload);
    expect(await readLayer(plain, "application/octet-stream")).toEqual(payload);
  });

  test("xz and bzip2 layers are refused by name", async () => {
    const xz = blob("xz", new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]));
    await expect(readLayer(xz, "application/vnd.oci.image.layer.v1.tar")).rejects.toThrow(/xz-compressed/);
  });

  test("corrupt compressed data is an error naming the codec", async () => {
    const broken = gzipSync(payload);
    broken.fill(0x55, 100, 200);
    const path = blob("broken", broken);
    await expect(readLayer(path, "application/vnd.oci.image.layer.v1.tar+gzip")).rejects.toThrow(
      /cannot decompress layer .*\(gzip\)/,
    );
  });

  test("media type and magic classification", () => {
    expect(compressionOfMediaType("application/vnd.oci.image.layer.v1.tar+ZSTD")).toBe("zstd");
    expect(compressionOfMediaType("application/vnd.oci.image.layer.v1.tar")).toBeNull();
    expect(sniffCompression(new Uint8Array([0x1f, 0x8b, 8, 0]))).toBe("gzip");
    expect(sniffCompression(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd]))).toBe("zstd");
    expect(sniffCompression(new Uint8Array([0x42, 0x5a, 0x68, 0x39]))).toBe("bzip2");
    expect(sniffCompression(new Uint8Array([0x2e, 0x2f, 0, 0]))).toBe("none");
  });
});
