/**
 * A NAT binding: what one connection is translated to, made on its first packet and kept
 * in the conntrack entry for its lifetime (and replicated with it).
 *
 * The binding records the original tuple (as the first packet arrived) and, for each side
 * that is translated, the new address and port. Like Linux (nf_nat_core.c), the tuple
 * conntrack must store and hash for the reply direction is the *inverted translated*
 * tuple: replies come back addressed to the translated source, from the translated
 * destination. Everything a packet in either direction needs is derived from these
 * fields; no per-packet lookup beyond the conntrack entry.
 *
 * Source and destination translation may both be set on one connection (DNAT in
 * prerouting and SNAT in postrouting on the same first packet, as nftables allows).
 */
import { formatAddress } from '../packet/address.js';
import { PacketInfo } from '../packet/packet-info.js';
import type { PortPool } from './port-allocator.js';
import { NatTuple, invertTuple, isIcmpProto, tupleFromPacket } from './tuple.js';

/** The statement that made a side of the binding. */
export const enum NatKind {
  None = 0,
  /** `snat to ADDR[:PORT[-PORT]]`: source rewritten to a configured address. */
  Snat = 1,
  /** `masquerade`: source rewritten to the egress interface's address. */
  Masquerade = 2,
  /** `dnat to ADDR[:PORT]`: destination rewritten to a configured address. */
  Dnat = 3,
  /** `redirect [to :PORT]`: destination rewritten to the ingress interface's own address. */
  Redirect = 4,
}

/** Which sides of the original-direction packet a binding rewrites (bits). */
export const enum NatManip {
  None = 0,
  Src = 1,
  Dst = 2,
  Both = 3,
}

/** Offsets of the four addresses in `NatBinding.addrs` (16 bytes each, IPv4 uses the first 4). */
export const ORIG_SRC = 0;
export const ORIG_DST = 16;
export const NAT_SRC = 32;
export const NAT_DST = 48;

export class NatBinding {
  family: 0 | 4 | 6 = 0;
  proto = 0;
  /** NatManip bits: which sides are translated. */
  manip = 0;
  /** Snat or Masquerade when the source is translated, else None. */
  srcKind: NatKind = NatKind.None;
  /** Dnat or Redirect when the destination is translated, else None. */
  dstKind: NatKind = NatKind.None;
  /** Original source, original destination, translated source, translated destination. */
  readonly addrs = new Uint8Array(64);
  /** Original ports (ICMP: the query id in origSport, origDport 0). */
  origSport = 0;
  origDport = 0;
  /** Translated ports; equal to the originals on a side that is not translated. */
  natSport = 0;
  natDport = 0;
  /**
   * The pool that holds `natSport` for this binding (SNAT / masquerade of TCP, UDP, ICMP),
   * or null when no port is held. Releasing the binding returns the port to it.
   */
  pool: PortPool | null = null;
  /**
   * The pool that holds `origDport` for this binding, or null: a connection an FTP helper
   * expected (nat/ftp-nat.ts) arrives at a port this node reserved on its NAT address for
   * it. Local to this node, like `pool` (not part of what is replicated).
   */
  dstPool: PortPool | null = null;

  get addrLen(): 0 | 4 | 16 {
    return this.family === 4 ? 4 : this.family === 6 ? 16 : 0;
  }
}

/** Resets a binding to "no translation" (the pool reference is dropped, not released). */
export function clearBinding(b: NatBinding): void {
  b.family = 0;
  b.proto = 0;
  b.manip = NatManip.None;
  b.srcKind = NatKind.None;
  b.dstKind = NatKind.None;
  b.addrs.fill(0);
  b.origSport = 0;
  b.origDport = 0;
  b.natSport = 0;
  b.natDport = 0;
  b.pool = null;
  b.dstPool = null;
}

/**
 * Starts a binding from the original tuple (no translation yet: the translated fields
 * equal the original ones).
 */
export function initBinding(b: NatBinding, orig: NatTuple): void {
  clearBinding(b);
  b.family = orig.family;
  b.proto = orig.proto;
  b.addrs.set(orig.src, ORIG_SRC);
  b.addrs.set(orig.dst, ORIG_DST);
  b.addrs.set(orig.src, NAT_SRC);
  b.addrs.set(orig.dst, NAT_DST);
  b.origSport = orig.sport;
  b.origDport = orig.dport;
  b.natSport = orig.sport;
  b.natDport = orig.dport;
}

const scratch = new NatTuple();

/** Starts a binding from the first packet of a connection (original direction). */
export function initBindingFromPacket(b: NatBinding, pkt: PacketInfo): void {
  initBinding(b, tupleFromPacket(pkt, scratch));
}

