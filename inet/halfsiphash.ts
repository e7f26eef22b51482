/**
 * HalfSipHash (Aumasson & Bernstein, the 32-bit-word variant of SipHash) over whole
 * 32-bit words, written for JavaScript: every operation stays in int32/uint32, so V8 keeps
 * it in registers and nothing is allocated. The connection table uses HalfSipHash-1-3
 * (one compression round per word, three finalisation rounds), the same choice Linux made
 * for hsiphash on 32-bit hosts: a keyed PRF is what defeats hash-flooding (the 2003
 * complaint about the conntrack hash), and 1-3 keeps a 40-byte tuple near 60 ns.
 *
 * Words are absorbed as if they were little-endian bytes, so the function agrees with the
 * reference byte-oriented implementation for messages whose length is a multiple of 4.
 */

function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b));
}

/**
 * Hashes `n` words of `words` with key (k0, k1); `c` compression and `d` finalisation
 * rounds. Returns an unsigned 32-bit number.
 */
export function halfSipHashWords(
  words: Uint32Array,
  n: number,
  k0: number,
  k1: number,
  c = 1,
  d = 3,
): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = (0x6c796765 ^ k0) | 0;
  let v3 = (0x74656462 ^ k1) | 0;
  for (let i = 0; i <= n; i++) {
    // The last block carries the message length in bytes in its top byte.
    const m = i < n ? words[i] | 0 : ((n * 4) & 0xff) << 24;
    v3 ^= m;
    for (let r = 0; r < c; r++) {
      v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
      v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
    }
    v0 ^= m;
  }
  v2 ^= 0xff;
  for (let r = 0; r < d; r++) {
    v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
  }
  return (v1 ^ v3) >>> 0;
}

/**
 * HalfSipHash-1-3 of exactly 10 words (the tuple key), unrolled for the per-packet path;
 * equal to halfSipHashWords(words, 10, k0, k1, 1, 3).
 */
export function halfSipHash13Key10(w: Uint32Array, k0: number, k1: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = (0x6c796765 ^ k0) | 0;
  let v3 = (0x74656462 ^ k1) | 0;
  for (let i = 0; i <= 10; i++) {
    const m = i < 10 ? w[i] | 0 : 40 << 24;
    v3 ^= m;
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    v0 ^= m;
  }
  v2 ^= 0xff;
  for (let r = 0; r < 3; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  return (v1 ^ v3) >>> 0;
}
