/**
 * The Internet checksum (RFC 1071): 16-bit one's complement of the one's complement
 * sum. Used by VRRPv3 (RFC 5798 §5.2.8) and ICMPv6 (RFC 4443 §2.3), both with a
 * pseudo-header, which callers feed in as further ranges of the same running sum.
 */

/** Adds bytes [start, end) of buf to a running 32-bit sum (big-endian 16-bit words). */
export function sumBytes(sum: number, buf: Uint8Array, start: number, end: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8; // odd length: pad with a zero byte
  // Fold now and then so the sum stays a small integer.
  return (sum & 0xffff) + (sum >>> 16);
}

export function sumWord(sum: number, word: number): number {
  sum += word & 0xffff;
  return (sum & 0xffff) + (sum >>> 16);
}

/** Folds a running sum and complements it: the value to write in the checksum field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Sum of an IP pseudo-header: IPv4 (RFC 768 layout: src, dst, zero, protocol, length)
 * or IPv6 (RFC 8200 §8.1: src, dst, 32-bit length, three zero bytes, next header).
 * Both reduce to the same words for the one's complement sum.
 */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  let sum = sumBytes(0, src, 0, src.length);
  sum = sumBytes(sum, dst, 0, dst.length);
  sum = sumWord(sum, protocol);
  sum = sumWord(sum, length >>> 16);
  return sumWord(sum, length);
}
