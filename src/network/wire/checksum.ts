// The internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-header sum used by TCP and UDP.
// Sums 32-bit big-endian words into a float64 (exact up to 2^53, i.e. megabytes of input) and
// folds once at the end: 2^16 ≡ 1 (mod 0xffff), so this equals the 16-bit one's complement sum.

/** One's complement sum of `bytes` added to `initial`, folded to 16 bits (0..0xffff). */
export function onesComplementSum(bytes: Uint8Array, initial = 0): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = bytes.length;
  let sum = initial;
  let offset = 0;
  for (const wordsEnd = length - 3; offset < wordsEnd; offset += 4) sum += view.getUint32(offset);
  if (offset + 1 < length) {
    sum += view.getUint16(offset);
    offset += 2;
  }
  if (offset < length) sum += bytes[offset]! << 8;
  return fold(sum);
}

/** The checksum field value for `bytes` (with the checksum field itself zeroed or included). */
export function internetChecksum(bytes: Uint8Array, initial = 0): number {
  return ~onesComplementSum(bytes, initial) & 0xffff;
}

/**
 * Sum of the TCP/UDP pseudo-header: source and destination address (4 or 16 bytes each), the
 * protocol number and the L4 length. The IPv6 form's 32-bit length and 3 zero bytes sum the same.
 */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  return onesComplementSum(dst, onesComplementSum(src, protocol + (length >>> 16) + (length & 0xffff)));
}

function fold(sum: number): number {
  let folded = sum;
  while (folded > 0xffff) folded = (folded % 0x10000) + Math.floor(folded / 0x10000);
  return folded;
}
