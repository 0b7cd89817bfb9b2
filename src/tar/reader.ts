// Streaming tar reader: turns a stream of archive bytes into entries whose data can be read
// as a stream of chunks. Handles ustar (with prefix), PAX local and global headers, GNU long
// names/links and base-256 numbers, and v7 headers. Memory is bounded by one input chunk plus
// the metadata records of the current entry; data the consumer does not read is skipped.
import { ByteQueue } from "./byte-queue.ts";
import { BLOCK, cString, isZeroBlock, parseHeader, type RawHeader } from "./header.ts";
import { libarchiveXattr, type PaxRecords, parsePaxRecords, paxInteger, paxText, paxTime } from "./pax.ts";
import { TarError } from "./tar-error.ts";

export type TarEntryType = "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";

export interface TarEntry {
  path: string;
  type: TarEntryType;
  /** Permission bits including setuid, setgid and sticky (12 bits). */
  mode: number;
  uid: number;
  gid: number;
  /** Whole seconds (floored for negative fractional times) and the nanoseconds on top. */
  mtime: number;
  mtimeNsec: number;
  /** Bytes of data that follow the header in the archive. */
  size: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from SCHILY.xattr.* / LIBARCHIVE.xattr.*; values are raw bytes. */
  xattrs: Map<string, Uint8Array>;
  /** The entry's data as chunks; valid only until the reader moves to the next entry. */
  body(): AsyncIterable<Uint8Array>;
}

/** Largest PAX or GNU long-name record block accepted; real ones are a few KiB. */
const MAX_META_BYTES = 64 << 20;

const ENTRY_TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
};

interface PendingMeta {
  pax: PaxRecords | null;
  longName: string | null;
  longLink: string | null;
}

export async function* readTar(source: AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry> {
  const queue = new ByteQueue(source);
  const globals: PaxRecords = new Map();
  let pending: PendingMeta = { pax: null, longName: null, longLink: null };
  try {
    for (;;) {
      let position = queue.position;
      let block = await queue.read(BLOCK, "a tar header");
      if (block !== null && isZeroBlock(block)) {
        position = queue.position;
        block = await queue.read(BLOCK, "the end-of-archive marker");
        if (block !== null && isZeroBlock(block)) block = null;
      }
      if (block === null) {
        if (pending.pax !== null || pending.longName !== null || pending.longLink !== null) {
          throw new TarError("truncated tar archive: it ends after a PAX or GNU header, before its entry");
        }
        await queue.drain();
        return;
      }
      const header = parseHeader(block, position);
      const flag = header.typeflag;
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
        const data = await readMetaData(queue, header.size, position);
        if (flag === "x") pending.pax = parsePaxRecords(data, position);
        else if (flag === "g") mergeGlobals(globals, parsePaxRecords(data, position));
        else if (flag === "L") pending.longName = cString(data);
        else pending.longLink = cString(data);
        continue;
      }
      const entry = makeEntry(header, globals, pending, position);
      pending = { pax: null, longName: null, longLink: null };
      const body = new EntryBody(queue, entry.size);
      yield { ...entry, body: () => body };
      body.expire();
      await queue.skip(body.remaining + padding(entry.size), `the data of "${entry.path}"`);
    }
  } finally {
    await queue.close();
  }
}

class EntryBody implements AsyncIterable<Uint8Array> {
  remaining: number;
  private expired = false;

  constructor(
    private readonly queue: ByteQueue,
    size: number,
  ) {
    this.remaining = size;
  }

  expire(): void {
    this.expired = true;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    while (this.remaining > 0) {
      if (this.expired) throw new TarError("tar entry data read after the reader moved to the next entry");
      const chunk = await this.queue.readSome(this.remaining, "entry data");
      this.remaining -= chunk.length;
      yield chunk;
    }
  }
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

async function readMetaData(queue: ByteQueue, size: number, position: number): Promise<Uint8Array> {
  if (size > MAX_META_BYTES) {
    throw new TarError(`tar metadata record of ${size} bytes at byte ${position} is too large`);
  }
  const data = (await queue.read(size, "a PAX or GNU long-name record")) ?? new Uint8Array(0);
  if (data.length < size) throw new TarError(`truncated tar archive: metadata record at byte ${position}`);
  await queue.skip(padding(size), "a PAX or GNU long-name record");
  return data;
}

/** A global record with an empty value removes the global default. */
function mergeGlobals(globals: PaxRecords, records: PaxRecords): void {
  for (const [key, value] of records) {
    // Copies: the record bytes are a view of an input chunk that must not stay pinned.
    if (value.length === 0) globals.delete(key);
    else globals.set(key, value.slice());
  }
}

function makeEntry(
  header: RawHeader,
  globals: PaxRecords,
  pending: PendingMeta,
  position: number,
): Omit<TarEntry, "body"> {
  const local = pending.pax ?? new Map<string, Uint8Array>();
  // A local record with an empty value cancels the global one: the header field applies.
  const record = (key: string): Uint8Array | undefined => {
    const value = local.get(key) ?? globals.get(key);
    return value === undefined || value.length === 0 ? undefined : value;
  };
  const path = textOr(record("path"), pending.longName ?? header.name);
  if ([...local.keys(), ...globals.keys()].some((key) => key.startsWith("GNU.sparse."))) {
    throw new TarError(`GNU sparse file "${path}" at byte ${position} is not supported`);
  }
  const type = entryType(header, path, position);
  const size = numberOr(record("size"), "size", header.size);
  const mtimeRecord = record("mtime");
  const mtime = mtimeRecord ? paxTime(mtimeRecord, "mtime") : { sec: header.mtime, nsec: 0 };
  return {
    path,
    type,
    mode: header.mode,
    uid: numberOr(record("uid"), "uid", header.uid),
    gid: numberOr(record("gid"), "gid", header.gid),
    mtime: mtime.sec,
    mtimeNsec: mtime.nsec,
    size,
    linkname: textOr(record("linkpath"), pending.longLink ?? header.linkname),
    devmajor: numberOr(record("SCHILY.devmajor"), "SCHILY.devmajor", header.devmajor),
    devminor: numberOr(record("SCHILY.devminor"), "SCHILY.devminor", header.devminor),
    xattrs: collectXattrs(globals, local),
  };
}

function entryType(header: RawHeader, path: string, position: number): TarEntryType {
  const type = ENTRY_TYPES[header.typeflag];
  if (type === undefined) {
    const shown = JSON.stringify(header.typeflag);
    throw new TarError(`unsupported tar entry type ${shown} for "${path}" at byte ${position}`);
  }
  // Old tars mark directories only by a trailing slash on a regular-file entry.
  const oldStyle = header.typeflag === "\0" || !header.ustarFamily;
  return type === "file" && oldStyle && path.endsWith("/") ? "dir" : type;
}

function textOr(value: Uint8Array | undefined, fallback: string): string {
  return value === undefined ? fallback : paxText(value);
}

function numberOr(value: Uint8Array | undefined, key: string, fallback: number): number {
  return value === undefined ? fallback : paxInteger(value, key);
}

function collectXattrs(globals: PaxRecords, local: PaxRecords): Map<string, Uint8Array> {
  const xattrs = new Map<string, Uint8Array>();
  for (const records of [globals, local]) {
    for (const [key, value] of records) {
      if (key.startsWith("SCHILY.xattr.")) xattrs.set(key.slice("SCHILY.xattr.".length), value.slice());
      else if (key.startsWith("LIBARCHIVE.xattr.")) xattrs.set(...libarchiveXattr(key, value));
    }
  }
  return xattrs;
}
