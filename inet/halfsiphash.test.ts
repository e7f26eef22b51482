import assert from 'node:assert/strict';
import { halfSipHash13Key10, halfSipHashWords } from './index.js';

describe('HalfSipHash', () => {
  // Reference key bytes 00..07, read little-endian as two words.
  const k0 = 0x03020100;
  const k1 = 0x07060504;

  // The reference implementation's vectors_hsip32 (key bytes 00..07, message bytes 00..len-1,
  // 32-bit tag read little-endian) at every length that is a whole number of words.
  const VECTORS: Array<[bytes: number, tag: number]> = [
    [0, 0x5b9f35a9], [4, 0x89466e2a], [8, 0x8f84b8d0], [12, 0x2f87f057],
    [16, 0x84acb5d9], [20, 0x45104de3], [24, 0x630c4027], [28, 0x004064b0],
    [32, 0x1221e7fe], [36, 0xecc65ce7], [40, 0x4018bcb6], [44, 0x48d50577],
    [48, 0xe32ce169], [52, 0xd4f3853b], [56, 0x40b9c5a5], [60, 0x736ce7d4],
  ];

  it('HalfSipHash-2-4 matches the reference vectors for messages of 0 to 60 bytes', () => {
    for (const [len, tag] of VECTORS) {
      const bytes = Uint8Array.from({ length: len }, (_, i) => i);
      const words = new Uint32Array(len / 4);
      for (let i = 0; i < words.length; i++) words[i] = Buffer.from(bytes.buffer, i * 4, 4).readUInt32LE(0);
      assert.equal(halfSipHashWords(words, words.length, k0, k1, 2, 4), tag, `${len} bytes`);
    }
  });

  it('depends on the key', () => {
    const w = Uint32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    assert.notEqual(halfSipHashWords(w, 10, 1, 2), halfSipHashWords(w, 10, 1, 3));
  });

  it('spreads tuples that differ in one port across buckets', () => {
    const w = new Uint32Array(10);
    const buckets = new Set<number>();
    for (let p = 0; p < 256; p++) {
      w[8] = (40000 << 16) | p;
      buckets.add(halfSipHashWords(w, 10, 0x1234, 0x5678) & 255);
    }
    // 256 balls in 256 bins: ~162 distinct expected; a weak hash on the low word would give few.
    assert.ok(buckets.size > 120, `only ${buckets.size} buckets used`);
  });

  it('the unrolled 10-word HalfSipHash-1-3 equals the generic one', () => {
    const w = new Uint32Array(10);
    for (let i = 0; i < 500; i++) {
      w[i % 10] = (i * 2654435761) >>> 0;
      assert.equal(halfSipHash13Key10(w, 0xdeadbeef, i), halfSipHashWords(w, 10, 0xdeadbeef, i, 1, 3));
    }
  });
});
