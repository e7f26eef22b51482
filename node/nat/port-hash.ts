/**
 * The keyed 32-bit hash behind port and address choice. RFC 6056 §3.3.3 (algorithm 3,
 * "simple hash-based port selection") picks the first port to try as
 * offset = F(connection id, secret key), so an off-path attacker cannot predict the port a
 * new connection gets, while connections to the same place spread over the whole range.
 *
 * F here is built on the SipHash ARX round over 32-bit lanes (the construction Linux
 * calls hsiphash), with a 64-bit key drawn per allocator. It is fast and keyed; it is not
 * claimed to match any published test vector. Nothing here allocates.
 */

function rotl(x: number, b: number): number {
  return ((x << b) | (x >>> (32 - b))) >>> 0;
}

/** Hashes words[0, n) under the key (k0, k1) to a uint32. */
export function keyedHash32(k0: number, k1: number, words: Uint32Array, n: number): number {
  let v0 = k0 >>> 0;
  let v1 = k1 >>> 0;
  let v2 = (0x6c796765 ^ k0) >>> 0;
  let v3 = (0x74656462 ^ k1) >>> 0;
  for (let i = 0; i <= n; i++) {
    // The last block is the length, so inputs of different lengths differ.
    const m = i < n ? words[i] >>> 0 : (n << 24) >>> 0;
    v3 = (v3 ^ m) >>> 0;
    for (let r = 0; r < 2; r++) {
      v0 = (v0 + v1) >>> 0;
      v1 = rotl(v1, 5) ^ v0;
      v0 = rotl(v0, 16);
      v2 = (v2 + v3) >>> 0;
      v3 = rotl(v3, 8) ^ v2;
      v0 = (v0 + v3) >>> 0;
      v3 = rotl(v3, 7) ^ v0;
      v2 = (v2 + v1) >>> 0;
      v1 = rotl(v1, 13) ^ v2;
      v2 = rotl(v2, 16);
    }
    v0 = (v0 ^ m) >>> 0;
  }
  v2 = (v2 ^ 0xff) >>> 0;
  for (let r = 0; r < 4; r++) {
    v0 = (v0 + v1) >>> 0;
    v1 = rotl(v1, 5) ^ v0;
    v0 = rotl(v0, 16);
    v2 = (v2 + v3) >>> 0;
    v3 = rotl(v3, 8) ^ v2;
    v0 = (v0 + v3) >>> 0;
    v3 = rotl(v3, 7) ^ v0;
    v2 = (v2 + v1) >>> 0;
    v1 = rotl(v1, 13) ^ v2;
    v2 = rotl(v2, 16);
  }
  return (v1 ^ v3) >>> 0;
}

/** Reads address bytes [off, off+len) as big-endian words into words[at...]; returns the next index. */
export function addressWords(addr: Uint8Array, off: number, len: number, words: Uint32Array, at: number): number {
  for (let i = 0; i < len; i += 4) {
    words[at++] = ((addr[off + i] << 24) | (addr[off + i + 1] << 16) | (addr[off + i + 2] << 8) | addr[off + i + 3]) >>> 0;
  }
  return at;
}