/**
 * Sets the source translation. `port` is the new source port (ICMP: query id); pass
 * `b.origSport` to keep it.
 */
export function setSourceNat(b: NatBinding, kind: NatKind, addr: Uint8Array, addrOff: number, port: number): void {
  const n = b.addrLen;
  for (let i = 0; i < n; i++) b.addrs[NAT_SRC + i] = addr[addrOff + i];
  b.natSport = port & 0xffff;
  b.manip |= NatManip.Src;
  b.srcKind = kind;
}

/**
 * Sets the destination translation. `port` is the new destination port; pass
 * `b.origDport` to keep it. ICMP queries have no destination "port": it stays 0.
 */
export function setDestNat(b: NatBinding, kind: NatKind, addr: Uint8Array, addrOff: number, port: number): void {
  const n = b.addrLen;
  for (let i = 0; i < n; i++) b.addrs[NAT_DST + i] = addr[addrOff + i];
  b.natDport = isIcmpProto(b.proto) ? 0 : port & 0xffff;
  b.manip |= NatManip.Dst;
  b.dstKind = kind;
}

/** The tuple of the first packet as it arrived. */
export function originalTuple(b: NatBinding, out: NatTuple): NatTuple {
  out.family = b.family;
  out.proto = b.proto;
  out.src.set(b.addrs.subarray(ORIG_SRC, ORIG_SRC + 16));
  out.dst.set(b.addrs.subarray(ORIG_DST, ORIG_DST + 16));
  out.sport = b.origSport;
  out.dport = b.origDport;
  return out;
}

/** The tuple of original-direction packets after translation (as they leave). */
export function translatedTuple(b: NatBinding, out: NatTuple): NatTuple {
  out.family = b.family;
  out.proto = b.proto;
  out.src.set(b.addrs.subarray(NAT_SRC, NAT_SRC + 16));
  out.dst.set(b.addrs.subarray(NAT_DST, NAT_DST + 16));
  out.sport = b.natSport;
  out.dport = b.natDport;
  return out;
}

/**
 * The reply tuple conntrack stores and hashes for this connection: the translated tuple
 * inverted (Linux: nf_nat_setup_info alters the reply tuple to the inverse of the new
 * tuple). A reply packet's own tuple equals it before reply translation.
 */
export function replyTuple(b: NatBinding, out: NatTuple): NatTuple {
  return invertTuple(translatedTuple(b, out), out);
}

/** Copies a binding (including the pool references: only one of the copies may release them). */
export function copyBinding(from: NatBinding, out: NatBinding): NatBinding {
  out.family = from.family;
  out.proto = from.proto;
  out.manip = from.manip;
  out.srcKind = from.srcKind;
  out.dstKind = from.dstKind;
  out.addrs.set(from.addrs);
  out.origSport = from.origSport;
  out.origDport = from.origDport;
  out.natSport = from.natSport;
  out.natDport = from.natDport;
  out.pool = from.pool;
  out.dstPool = from.dstPool;
  return out;
}

const KIND_NAMES = ['none', 'snat', 'masquerade', 'dnat', 'redirect'];

/** The name of a NatKind as in the ruleset language. */
export function natKindName(kind: NatKind): string {
  return KIND_NAMES[kind] ?? 'unknown';
}

/** One line for logs and tests (allocates; not for the packet path). */
export function describeBinding(b: NatBinding): string {
  if (b.family === 0) return 'no binding';
  const n = b.addrLen;
  const ep = (off: number, port: number): string => {
    const a = formatAddress(b.addrs, off, n);
    return b.family === 6 ? `[${a}]:${port}` : `${a}:${port}`;
  };
  const parts = [`proto ${b.proto}`, `${ep(ORIG_SRC, b.origSport)} -> ${ep(ORIG_DST, b.origDport)}`];
  if (b.manip & NatManip.Src) parts.push(`${natKindName(b.srcKind)} src ${ep(NAT_SRC, b.natSport)}`);
  if (b.manip & NatManip.Dst) parts.push(`${natKindName(b.dstKind)} dst ${ep(NAT_DST, b.natDport)}`);
  return parts.join(' ');
}

/**
 * True when the binding's source translation uses `addr` (masquerade after the interface
 * lost that address: Linux drops such connections, nf_nat_masquerade's inetaddr notifier,
 * because replies can no longer reach it).
 */
export function bindingUsesSourceAddress(b: NatBinding, addr: Uint8Array, addrOff: number): boolean {
  if ((b.manip & NatManip.Src) === 0) return false;
  const n = b.addrLen;
  for (let i = 0; i < n; i++) if (b.addrs[NAT_SRC + i] !== addr[addrOff + i]) return false;
  return n > 0;
}
