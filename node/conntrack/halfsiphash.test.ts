import assert from 'node:assert/strict';
import { halfSipHash13Key10, halfSipHashWords } from './halfsiphash.js';

describe('halfSipHashWords', () => {
  // Reference key bytes 00..07, read little-endian as two words.
  const k0 = 0x03020100;
  const k1 = 0x07060504;

  it('matches the reference HalfSipHash-2-4 vector for the empty message', () => {
    // vectors_hsip32[0] = a9 35 9f 5b (little-endian output)
    assert.equal(halfSipHashWords(new Uint32Array(0), 0, k0, k1, 2, 4), 0x5b9f35a9);
  });

  it('matches the reference HalfSipHash-2-4 vector for the 4-byte message 00 01 02 03', () => {
    // vectors_hsip32[4] = 2a 6e 46 89
    assert.equal(halfSipHashWords(Uint32Array.of(0x03020100), 1, k0, k1, 2, 4), 0x89466e2a);
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
