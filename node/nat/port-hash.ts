/**
 * Words for the keyed hash behind port and address choice. RFC 6056 §3.3.3 (algorithm 3,
 * "simple hash-based port selection") picks the first port to try as
 * offset = F(connection id, secret key), so an off-path attacker cannot predict the port a
 * new connection gets, while connections to the same place spread over the whole range.
 * F is the inet library's HalfSipHash-2-4 under a 64-bit key drawn per allocator.
 */

/** Reads address bytes [off, off+len) as big-endian words into words[at...]; returns the next index. */
export function addressWords(addr: Uint8Array, off: number, len: number, words: Uint32Array, at: number): number {
  for (let i = 0; i < len; i += 4) {
    words[at++] = ((addr[off + i] << 24) | (addr[off + i + 1] << 16) | (addr[off + i + 2] << 8) | addr[off + i + 3]) >>> 0;
  }
  return at;
}
