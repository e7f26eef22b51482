/**
 * Bitmaps over Uint32Array words: bit (i & 31) of word (i >>> 5) stands for i. Used by the
 * anti-replay window and the NAT port pools; plain functions on the caller's array, so
 * nothing is allocated per call.
 */

export function bitTest(words: Uint32Array, i: number): boolean {
  return (words[i >>> 5]! & (1 << (i & 31))) !== 0;
}

export function bitSet(words: Uint32Array, i: number): void {
  words[i >>> 5] |= 1 << (i & 31);
}

export function bitClear(words: Uint32Array, i: number): void {
  words[i >>> 5] &= ~(1 << (i & 31));
}

/** Index of the lowest set bit of a non-zero word. */
export function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Mask of bits i..31 of a word. */
export function maskFrom(i: number): number {
  return (0xffffffff << i) | 0;
}

/** Mask of bits 0..i of a word. */
export function maskTo(i: number): number {
  return i === 31 ? -1 : (1 << (i + 1)) - 1;
}
