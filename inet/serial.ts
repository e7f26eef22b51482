/**
 * 32-bit sequence numbers compared with serial-number arithmetic (RFC 1982 §3.2, SERIAL_BITS
 * = 32): a is "before" b when the forward distance from a to b is in (0, 2^31). Keeps working
 * across the wrap from 0xffffffff to 0.
 */

/** a + n modulo 2^32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Signed distance b - a in (-2^31, 2^31]: positive when b is after a. */
export function seqDiff(a: number, b: number): number {
  return ((b - a) | 0);
}

export function seqLt(a: number, b: number): boolean {
  return seqDiff(a, b) > 0;
}

export function seqLe(a: number, b: number): boolean {
  return seqDiff(a, b) >= 0;
}

/**
 * True when [from, to] is not an ordered range: `to` is before `from` (or exactly 2^31 away,
 * where serial order is undefined, RFC 1982 §3.2). No sender or receiver ever names such a
 * range; walking one sequence by sequence would go round the whole 2^32 space.
 */
export function seqRangeInverted(from: number, to: number): boolean {
  return seqDiff(from, to) < 0;
}
