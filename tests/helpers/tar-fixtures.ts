// Hand-made tar archives for the tar reader, layer and EROFS tests: a small tar writer that
// can emit ustar (with prefix), PAX local/global records, GNU long names and base-256
// numbers, v7 headers and every entry type; plus chunking helpers, an image builder and
// fsck.erofs wrappers that treat any "<E>" line as a failure.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildRootfs, type RootfsBuildResult } from "../../src/image/rootfs-build.ts";

export type FixtureType = "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";

export interface FixtureEntry {
  path: string;
  type?: FixtureType;
  /** Raw typeflag character, overriding `type` (e.g. "7", "\0", "S"). */
  typeflag?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  data?: string | Uint8Array;
  /** Streams `size` bytes from `chunks` instead of `data` (for large files). */
  stream?: { size: number; chunks: () => AsyncIterable<Uint8Array> };
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Local PAX records written in an "x" header before the entry. */
  pax?: Record<string, string | Uint8Array>;
  /** Shorthand for SCHILY.xattr.<name> PAX records. */
  xattrs?: Record<string, string | Uint8Array>;
  /** How a path (or link name) longer than the name field is stored. */
  longPath?: "pax" | "gnu" | "prefix";
  format?: "ustar" | "gnu" | "v7";
  /** Numeric fields to write in GNU base-256 even when they would fit in octal. */
  base256?: ("size" | "uid" | "gid" | "mtime")[];
}

const TYPEFLAG: Record<FixtureType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
};

const encoder = new TextEncoder();
const bytesOf = (value: string | Uint8Array) => (typeof value === "string" ? encoder.encode(value) : value);

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function writeString(block: Uint8Array, offset: number, length: number, value: string | Uint8Array): void {
  const bytes = bytesOf(value);
  if (bytes.length > length) throw new Error(`fixture field too long: ${value}`);
  block.set(bytes, offset);
}

function writeNumber(
  block: Uint8Array,
  offset: number,
  length: number,
  value: number,
  base256 = false,
): void {
  if (base256 || value < 0 || value >= 8 ** (length - 1)) {
    let big = BigInt.asUintN(length * 8, BigInt(value));
    for (let i = length - 1; i >= 0; i--) {
      block[offset + i] = Number(big & 0xffn);
      big >>= 8n;
    }
    block[offset] = (block[offset] ?? 0) | (value < 0 ? 0xff : 0x80);
    return;
  }
  writeString(block, offset, length - 1, value.toString(8).padStart(length - 1, "0"));
}

export interface HeaderFields {
  name: string;
  typeflag: string;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  prefix?: string;
  format?: "ustar" | "gnu" | "v7";
  base256?: FixtureEntry["base256"];
}

export function tarHeader(fields: HeaderFields): Uint8Array {
  const block = new Uint8Array(512);
  const base256 = new Set(fields.base256 ?? []);
  writeString(block, 0, 100, fields.name);
  writeNumber(block, 100, 8, fields.mode ?? 0o644);
  writeNumber(block, 108, 8, fields.uid ?? 0, base256.has("uid"));
  writeNumber(block, 116, 8, fields.gid ?? 0, base256.has("gid"));
  writeNumber(block, 124, 12, fields.size ?? 0, base256.has("size"));
  writeNumber(block, 136, 12, fields.mtime ?? 1_700_000_000, base256.has("mtime"));
  block[156] = fields.typeflag.charCodeAt(0);
  writeString(block, 157, 100, fields.linkname ?? "");
  const format = fields.format ?? "ustar";
  if (format !== "v7") {
    writeString(block, 257, 8, format === "ustar" ? "ustar\u000000" : "ustar  \u0000");
    writeString(block, 265, 32, "root");
    writeString(block, 297, 32, "root");
    writeNumber(block, 329, 8, fields.devmajor ?? 0);
    writeNumber(block, 337, 8, fields.devminor ?? 0);
    if (format === "ustar") writeString(block, 345, 155, fields.prefix ?? "");
  }
  block.fill(0x20, 148, 156);
  const sum = block.reduce((total, byte) => total + byte, 0);
  writeString(block, 148, 8, `${sum.toString(8).padStart(6, "0")}\u0000 `);
  return block;
}

export function paxData(records: Record<string, string | Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [key, value] of Object.entries(records)) {
    const body = concatBytes([encoder.encode(` ${key}=`), bytesOf(value), encoder.encode("\n")]);
    let length = body.length + 1;
    while (String(length).length + body.length !== length) length++;
    parts.push(concatBytes([encoder.encode(String(length)), body]));
  }
  return concatBytes(parts);
}

/** What old readers see of a long name in the header itself (whole characters only). */
function firstBytes(text: string, limit: number): string {
  let out = "";
  for (const char of text) {
    if (encoder.encode(out + char).length > limit) break;
    out += char;
  }
  return out;
}

function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / 512) * 512);
  out.set(data);
  return out;
}

/** A metadata entry ("x", "g", "L", "K") with its data. */
export function metaEntry(typeflag: string, data: Uint8Array, format: "ustar" | "gnu" = "ustar"): Uint8Array {
  const name = typeflag === "L" || typeflag === "K" ? "././@LongLink" : `PaxHeaders/${typeflag}`;
  return concatBytes([tarHeader({ name, typeflag, size: data.length, format }), padded(data)]);
}

