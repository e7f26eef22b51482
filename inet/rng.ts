/**
 * The project's one seeded PRNG: mulberry32 (32-bit state, period 2^32). Deterministic per
 * seed, so a randomised test or a fuzz run names a case that reproduces, and cheap enough for
 * a per-packet draw. Not cryptographic: 32 bits of state are recovered from a few outputs, so
 * it is no source of keys or nonces; NAT's `fully-random` seeds it from its secret hash key.
 */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** A uniform uint32. */
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** A uniform integer in [0, n) (n up to 2^32). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** The same generator as a function returning floats in [0, 1). */
export function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}
