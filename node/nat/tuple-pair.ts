/**
 * The binding seen as a pair of conntrack tuples, the way Linux stores NAT: an entry's
 * original tuple plus its reply tuple say everything about the translation (the reply
 * tuple is the inverted translated tuple). Field names match the conntrack snapshot
 * (node/conntrack CtSnapshot), so a snapshot can be passed as it is.
 *
 * With this a replicated entry needs no separate binding record: the standby rebuilds the
 * binding from the two tuples it receives anyway. (What the tuples cannot say is whether
 * a source translation came from snat or masquerade; encodeBinding keeps that.)
 *
 * ICMP in conntrack tuples: sport is the query id, dport is (type << 8 | code); NAT only
 * ever changes the id, so dports of ICMP tuples are left to conntrack.
 */
import { NAT_DST, NAT_SRC, NatBinding, NatKind, NatManip, ORIG_DST, ORIG_SRC, clearBinding } from './binding.js';
import { isIcmpProto } from './tuple.js';

export interface NatTuplePair {
  family: number;
  proto: number;
  origSrc: Uint8Array;
  origDst: Uint8Array;
  origSport: number;
  origDport: number;
  replySrc: Uint8Array;
  replyDst: Uint8Array;
  replySport: number;
  replyDport: number;
}

function differs(a: Uint8Array, b: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return true;
  return false;
}

/**
 * Rebuilds the binding of an entry from its two tuples. The source is translated when
 * replies go to another address or port than the original source; the destination when
 * they come from another address or port than the original destination.
 * `srcKind` / `dstKind` name the statements (snat / dnat unless told otherwise).
 */
export function bindingFromTuplePair(
  p: NatTuplePair,
  out: NatBinding,
  srcKind: NatKind = NatKind.Snat,
  dstKind: NatKind = NatKind.Dnat,
): NatBinding {
  clearBinding(out);
  if (p.family !== 4 && p.family !== 6) return out;
  const n = p.family === 4 ? 4 : 16;
  const icmp = isIcmpProto(p.proto);
  out.family = p.family;
  out.proto = p.proto;
  for (let i = 0; i < n; i++) {
    out.addrs[ORIG_SRC + i] = p.origSrc[i];
    out.addrs[ORIG_DST + i] = p.origDst[i];
    out.addrs[NAT_SRC + i] = p.replyDst[i];
    out.addrs[NAT_DST + i] = p.replySrc[i];
  }
  out.origSport = p.origSport & 0xffff;
  out.origDport = icmp ? 0 : p.origDport & 0xffff;
  // ICMP: the reply carries the (translated) id in its sport, like the request.
  out.natSport = (icmp ? p.replySport : p.replyDport) & 0xffff;
  out.natDport = icmp ? 0 : p.replySport & 0xffff;
  if (differs(p.replyDst, p.origSrc, n) || out.natSport !== out.origSport) {
    out.manip |= NatManip.Src;
    out.srcKind = srcKind;
  }
  if (differs(p.replySrc, p.origDst, n) || out.natDport !== out.origDport) {
    out.manip |= NatManip.Dst;
    out.dstKind = dstKind;
  }
  return out;
}

/**
 * Writes the reply tuple of binding `b` into `out`'s reply fields (what conntrack must
 * store and hash for the entry). For ICMP only the id is written: `out.replyDport` keeps
 * conntrack's inverted type/code.
 */
export function writeReplyTuple(b: NatBinding, out: NatTuplePair): void {
  const n = b.addrLen;
  for (let i = 0; i < n; i++) {
    out.replySrc[i] = b.addrs[NAT_DST + i];
    out.replyDst[i] = b.addrs[NAT_SRC + i];
  }
  if (isIcmpProto(b.proto)) {
    out.replySport = b.natSport;
  } else {
    out.replySport = b.natDport;
    out.replyDport = b.natSport;
  }
}