/** Header blocks (with any PAX/GNU records) of one entry, without its data. */
export function entryHeaders(entry: FixtureEntry): Uint8Array {
  const parts: Uint8Array[] = [];
  const pax: Record<string, string | Uint8Array> = { ...entry.pax };
  for (const [name, value] of Object.entries(entry.xattrs ?? {})) pax[`SCHILY.xattr.${name}`] = value;
  let name = entry.path;
  let prefix = "";
  let linkname = entry.linkname ?? "";
  const format = entry.format ?? (entry.longPath === "gnu" ? "gnu" : "ustar");
  if (encoder.encode(name).length > 100) {
    if (entry.longPath === "gnu") parts.push(metaEntry("L", encoder.encode(`${name}\0`), "gnu"));
    else if (entry.longPath === "prefix") {
      const cut = name.lastIndexOf("/", 155);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    } else pax.path = name;
    if (entry.longPath !== "prefix") name = firstBytes(name, 99);
  }
  if (encoder.encode(linkname).length > 100) {
    if (entry.longPath === "gnu") parts.push(metaEntry("K", encoder.encode(`${linkname}\0`), "gnu"));
    else pax.linkpath = linkname;
    linkname = firstBytes(linkname, 99);
  }
  if (Object.keys(pax).length > 0) parts.push(metaEntry("x", paxData(pax)));
  const size = entry.stream?.size ?? (entry.data === undefined ? 0 : bytesOf(entry.data).length);
  const type = entry.type ?? "file";
  parts.push(
    tarHeader({
      name: type === "dir" && !name.endsWith("/") && name.length < 100 ? `${name}/` : name,
      prefix,
      typeflag: entry.typeflag ?? TYPEFLAG[type],
      mode: entry.mode ?? (type === "dir" ? 0o755 : type === "symlink" ? 0o777 : 0o644),
      uid: entry.uid,
      gid: entry.gid,
      size,
      mtime: entry.mtime,
      linkname,
      devmajor: entry.devmajor,
      devminor: entry.devminor,
      format,
      base256: entry.base256,
    }),
  );
  return concatBytes(parts);
}

/** The archive as a stream: headers, data (streamed for `stream` entries), end marker. */
export async function* tarStream(
  entries: FixtureEntry[],
  options: { end?: boolean; globalPax?: Record<string, string | Uint8Array> } = {},
): AsyncGenerator<Uint8Array> {
  if (options.globalPax) yield metaEntry("g", paxData(options.globalPax));
  for (const entry of entries) {
    yield entryHeaders(entry);
    if (entry.stream) {
      for await (const chunk of entry.stream.chunks()) yield chunk;
      const rest = entry.stream.size % 512;
      if (rest !== 0) yield new Uint8Array(512 - rest);
    } else if (entry.data !== undefined) yield padded(bytesOf(entry.data));
  }
  if (options.end ?? true) yield new Uint8Array(1024);
}

export async function tarBytes(
  entries: FixtureEntry[],
  options: { end?: boolean; globalPax?: Record<string, string | Uint8Array> } = {},
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of tarStream(entries, options)) parts.push(part);
  return concatBytes(parts);
}

/** Feeds `bytes` in chunks of the given sizes (cycled), or of random sizes from a seeded PRNG. */
export async function* chunked(bytes: Uint8Array, sizes: number[] | { randomSeed: number; max: number }) {
  let offset = 0;
  let index = 0;
  let seed = "randomSeed" in sizes ? sizes.randomSeed : 0;
  while (offset < bytes.length) {
    let size: number;
    if (Array.isArray(sizes)) size = sizes[index++ % sizes.length] ?? 1;
    else {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      size = 1 + (seed % sizes.max);
    }
    yield bytes.subarray(offset, offset + size);
    offset += size;
  }
}

export async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** Deterministic pseudo-random bytes (content that a wrong offset would not reproduce). */
export function patternBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

/** A file of `size` bytes streamed as zeros followed by `tail`, never held in memory. */
export function zeroFileWithTail(path: string, size: number, tail: Uint8Array): FixtureEntry {
  const zeros = new Uint8Array(8 << 20);
  return {
    path,
    stream: {
      size,
      async *chunks() {
        for (let left = size - tail.length; left > 0; left -= zeros.length) {
          yield zeros.subarray(0, Math.min(left, zeros.length));
        }
        yield tail;
      },
    },
  };
}

export interface FixtureLayer {
  label?: string;
  entries: FixtureEntry[];
}

export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `msb-${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Builds an image from fixture layers (labels default to "L1", "L2", …). */
export function buildFixtureImage(layers: FixtureLayer[], outPath: string): Promise<RootfsBuildResult> {
  return buildRootfs(
    layers.map((layer, index) => ({
      label: layer.label ?? `L${index + 1}`,
      open: () => tarStream(layer.entries),
    })),
    outPath,
  );
}

export const FSCK_MISSING = "skip: fsck.erofs not installed (apt-get install erofs-utils)";

export function haveFsck(): boolean {
  return Bun.which("fsck.erofs") !== null;
}

/** Runs fsck.erofs with `args`; fails on a non-zero exit or any "<E>" line (1.5 exits 0 on some errors). */
export function runFsck(image: string, args: string[] = ["-d3"]): string {
  const result = Bun.spawnSync(["fsck.erofs", ...args, image], { stdout: "pipe", stderr: "pipe" });
  const output = `${result.stdout.toString()}${result.stderr.toString()}`;
  if (result.exitCode !== 0 || output.includes("<E>")) {
    throw new Error(`fsck.erofs ${args.join(" ")} failed (exit ${result.exitCode}):\n${output}`);
  }
  return output;
}
