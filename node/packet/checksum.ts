/**
 * Internet checksums (RFC 1071) and their incremental updates (RFC 1624), for IPv4 headers
 * and TCP / UDP / ICMP / ICMPv6 with their pseudo-headers (RFC 793 §3.1, RFC 768,
 * RFC 8200 §8.1, RFC 4443 §2.3).
 *
 * Sums here are plain numbers: a "sum" is the folded, NOT complemented 16-bit one's
 * complement sum (0..0xffff); a "checksum" is what goes on the wire (its complement).
 *
 * Offloads: when the virtio header carries NeedsCsum (CHECKSUM_PARTIAL in the kernel), the
 * L4 checksum field holds the folded, non-complemented pseudo-header sum and the kernel (or
 * the NIC) adds the rest later (csum_start/csum_offset). Rewriting an address then changes
 * that field as a sum, and rewriting a port changes nothing in it (Linux
 * inet_proto_csum_replace4 with pseudohdr, and inet_proto_csum_replace2 without).
 */
import { IpProto, PacketInfo, VnetFlags } from './packet-info.js';
import { csumFold, onesSum, pseudoHeaderSum } from '../../inet/index.js';

// The sums themselves live in the inet library; node/ code keeps importing them from here.
export { csumFold, onesSum };

/** IPv4 header checksum of the header at buf[l3Off, l3Off+hdrLen) (field taken as 0). */
export function ipv4HeaderChecksum(buf: Uint8Array, l3Off: number, hdrLen: number): number {
  let sum = onesSum(buf, l3Off, 10, 0);
  sum = onesSum(buf, l3Off + 12, hdrLen - 12, sum);
  return ~sum & 0xffff;
}

/** Writes the IPv4 header checksum (no-op for IPv6). */
export function setIpv4HeaderChecksum(info: PacketInfo): void {
  if (info.family !== 4) return;
  const c = ipv4HeaderChecksum(info.buf, info.l3Off, info.l3HdrLen);
  info.buf[info.l3Off + 10] = c >> 8;
  info.buf[info.l3Off + 11] = c & 0xff;
}

/** True when the IPv4 header checksum is right (always true for IPv6: it has none). */
export function verifyIpv4HeaderChecksum(info: PacketInfo): boolean {
  if (info.family !== 4) return true;
  return onesSum(info.buf, info.l3Off, info.l3HdrLen, 0) === 0xffff;
}

/** Offset of the checksum field inside the L4 header, or -1 when this protocol has none we handle. */
export function l4ChecksumFieldOffset(l4proto: number): number {
  switch (l4proto) {
    case IpProto.Tcp:
      return 16;
    case IpProto.Udp:
      return 6;
    case IpProto.Icmp:
    case IpProto.Icmpv6:
      return 2;
    default:
      return -1;
  }
}

/** Whether the L4 checksum of this packet includes the pseudo-header (not for ICMPv4). */
function hasPseudoHeader(info: PacketInfo): boolean {
  return info.l4proto !== IpProto.Icmp;
}

/** True when the L4 checksum field is present in the bytes (first fragment / full header / long enough quote). */
function l4FieldAt(info: PacketInfo): number {
  if (info.fragOffset !== 0) return -1;
  if (info.l4proto === IpProto.Icmp && info.family !== 4) return -1;
  if (info.l4proto === IpProto.Icmpv6 && info.family !== 6) return -1;
  const rel = l4ChecksumFieldOffset(info.l4proto);
  if (rel < 0) return -1;
  const at = info.l4Off + rel;
  return at + 2 <= info.end ? at : -1;
}

/** True when the L4 checksum field holds a partial pseudo-header sum (virtio NeedsCsum). */
export function isPartialChecksum(info: PacketInfo): boolean {
  return (info.vnetFlags & VnetFlags.NeedsCsum) !== 0;
}

/**
 * The pseudo-header sum for this packet's L4 segment [l4Off, end), which is what the
 * checksum field holds when the virtio header says NeedsCsum.
 */
export function l4PseudoSum(info: PacketInfo): number {
  return pseudoHeaderSum(info.buf, info.srcOff, info.buf, info.dstOff, info.addrLen, info.l4proto, info.end - info.l4Off);
}

/**
 * The full L4 checksum of [l4Off, end) as it should be on the wire (with pseudo-header
 * for TCP/UDP/ICMPv6). A UDP result of 0 is given as 0xffff (RFC 768: 0 means "none").
 * Returns -1 when the packet has no L4 checksum we can compute (non-first fragment,
 * other protocol, field cut off).
 */
