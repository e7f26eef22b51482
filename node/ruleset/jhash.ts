/**
 * Bob Jenkins' lookup3 hash over bytes, as the Linux kernel's `jhash()` computes it
 * (include/linux/jhash.h): the bytes are read in 32-bit little-endian groups (the
 * kernel's x86/arm64 CPU order), with the same initial value (0xdeadbeef + length + seed)
 * and the same mix and final steps. nft's `jhash EXPR mod N seed S` hashes EXPR's register
 * bytes with it and scales the result to N the way reciprocal_scale() does.
 * Written from the published algorithm (public domain, lookup3.c).
 */

function rol32(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** jhash(key[0..len), seed) -> unsigned 32-bit. */
export function jhashBytes(k: Uint8Array, len: number, seed: number): number {
  let a = (0xdeadbeef + len + seed) >>> 0;
  let b = a;
  let c = a;
  let i = 0;
  let n = len;
  const le = (p: number) => (k[p] | (k[p + 1] << 8) | (k[p + 2] << 16) | (k[p + 3] << 24)) >>> 0;
  while (n > 12) {
    a = (a + le(i)) >>> 0;
    b = (b + le(i + 4)) >>> 0;
    c = (c + le(i + 8)) >>> 0;
    // mix
    a = (a - c) >>> 0; a = (a ^ rol32(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol32(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 4)) >>> 0; b = (b + a) >>> 0;
    n -= 12;
    i += 12;
  }
  if (n === 0) return c;
  // The tail: the remaining bytes added in little-endian order (the kernel's fall-through switch).
  for (let j = n - 1; j >= 0; j--) {
    const v = k[i + j] << ((j % 4) * 8);
    if (j >= 8) c = (c + v) >>> 0;
    else if (j >= 4) b = (b + v) >>> 0;
    else a = (a + v) >>> 0;
  }
  // final
  c = (c ^ b) >>> 0; c = (c - rol32(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 24)) >>> 0;
  return c;
}

/** reciprocal_scale(): maps a 32-bit value onto 0..n-1 as ((u64)v * n) >> 32. */
export function scale(v: number, n: number): number {
  // v * n may exceed 2^53: split v into halves so every product stays exact.
  const hi = Math.floor(v / 0x10000);
  const lo = v % 0x10000;
  return Math.floor((hi * n + Math.floor((lo * n) / 0x10000)) / 0x10000);
}
