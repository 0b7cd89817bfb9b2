// CRC-32C (Castagnoli) as the EROFS superblock checksum uses it: seed 0xFFFFFFFF and no final
// XOR, i.e. the bitwise complement of the standard CRC-32C.
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function erofsCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return crc >>> 0;
}

/** The standard CRC-32C (with the final XOR), for checking against published test vectors. */
export function crc32c(bytes: Uint8Array): number {
  return ~erofsCrc32c(bytes) >>> 0;
}
