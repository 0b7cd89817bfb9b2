// PAX extended header records ("<len> <key>=<value>\n"). Values stay raw bytes, because
// SCHILY.xattr.* values are binary (capabilities, ACLs); text fields are decoded on use.
import { TarError } from "./tar-error.ts";

export type PaxRecords = Map<string, Uint8Array>;

const utf8 = new TextDecoder("utf-8");

export function parsePaxRecords(data: Uint8Array, position: number): PaxRecords {
  const records: PaxRecords = new Map();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad the record block with NULs
    const space = data.indexOf(0x20, pos);
    const length = space === -1 ? Number.NaN : Number(utf8.decode(data.subarray(pos, space)));
    const end = pos + length;
    if (!Number.isInteger(length) || length <= 0 || end > data.length || data[end - 1] !== 0x0a) {
      throw new TarError(`malformed PAX record in tar header at byte ${position}`);
    }
    const equals = data.indexOf(0x3d, space + 1);
    if (equals === -1 || equals >= end) {
      throw new TarError(`malformed PAX record (no "=") in tar header at byte ${position}`);
    }
    records.set(utf8.decode(data.subarray(space + 1, equals)), data.subarray(equals + 1, end - 1));
    pos = end;
  }
  return records;
}

export function paxText(value: Uint8Array): string {
  return utf8.decode(value);
}

export function paxInteger(value: Uint8Array, key: string): number {
  const text = paxText(value);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new TarError(`invalid PAX ${key} value "${text}"`);
  }
  return Number(text);
}

/** PAX time "[-]sec[.fraction]" as whole seconds (floored) plus nanoseconds in [0, 1e9). */
export function paxTime(value: Uint8Array, key: string): { sec: number; nsec: number } {
  const text = paxText(value);
  const match = /^(-?)(\d+)(?:\.(\d*))?$/.exec(text);
  if (!match) throw new TarError(`invalid PAX ${key} value "${text}"`);
  const whole = Number(match[2]);
  const nsec = Number((match[3] ?? "").padEnd(9, "0").slice(0, 9));
  if (!Number.isSafeInteger(whole)) throw new TarError(`invalid PAX ${key} value "${text}"`);
  if (match[1] !== "-") return { sec: whole, nsec };
  return nsec === 0 ? { sec: -whole, nsec: 0 } : { sec: -whole - 1, nsec: 1_000_000_000 - nsec };
}

/** LIBARCHIVE.xattr.<url-encoded name>=<base64 value>, bsdtar's spelling of xattrs. */
export function libarchiveXattr(key: string, value: Uint8Array): [string, Uint8Array] {
  const name = decodeURIComponent(key.slice("LIBARCHIVE.xattr.".length));
  return [name, new Uint8Array(Buffer.from(paxText(value), "base64"))];
}
