/**
 * Per-packet translation from a binding: addresses, ports and ICMP query ids rewritten in
 * place, every checksum updated incrementally (RFC 1624) by the packet module's helpers,
 * which also keep virtio NeedsCsum partial sums right for offloaded super-packets (an
 * address change moves the pseudo-header sum; a port change leaves it alone).
 *
 * No allocation: one module-level PacketInfo is reused for packets quoted in ICMP errors.
 *
 * Directions follow conntrack: 'original' is the way the first packet went, 'reply' the
 * other way.
 * - original: source := translated source, destination := translated destination;
 * - reply: destination := original source, source := original destination.
 *
 * ICMP errors (RFC 5508, NAT behaviour for ICMP; Linux nf_nat_icmp_reply_translation):
 * an error travelling in direction D quotes a packet of the connection that went the
 * other way, as it looked after translation. The quoted packet is turned back into what
 * it looked like before translation (so the sender recognises its own packet), the outer
 * addresses are translated like a packet in direction D, and the outer ICMP checksum is
 * moved by the difference the quote's bytes made.
 */
import { addrEqual } from '../packet/address.js';
import {
  csumApplyDiff,
  csumFold,
  isPartialChecksum,
  onesSum,
  rewriteAddress,
  rewriteIcmpId,
  rewritePort,
} from '../packet/checksum.js';
import { IpProto, PacketInfo, ParseStatus } from '../packet/packet-info.js';
import { parseInner } from '../packet/parse.js';
import { NAT_DST, NAT_SRC, NatBinding, NatManip, ORIG_DST, ORIG_SRC } from './binding.js';

export type NatDirection = 'original' | 'reply';

export const enum NatResult {
  /** The packet was translated (or already looked translated). */
  Ok = 0,
  /** The binding translates nothing that this call covers. */
  Nothing = 1,
  /** The packet cannot be translated with this binding (other family, unparsable quote); unchanged. */
  Unsupported = 2,
}

const inner = new PacketInfo();

/**
 * Translates `pkt` in place for a connection with binding `b`, as a packet going in
 * direction `dir`. `mask` limits it to the source or destination manip (NatManip bits),
 * e.g. to apply DNAT before the postrouting chain and SNAT after it; translating an
 * already translated side again changes nothing.
 *
 * When `pkt` is an ICMP / ICMPv6 error, `b` is the binding of the connection it quotes and
 * `dir` the direction of the error itself (conntrack finds it by looking up the inverted
 * quoted tuple: the direction that matches is the error's); see translateIcmpError.
 * `mask` does not apply to errors: the quote is translated for every manip at once.
 */
export function applyNat(pkt: PacketInfo, b: NatBinding, dir: NatDirection, mask: number = NatManip.Both): NatResult {
  if (pkt.family !== b.family || pkt.family === 0) return NatResult.Unsupported;
  if (pkt.icmpInnerOff !== 0) return translateIcmpError(pkt, b, dir, inner);
  const m = b.manip & mask;
  if (m === 0) return NatResult.Nothing;
  if (dir === 'original') {
    if (m & NatManip.Src) setEndpoint(pkt, true, b, NAT_SRC, b.natSport, true);
    if (m & NatManip.Dst) setEndpoint(pkt, false, b, NAT_DST, b.natDport, false);
  } else {
    if (m & NatManip.Src) setEndpoint(pkt, false, b, ORIG_SRC, b.origSport, true);
    if (m & NatManip.Dst) setEndpoint(pkt, true, b, ORIG_DST, b.origDport, false);
  }
  return NatResult.Ok;
}

/**
 * Sets the source (`src` true) or destination address of `pkt` to b.addrs[addrOff...] and
 * the matching TCP/UDP port to `port`. ICMP query ids belong to the source side of the
 * binding (`idSide`): they are rewritten to `port` whichever address field moves.
 */
function setEndpoint(pkt: PacketInfo, src: boolean, b: NatBinding, addrOff: number, port: number, idSide: boolean): void {
  const n = pkt.addrLen;
  const at = src ? pkt.srcOff : pkt.dstOff;
  if (!addrEqual(pkt.buf, at, b.addrs, addrOff, n)) rewriteAddress(pkt, src ? 'src' : 'dst', b.addrs, addrOff);
  if (!pkt.l4Valid) return;
  const p = pkt.l4proto;
  if (p === IpProto.Tcp || p === IpProto.Udp) {
    if ((src ? pkt.sport : pkt.dport) !== port) rewritePort(pkt, src ? 'src' : 'dst', port);
  } else if (idSide && (p === IpProto.Icmp || p === IpProto.Icmpv6) && pkt.icmpInnerOff === 0) {
    // rewriteIcmpId ignores ICMP types that carry no identifier.
    if (pkt.icmpId !== port) rewriteIcmpId(pkt, port);
  }
}

