// Extended attributes: mapping xattr names onto EROFS name indexes and encoding the inline
// xattr area that follows an inode (reference/erofs.md §6). Shared xattrs are not used.
export interface XattrEntry {
  index: number;
  /** The name without its namespace prefix. */
  suffix: Uint8Array;
  value: Uint8Array;
}

const XATTR_HEADER_SIZE = 12;
const MAX_XATTR_AREA = XATTR_HEADER_SIZE + 4 * (0xffff - 1);

const utf8 = new TextEncoder();

/** Namespaces a 1.5-compatible image can carry; exact names first, then prefixes. */
const EXACT_NAMES: [string, number][] = [
  ["system.posix_acl_access", 2],
  ["system.posix_acl_default", 3],
];
const PREFIXES: [string, number][] = [
  ["user.", 1],
  ["trusted.", 4],
  ["security.", 6],
];

/** The entry for `name`, or a reason it cannot be stored. */
export function toXattrEntry(name: string, value: Uint8Array): XattrEntry | string {
  let entry: XattrEntry | undefined;
  for (const [exact, index] of EXACT_NAMES) {
    if (name === exact) entry = { index, suffix: new Uint8Array(0), value };
  }
  for (const [prefix, index] of PREFIXES) {
    if (entry === undefined && name.startsWith(prefix) && name.length > prefix.length) {
      entry = { index, suffix: utf8.encode(name.slice(prefix.length)), value };
    }
  }
  if (entry === undefined) return "namespace not representable in EROFS";
  if (entry.suffix.length > 255) return "name longer than 255 bytes";
  if (value.length > 0xffff) return "value larger than 64 KiB";
  return entry;
}

/** Sorted for reproducible images (the kernel scans entries linearly). */
export function sortXattrs(entries: XattrEntry[]): XattrEntry[] {
  return entries.sort((a, b) => a.index - b.index || Buffer.compare(a.suffix, b.suffix));
}

function entrySize(entry: XattrEntry): number {
  return (4 + entry.suffix.length + entry.value.length + 3) & ~3;
}

/** Bytes of the inline xattr area; 0 without entries (a header alone is invalid). */
export function xattrAreaSize(entries: readonly XattrEntry[]): number {
  if (entries.length === 0) return 0;
  let size = XATTR_HEADER_SIZE;
  for (const entry of entries) size += entrySize(entry);
  return size;
}

export function xattrAreaFits(entries: readonly XattrEntry[]): boolean {
  return xattrAreaSize(entries) <= MAX_XATTR_AREA;
}

/** i_xattr_icount for an area of `size` bytes. */
export function xattrIcount(size: number): number {
  return size === 0 ? 0 : (size - XATTR_HEADER_SIZE) / 4 + 1;
}

/** Writes the area at `offset` of `out` (which must be zeroed); returns the bytes written. */
export function encodeXattrArea(entries: readonly XattrEntry[], out: Uint8Array, offset: number): number {
  if (entries.length === 0) return 0;
  let pos = offset + XATTR_HEADER_SIZE;
  for (const entry of entries) {
    out[pos] = entry.suffix.length;
    out[pos + 1] = entry.index;
    out[pos + 2] = entry.value.length & 0xff;
    out[pos + 3] = entry.value.length >>> 8;
    out.set(entry.suffix, pos + 4);
    out.set(entry.value, pos + 4 + entry.suffix.length);
    pos += entrySize(entry);
  }
  return pos - offset;
}
