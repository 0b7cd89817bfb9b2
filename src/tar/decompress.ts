// Opens a stored layer blob as a stream of uncompressed tar bytes. The media type decides the
// codec; for plain or unknown types the magic bytes do, since registries mislabel layers.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createGunzip, createZstdDecompress } from "node:zlib";
import { MsbError } from "../errors.ts";

export type LayerCompression = "gzip" | "zstd" | "none";

const READ_CHUNK = 1 << 20;
const INFLATE_CHUNK = 256 << 10;

export function openLayer(path: string, mediaType: string): AsyncIterable<Uint8Array> {
  return { [Symbol.asyncIterator]: () => layerChunks(path, mediaType) };
}

/** The codec a media type names, or null when only the content can tell. */
export function compressionOfMediaType(mediaType: string): LayerCompression | null {
  const type = mediaType.toLowerCase();
  if (type.endsWith("+gzip") || type.endsWith(".tar.gzip")) return "gzip";
  if (type.endsWith("+zstd")) return "zstd";
  return null;
}

export function sniffCompression(head: Uint8Array): LayerCompression | "xz" | "bzip2" {
  const [a, b, c, d] = head;
  if (a === 0x1f && b === 0x8b) return "gzip";
  if (a === 0x28 && b === 0xb5 && c === 0x2f && d === 0xfd) return "zstd";
  if (a === 0xfd && b === 0x37 && c === 0x7a && d === 0x58) return "xz";
  if (a === 0x42 && b === 0x5a && c === 0x68) return "bzip2";
  return "none";
}

async function* layerChunks(path: string, mediaType: string): AsyncGenerator<Uint8Array> {
  const compression = compressionOfMediaType(mediaType) ?? (await sniffFile(path, mediaType));
  const file = createReadStream(path, { highWaterMark: READ_CHUNK });
  if (compression === "none") {
    try {
      yield* file;
    } finally {
      file.destroy();
    }
    return;
  }
  const inflater =
    compression === "gzip"
      ? createGunzip({ chunkSize: INFLATE_CHUNK })
      : createZstdDecompress({ chunkSize: INFLATE_CHUNK });
  file.on("error", (error) => inflater.destroy(error));
  file.pipe(inflater);
  try {
    for await (const chunk of inflater) yield chunk as Uint8Array;
  } catch (error) {
    throw new MsbError(`cannot decompress layer ${path} (${compression}): ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    file.destroy();
    inflater.destroy();
  }
}

async function sniffFile(path: string, mediaType: string): Promise<LayerCompression> {
  const handle = await open(path, "r");
  const head = new Uint8Array(4);
  try {
    await handle.read(head, 0, 4, 0);
  } finally {
    await handle.close();
  }
  const found = sniffCompression(head);
  if (found === "xz" || found === "bzip2") {
    throw new MsbError(`layer ${path} (${mediaType}) is ${found}-compressed, which OCI images do not use`, {
      hint: "only gzip, zstd and uncompressed layers are supported",
    });
  }
  return found;
}