/** Sets only an address (the outer header of an ICMP error). */
function setAddress(pkt: PacketInfo, src: boolean, b: NatBinding, addrOff: number): void {
  const at = src ? pkt.srcOff : pkt.dstOff;
  if (!addrEqual(pkt.buf, at, b.addrs, addrOff, pkt.addrLen)) rewriteAddress(pkt, src ? 'src' : 'dst', b.addrs, addrOff);
}

function read16(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

/**
 * Translates an ICMP / ICMPv6 error `outer` (direction `dir`) that quotes a packet of the
 * connection with binding `b`. `scratch` receives the parsed quote (pass your own to
 * keep it, e.g. the one conntrack parsed for the lookup; it is re-parsed here).
 *
 * - dir 'reply' (the error comes from beyond the translation, about an original-direction
 *   packet): the quote goes back to the original tuple (source := original source,
 *   destination := original destination); outer destination := original source, outer
 *   source := original destination when the destination was translated.
 * - dir 'original' (the error comes from the inside, about a reply): the quote becomes the
 *   untranslated reply (source := translated destination, destination := translated
 *   source); outer source := translated source, outer destination := translated
 *   destination when the destination was translated.
 *
 * Like Linux, the outer address of the translated side is set whoever sent the error, so
 * an error from a router behind the NAT does not leak its private address.
 */
export function translateIcmpError(outer: PacketInfo, b: NatBinding, dir: NatDirection, scratch: PacketInfo): NatResult {
  if (outer.icmpInnerOff === 0 || !outer.l4Valid) return NatResult.Unsupported;
  const m = b.manip;
  if (m === 0) return NatResult.Nothing;
  const buf = outer.buf;
  if (parseInner(scratch, buf, outer.icmpInnerOff, outer.end) !== ParseStatus.Ok) return NatResult.Unsupported;
  if (scratch.family !== outer.family || scratch.family !== b.family) return NatResult.Unsupported;
  // The quote's bytes that can change: its IP header (addresses, IPv4 checksum) and the
  // start of its L4 header (ports / id and the checksum: TCP's is at offset 16).
  const qStart = scratch.l3Off;
  let qEnd = scratch.l4Off + 18;
  if (qEnd > scratch.end) qEnd = scratch.end;
  const before = onesSum(buf, qStart, qEnd - qStart, 0);
  if (dir === 'reply') {
    if (m & NatManip.Src) setEndpoint(scratch, true, b, ORIG_SRC, b.origSport, true);
    if (m & NatManip.Dst) setEndpoint(scratch, false, b, ORIG_DST, b.origDport, false);
  } else {
    if (m & NatManip.Src) setEndpoint(scratch, false, b, NAT_SRC, b.natSport, true);
    if (m & NatManip.Dst) setEndpoint(scratch, true, b, NAT_DST, b.natDport, false);
  }
  const after = onesSum(buf, qStart, qEnd - qStart, 0);
  // The quote is inside the ICMP checksum (never in the pseudo-header): move the outer
  // checksum by the quote's difference. Under NeedsCsum the field holds only the
  // pseudo-header sum and the data is summed later, so it stays.
  if (!isPartialChecksum(outer)) {
    const at = outer.l4Off + 2;
    const check = csumApplyDiff(read16(buf, at), csumFold((~before & 0xffff) + after));
    buf[at] = check >> 8;
    buf[at + 1] = check & 0xff;
  }
  // Outer addresses: rewriteAddress updates the IPv4 header checksum and, for ICMPv6, the
  // pseudo-header part of the ICMPv6 checksum.
  if (dir === 'reply') {
    if (m & NatManip.Src) setAddress(outer, false, b, ORIG_SRC);
    if (m & NatManip.Dst) setAddress(outer, true, b, ORIG_DST);
  } else {
    if (m & NatManip.Src) setAddress(outer, true, b, NAT_SRC);
    if (m & NatManip.Dst) setAddress(outer, false, b, NAT_DST);
  }
  return NatResult.Ok;
}
