// Decoding of one 512-byte tar header block: ustar, GNU and old v7 layouts, octal and GNU
// base-256 numeric fields, and checksum verification.
import { TarError } from "./tar-error.ts";

export const BLOCK = 512;

export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Whether the header carries a ustar or GNU magic; v7 headers do not. */
  ustarFamily: boolean;
}

const utf8 = new TextDecoder("utf-8");

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** NUL-terminated text of a fixed-size field. */
export function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return utf8.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

export function parseHeader(block: Uint8Array, position: number): RawHeader {
  verifyChecksum(block, position);
  const field = (start: number, length: number) => block.subarray(start, start + length);
  const numeric = (start: number, length: number, what: string) =>
    parseNumeric(field(start, length), what, position);
  const magic = cString(field(257, 6));
  const posix = magic === "ustar" && block[262] === 0;
  const gnu = magic === "ustar " || (magic === "ustar" && block[262] === 0x20);
  let name = cString(field(0, 100));
  if (posix) {
    const prefix = cString(field(345, 155));
    if (prefix !== "") name = `${prefix}/${name}`;
  }
  return {
    name,
    mode: numeric(100, 8, "mode") & 0o7777,
    uid: numeric(108, 8, "uid"),
    gid: numeric(116, 8, "gid"),
    size: numeric(124, 12, "size"),
    mtime: numeric(136, 12, "mtime"),
    typeflag: String.fromCharCode(block[156] ?? 0),
    linkname: cString(field(157, 100)),
    devmajor: posix || gnu ? numeric(329, 8, "devmajor") : 0,
    devminor: posix || gnu ? numeric(337, 8, "devminor") : 0,
    ustarFamily: posix || gnu,
  };
}

/** Accepts the unsigned sum (POSIX) and the signed sum some historic tars wrote. */
function verifyChecksum(block: Uint8Array, position: number): void {
  const stored = parseNumeric(block.subarray(148, 156), "checksum", position);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte >= 0x80 ? byte - 0x100 : byte;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new TarError(
      `tar header checksum mismatch at byte ${position}: stored ${stored}, computed ${unsigned} (corrupt or not a tar archive)`,
    );
  }
}

/** Octal text (NUL/space padded) or GNU base-256 (high bit of the first byte set). */
export function parseNumeric(bytes: Uint8Array, what: string, position: number): number {
  const first = bytes[0] ?? 0;
  if (first & 0x80) return parseBase256(bytes, what, position);
  let value = 0;
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0)) i++;
  for (; i < bytes.length; i++) {
    const byte = bytes[i] ?? 0;
    if (byte === 0x20 || byte === 0) break;
    if (byte < 0x30 || byte > 0x37) {
      throw new TarError(`invalid octal ${what} field in tar header at byte ${position}`);
    }
    value = value * 8 + (byte - 0x30);
  }
  return value;
}

function parseBase256(bytes: Uint8Array, what: string, position: number): number {
  const negative = (bytes[0] ?? 0) & 0x40;
  let value = BigInt((bytes[0] ?? 0) & 0x7f);
  for (let i = 1; i < bytes.length; i++) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  if (negative) value -= 1n << BigInt(bytes.length * 8 - 1);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new TarError(`base-256 ${what} field out of range in tar header at byte ${position}`);
  }
  return Number(value);
}