export function computeL4Checksum(info: PacketInfo): number {
  const at = l4FieldAt(info);
  if (at < 0) return -1;
  const buf = info.buf;
  let sum = hasPseudoHeader(info) ? l4PseudoSum(info) : 0;
  sum = onesSum(buf, info.l4Off, at - info.l4Off, sum);
  sum = onesSum(buf, at + 2, info.end - at - 2, sum);
  const c = ~sum & 0xffff;
  return c === 0 && info.l4proto === IpProto.Udp ? 0xffff : c;
}

/**
 * Writes the L4 checksum field: the full checksum, or, when the virtio header says
 * NeedsCsum, the partial pseudo-header sum the kernel expects. Returns false when the
 * packet has no L4 checksum we can write.
 */
export function setL4Checksum(info: PacketInfo): boolean {
  const at = l4FieldAt(info);
  if (at < 0) return false;
  const v = isPartialChecksum(info) && hasPseudoHeader(info) ? l4PseudoSum(info) : computeL4Checksum(info);
  info.buf[at] = v >> 8;
  info.buf[at + 1] = v & 0xff;
  return true;
}

/**
 * True when the L4 checksum field is right: the full checksum, the partial sum under
 * NeedsCsum, or 0 for UDP over IPv4 ("no checksum", RFC 768). False when there is none
 * to check.
 */
export function verifyL4Checksum(info: PacketInfo): boolean {
  const at = l4FieldAt(info);
  if (at < 0) return false;
  const field = (info.buf[at] << 8) | info.buf[at + 1];
  if (isPartialChecksum(info) && hasPseudoHeader(info)) return field === l4PseudoSum(info);
  if (field === 0 && info.l4proto === IpProto.Udp && info.family === 4) return true;
  const c = computeL4Checksum(info);
  // 0 and 0xffff are the two zeros of one's complement arithmetic.
  return field === c || (info.l4proto !== IpProto.Udp && c === 0 && field === 0xffff);
}

/**
 * Conntrack's checksum test (Linux with nf_conntrack_checksum=1: tcp_error, udp_error,
 * icmp_error, icmpv6_error): false only when the packet carries a TCP, UDP, ICMP or ICMPv6
 * checksum and it is wrong. What the virtio-net header vouches for is trusted, as the
 * kernel trusts skb->ip_summed: NeedsCsum (the sending stack left the sum to offload,
 * CHECKSUM_PARTIAL) and DataValid (the NIC verified it, CHECKSUM_UNNECESSARY). A UDP
 * checksum of 0 ("none") passes in both families, as in udp_error. A fragment, or a
 * field cut off, has nothing to check here (reassembly and the parser deal with those).
 */
export function conntrackChecksumOk(info: PacketInfo): boolean {
  if ((info.vnetFlags & (VnetFlags.NeedsCsum | VnetFlags.DataValid)) !== 0) return true;
  const proto = info.l4proto;
  if (proto !== IpProto.Tcp && proto !== IpProto.Udp && proto !== IpProto.Icmp && proto !== IpProto.Icmpv6) return true;
  const at = l4FieldAt(info);
  if (at < 0) return true;
  if (proto === IpProto.Udp && info.buf[at] === 0 && info.buf[at + 1] === 0) return true;
  return verifyL4Checksum(info);
}

/** RFC 1624 eqn. 3: new checksum after one 16-bit word changes from `oldVal` to `newVal`. */
export function csumUpdate16(check: number, oldVal: number, newVal: number): number {
  return ~csumFold((~check & 0xffff) + (~oldVal & 0xffff) + (newVal & 0xffff)) & 0xffff;
}

/** RFC 1624 eqn. 3 for a 32-bit value (two words). */
export function csumUpdate32(check: number, oldVal: number, newVal: number): number {
  const d =
    (~(oldVal >>> 16) & 0xffff) + (~oldVal & 0xffff) + ((newVal >>> 16) & 0xffff) + (newVal & 0xffff);
  return ~csumFold((~check & 0xffff) + d) & 0xffff;
}

/** Applies a difference sum (from `replacementDiff`) to a complemented checksum. */
export function csumApplyDiff(check: number, diff: number): number {
  return ~csumFold((~check & 0xffff) + diff) & 0xffff;
}

/** Applies a difference sum to a partial (non-complemented) sum, as under NeedsCsum. */
export function sumApplyDiff(sum: number, diff: number): number {
  return csumFold(sum + diff);
}

/**
 * The one's complement difference of replacing buf[off, off+len) with nb[noff, noff+len)
 * (len even): sum(~old) + sum(new), folded. Adding it to a sum moves the sum from old to new.
 */
