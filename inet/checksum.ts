/**
 * The Internet checksum (RFC 1071): one's complement sums of big-endian 16-bit words, and
 * the pseudo-header that TCP, UDP, ICMPv6 and VRRP fold into theirs (RFC 768, RFC 793 §3.1,
 * RFC 8200 §8.1, RFC 5798 §5.2.8). A "sum" is folded to 16 bits and NOT complemented; the
 * checksum field takes its complement (`~sum & 0xffff`).
 */

/** Folds any non-negative sum of 16-bit words to 16 bits with end-around carry. */
export function csumFold(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * One's complement sum of buf[off, off+len) taken as big-endian 16-bit words (an odd last
 * byte is padded with zero, RFC 1071 §4.1), added to `initial`; folded, not complemented.
 * `off` must be at an even distance from the start of the checksummed region.
 */
export function onesSum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  const last = off + (len & ~1);
  const last8 = off + (len & ~7);
  let i = off;
  // Four words an iteration (conntrack sums every byte of packets the NIC did not check:
  // about 1.5 times faster than one). Doubles hold 2^53 exactly; fold every 64 K words to
  // stay far below it.
  while (i < last8) {
    let stop = i + 0x20000;
    if (stop > last8) stop = last8;
    for (; i < stop; i += 8) {
      sum += ((buf[i] << 8) | buf[i + 1]) + ((buf[i + 2] << 8) | buf[i + 3]) + ((buf[i + 4] << 8) | buf[i + 5]) + ((buf[i + 6] << 8) | buf[i + 7]);
    }
    sum = csumFold(sum);
  }
  for (; i < last; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (len & 1) sum += buf[off + len - 1] << 8;
  return csumFold(sum);
}

/**
 * Sum of the pseudo-header: source and destination addresses (`addrLen` bytes each, read
 * from src[srcOff...] and dst[dstOff...], which may be the same buffer), protocol and
 * upper-layer length. IPv4 has zero, protocol, 16-bit length; IPv6 a 32-bit length, three
 * zero bytes and the next header: as 16-bit words both come to proto + length (the length
 * split in two words for IPv6 jumbograms).
 */
export function pseudoHeaderSum(
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  addrLen: number,
  proto: number,
  l4Len: number,
): number {
  let sum = onesSum(src, srcOff, addrLen, 0);
  sum = onesSum(dst, dstOff, addrLen, sum);
  sum += proto + (l4Len & 0xffff) + Math.floor(l4Len / 0x10000);
  return csumFold(sum);
}
