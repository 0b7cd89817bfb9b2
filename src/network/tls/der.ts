// A minimal DER (X.690) writer and reader: just the types X.509 certificates need. The writer
// builds certificates for TLS interception; the reader pulls the subject and key identifier out of
// a user-supplied CA certificate so minted leaves chain to it byte for byte.

export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** One element: tag byte, definite length, contents. */
export function tlv(tag: number, contents: Uint8Array): Uint8Array {
  const length = contents.length;
  let header: number[];
  if (length < 0x80) header = [tag, length];
  else {
    const lengthBytes: number[] = [];
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) lengthBytes.unshift(rest & 0xff);
    header = [tag, 0x80 | lengthBytes.length, ...lengthBytes];
  }
  const out = new Uint8Array(header.length + length);
  out.set(header);
  out.set(contents, header.length);
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export const sequence = (...items: Uint8Array[]): Uint8Array => tlv(Tag.sequence, concatBytes(items));
export const set = (...items: Uint8Array[]): Uint8Array => tlv(Tag.set, concatBytes(items));
export const octetString = (bytes: Uint8Array): Uint8Array => tlv(Tag.octetString, bytes);
export const derNull = (): Uint8Array => tlv(Tag.null, new Uint8Array(0));
export const boolean = (value: boolean): Uint8Array => tlv(Tag.boolean, Uint8Array.of(value ? 0xff : 0));
export const utf8 = (text: string): Uint8Array => tlv(Tag.utf8String, new TextEncoder().encode(text));

/** [n] EXPLICIT: a constructed context-specific wrapper around one element. */
export const explicit = (n: number, inner: Uint8Array): Uint8Array => tlv(0xa0 | n, inner);
/** [n] IMPLICIT on a primitive type: the contents with a context-specific tag. */
export const implicitPrimitive = (n: number, contents: Uint8Array): Uint8Array => tlv(0x80 | n, contents);

/** BIT STRING with `unusedBits` padding bits in the last byte. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  return tlv(Tag.bitString, concatBytes([Uint8Array.of(unusedBits), bytes]));
}

/** INTEGER from a non-negative number or big-endian unsigned bytes, in minimal two's complement. */
export function integer(value: number | Uint8Array): Uint8Array {
  let bytes: Uint8Array;
  if (typeof value === "number") {
    const digits: number[] = [];
    for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) digits.unshift(rest & 0xff);
    bytes = Uint8Array.from(digits);
  } else bytes = value;
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes.length === 0) bytes = Uint8Array.of(0);
  if (bytes[0]! & 0x80) bytes = concatBytes([Uint8Array.of(0), bytes]);
  return tlv(Tag.integer, bytes);
}

export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const base128: number[] = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128))
      base128.unshift(0x80 | (rest & 0x7f));
    out.push(...base128);
  }
  return tlv(Tag.oid, Uint8Array.from(out));
}

/** UTCTime for 1950–2049 and GeneralizedTime otherwise, as RFC 5280 §4.1.2.5 requires; seconds precision. */
export function time(date: Date): Uint8Array {
  const iso = date.toISOString();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  const year = date.getUTCFullYear();
  const text = year >= 1950 && year < 2050 ? `${digits.slice(2)}Z` : `${digits}Z`;
  return tlv(year >= 1950 && year < 2050 ? Tag.utcTime : Tag.generalizedTime, new TextEncoder().encode(text));
}

export interface DerElement {
  tag: number;
  /** The whole element, header included. */
  raw: Uint8Array;
  contents: Uint8Array;
}

/** The element at `offset`; throws on truncated or indefinite-length input. */
export function readElement(bytes: Uint8Array, offset = 0): DerElement {
  const tag = bytes[offset];
  const first = bytes[offset + 1];
  if (tag === undefined || first === undefined) throw new Error("truncated DER element");
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new Error("unsupported DER length");
    length = 0;
    for (let index = 0; index < count; index++) {
      const byte = bytes[offset + 2 + index];
      if (byte === undefined) throw new Error("truncated DER length");
      length = length * 256 + byte;
    }
    header += count;
  }
  const end = offset + header + length;
  if (end > bytes.length) throw new Error("truncated DER contents");
  return { tag, raw: bytes.subarray(offset, end), contents: bytes.subarray(offset + header, end) };
}

/** The elements inside a constructed element's contents, in order. */
export function readChildren(contents: Uint8Array): DerElement[] {
  const children: DerElement[] = [];
  for (let offset = 0; offset < contents.length; ) {
    const child = readElement(contents, offset);
    children.push(child);
    offset += child.raw.length;
  }
  return children;
}
