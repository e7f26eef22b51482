/**
 * A connection tuple as NAT needs it: family, protocol, addresses and ports (or the ICMP
 * query identifier). Instances are reused: nothing here allocates after construction.
 *
 * ICMP / ICMPv6 queries follow Linux conntrack (nf_conntrack_proto_icmp.c): the identifier
 * is the only "port"; it is kept in `sport`, `dport` is 0, and inverting a tuple keeps the
 * identifier where it is (a reply carries the same id as its request).
 */
import { IpProto, PacketInfo } from '../packet/packet-info.js';

export class NatTuple {
  family: 0 | 4 | 6 = 0;
  proto = 0;
  /** Address bytes in [0, addrLen); 16 bytes so IPv4 and IPv6 share the instance. */
  readonly src = new Uint8Array(16);
  readonly dst = new Uint8Array(16);
  /** TCP/UDP source port, or the ICMP query identifier. */
  sport = 0;
  /** TCP/UDP destination port; 0 for ICMP. */
  dport = 0;

  get addrLen(): 0 | 4 | 16 {
    return this.family === 4 ? 4 : this.family === 6 ? 16 : 0;
  }
}

/** True for the protocols whose "port" is an ICMP query identifier. */
export function isIcmpProto(proto: number): boolean {
  return proto === IpProto.Icmp || proto === IpProto.Icmpv6;
}

/** True for the protocols whose tuple carries ports or an identifier NAT may rewrite. */
export function hasPorts(proto: number): boolean {
  return proto === IpProto.Tcp || proto === IpProto.Udp || isIcmpProto(proto);
}

/**
 * Fills `out` from a parsed packet (outer or quoted). Ports are taken only when the packet
 * has them (first fragment / complete header); otherwise they are 0.
 */
export function tupleFromPacket(pkt: PacketInfo, out: NatTuple): NatTuple {
  out.family = pkt.family;
  out.proto = pkt.l4proto;
  const n = pkt.addrLen;
  const b = pkt.buf;
  for (let i = 0; i < n; i++) {
    out.src[i] = b[pkt.srcOff + i];
    out.dst[i] = b[pkt.dstOff + i];
  }
  for (let i = n; i < 16; i++) {
    out.src[i] = 0;
    out.dst[i] = 0;
  }
  if (!pkt.l4Valid) {
    out.sport = 0;
    out.dport = 0;
  } else if (isIcmpProto(pkt.l4proto)) {
    out.sport = pkt.icmpId;
    out.dport = 0;
  } else if (pkt.l4proto === IpProto.Tcp || pkt.l4proto === IpProto.Udp) {
    out.sport = pkt.sport;
    out.dport = pkt.dport;
  } else {
    out.sport = 0;
    out.dport = 0;
  }
  return out;
}

/** Copies `from` into `out`. */
export function copyTuple(from: NatTuple, out: NatTuple): NatTuple {
  out.family = from.family;
  out.proto = from.proto;
  out.src.set(from.src);
  out.dst.set(from.dst);
  out.sport = from.sport;
  out.dport = from.dport;
  return out;
}

/**
 * The tuple of a packet going the other way: addresses and ports swapped (for ICMP the
 * identifier stays in `sport`). `out` may be `t` itself.
 */
export function invertTuple(t: NatTuple, out: NatTuple): NatTuple {
  out.family = t.family;
  out.proto = t.proto;
  for (let i = 0; i < 16; i++) {
    const s = t.src[i];
    out.src[i] = t.dst[i];
    out.dst[i] = s;
  }
  if (isIcmpProto(t.proto)) {
    out.sport = t.sport;
    out.dport = 0;
  } else {
    const p = t.sport;
    out.sport = t.dport;
    out.dport = p;
  }
  return out;
}

export function tupleEqual(a: NatTuple, b: NatTuple): boolean {
  if (a.family !== b.family || a.proto !== b.proto || a.sport !== b.sport || a.dport !== b.dport) return false;
  for (let i = 0; i < 16; i++) if (a.src[i] !== b.src[i] || a.dst[i] !== b.dst[i]) return false;
  return true;
}
