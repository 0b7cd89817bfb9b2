// The internet checksum: the RFC 1071 worked example, odd lengths, unaligned views, and
// agreement with a plain 16-bit reference implementation on random data.
import { describe, expect, test } from "bun:test";
import { internetChecksum, onesComplementSum, pseudoHeaderSum } from "../../src/network/wire/checksum.ts";

function referenceSum(bytes: Uint8Array): number {
  let sum = 0;
  for (let index = 0; index < bytes.length; index += 2) sum += (bytes[index]! << 8) | (bytes[index + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

describe("internet checksum", () => {
  test("RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2", () => {
    const bytes = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(onesComplementSum(bytes)).toBe(0xddf2);
    expect(internetChecksum(bytes)).toBe(0x220d);
  });

  test("a well-known IPv4 header (checksum b861) verifies to zero", () => {
    const header = Uint8Array.from(Buffer.from("450000730000400040" + "11b861c0a80001c0a800c7", "hex"));
    expect(internetChecksum(header)).toBe(0);
  });

  test("odd lengths pad with a zero byte", () => {
    expect(onesComplementSum(new Uint8Array([0x12]))).toBe(0x1200);
    expect(onesComplementSum(new Uint8Array([0x12, 0x34, 0x56]))).toBe(0x1234 + 0x5600);
  });

  test("matches a 16-bit reference on random data, any length and any byte offset", () => {
    const backing = new Uint8Array(70_000);
    crypto.getRandomValues(backing.subarray(0, 65536));
    crypto.getRandomValues(backing.subarray(65536));
    for (const [offset, length] of [
      [0, 0],
      [1, 1],
      [3, 7],
      [5, 1500],
      [0, 65535],
      [7, 65536],
    ] as const) {
      const view = backing.subarray(offset, offset + length);
      expect(onesComplementSum(view)).toBe(referenceSum(view));
    }
  });

  test("sums chain: checksum of a whole equals checksum continued over its even-sized parts", () => {
    const bytes = new Uint8Array(100).map((_, index) => index * 7);
    expect(internetChecksum(bytes.subarray(40), onesComplementSum(bytes.subarray(0, 40)))).toBe(
      internetChecksum(bytes),
    );
  });

  test("pseudo-header sum covers addresses, protocol and length", () => {
    const src = new Uint8Array([10, 0, 0, 2]);
    const dst = new Uint8Array([93, 184, 216, 34]);
    const pseudo = new Uint8Array([10, 0, 0, 2, 93, 184, 216, 34, 0, 6, 0, 40]);
    expect(pseudoHeaderSum(src, dst, 6, 40)).toBe(onesComplementSum(pseudo));
  });
});