export function replacementDiff(buf: Uint8Array, off: number, nb: Uint8Array, noff: number, len: number): number {
  let d = 0;
  for (let i = 0; i < len; i += 2) {
    d += (~((buf[off + i] << 8) | buf[off + i + 1]) & 0xffff) + ((nb[noff + i] << 8) | nb[noff + i + 1]);
  }
  return csumFold(d);
}

function read16(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

function write16(b: Uint8Array, i: number, v: number): void {
  b[i] = v >> 8;
  b[i + 1] = v & 0xff;
}

/** Updates the L4 checksum field at `at` for a change that is `diff` in the sum. */
function updateL4Field(info: PacketInfo, at: number, diff: number, inPseudoHeader: boolean): void {
  const buf = info.buf;
  const field = read16(buf, at);
  if (isPartialChecksum(info) && hasPseudoHeader(info)) {
    // The field is the pseudo-header sum; only pseudo-header changes move it.
    if (inPseudoHeader) write16(buf, at, sumApplyDiff(field, diff));
    return;
  }
  const udp = info.l4proto === IpProto.Udp;
  // RFC 768: UDP over IPv4 with checksum 0 carries none, and must stay without one.
  if (udp && field === 0 && info.family === 4) return;
  let c = csumApplyDiff(field, diff);
  if (udp && c === 0) c = 0xffff;
  write16(buf, at, c);
}

/**
 * Replaces the source or destination address in place with newAddr[newOff, newOff+addrLen)
 * and updates the IPv4 header checksum and the L4 checksum (pseudo-header) incrementally
 * (RFC 1624), honouring NeedsCsum partial sums and UDP's "no checksum". ICMPv4 has no
 * pseudo-header, so its checksum does not change.
 *
 * For a packet quoted in an ICMP error (info from parseInner), this fixes the quoted IP
 * header checksum and the quoted L4 checksum when it was quoted; the outer ICMP checksum
 * covers those bytes and must then be recomputed by the caller (`setL4Checksum(outer)`).
 */
export function rewriteAddress(info: PacketInfo, which: 'src' | 'dst', newAddr: Uint8Array, newOff: number): void {
  const buf = info.buf;
  const aoff = which === 'src' ? info.srcOff : info.dstOff;
  const n = info.addrLen;
  if (n === 0) return;
  const diff = replacementDiff(buf, aoff, newAddr, newOff, n);
  if (info.family === 4) {
    const ip = info.l3Off + 10;
    write16(buf, ip, csumApplyDiff(read16(buf, ip), diff));
  }
  if (hasPseudoHeader(info)) {
    const at = l4FieldAt(info);
    if (at >= 0) updateL4Field(info, at, diff, true);
  }
  for (let i = 0; i < n; i++) buf[aoff + i] = newAddr[newOff + i];
}

/**
 * Replaces the TCP/UDP source or destination port in place and updates the L4 checksum
 * incrementally. Returns false (and changes nothing) when the packet has no ports.
 */
export function rewritePort(info: PacketInfo, which: 'src' | 'dst', port: number): boolean {
  if (!info.l4Valid || (info.l4proto !== IpProto.Tcp && info.l4proto !== IpProto.Udp)) return false;
  const buf = info.buf;
  const p = info.l4Off + (which === 'src' ? 0 : 2);
  const old = read16(buf, p);
  port &= 0xffff;
  const at = l4FieldAt(info);
  if (at >= 0) updateL4Field(info, at, csumFold((~old & 0xffff) + port), false);
  write16(buf, p, port);
  if (which === 'src') info.sport = port;
  else info.dport = port;
  return true;
}

/**
 * Replaces the ICMP / ICMPv6 query identifier (echo id) in place, updating the checksum.
 * Returns false when the packet is not an ICMP query with an identifier.
 */
export function rewriteIcmpId(info: PacketInfo, id: number): boolean {
  if (!info.l4Valid) return false;
  const t = info.icmpType;
  if (info.l4proto === IpProto.Icmp) {
    if (!(t === 0 || t === 8 || (t >= 13 && t <= 18))) return false;
  } else if (info.l4proto === IpProto.Icmpv6) {
    if (t !== 128 && t !== 129) return false;
  } else {
    return false;
  }
  const buf = info.buf;
  const p = info.l4Off + 4;
  if (p + 2 > info.end) return false;
  const old = read16(buf, p);
  id &= 0xffff;
  const at = l4FieldAt(info);
  if (at >= 0) updateL4Field(info, at, csumFold((~old & 0xffff) + id), false);
  write16(buf, p, id);
  info.icmpId = id;
  return true;
}
