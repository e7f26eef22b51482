/**
 * ICMP and ICMPv6 connection tracking with the behaviour of Linux's
 * nf_conntrack_proto_icmp.c / icmpv6.c: a request (echo, timestamp, ...) creates an entry
 * its reply answers, the tuple's ports being the id and type << 8 | code; errors are not
 * connections of their own but RELATED to the connection whose packet they quote
 * (nf_conntrack_inet_error). The tracker does the lookups and results; these functions
 * classify packets and build the keys.
 */
import { IpProto, type PacketInfo, ParseStatus } from '../packet/packet-info.js';
import { parseInner } from '../packet/parse.js';
import type { ConnTable } from './conn-table.js';
import type { CtTimeouts } from './ct-types.js';

/** ICMP request/reply pairs (Linux icmp invmap); -1 where the type cannot start or answer one. */
const ICMP4_INVERSE = new Int16Array(256).fill(-1);
ICMP4_INVERSE[8] = 0; ICMP4_INVERSE[0] = 8;
ICMP4_INVERSE[13] = 14; ICMP4_INVERSE[14] = 13;
ICMP4_INVERSE[15] = 16; ICMP4_INVERSE[16] = 15;
ICMP4_INVERSE[17] = 18; ICMP4_INVERSE[18] = 17;
const ICMP6_INVERSE = new Int16Array(256).fill(-1);
ICMP6_INVERSE[128] = 129; ICMP6_INVERSE[129] = 128;
ICMP6_INVERSE[139] = 140; ICMP6_INVERSE[140] = 139;

/** What an ICMP(v6) packet is to the tracker, before any lookup. */
export const enum IcmpKind {
  Invalid = 0,
  /** Neighbour discovery and MLD: not tracked. */
  Untracked = 1,
  /** An error quoting another packet: RELATED or invalid. */
  Error = 2,
  /** A request or reply: looked up, and a request may create an entry. */
  Query = 3,
}

/** Classifies an ICMP packet (ICMP in IPv4, ICMPv6 in IPv6: the caller checked). */
export function icmpKind(pkt: PacketInfo): IcmpKind {
  const fam = pkt.family;
  if (!pkt.l4Valid || pkt.end - pkt.l4Off < 8) return IcmpKind.Invalid;
  const type = pkt.icmpType;
  if (fam === 6 && icmp6Untracked(type)) return IcmpKind.Untracked;
  // RFC 1122 §3.2.2: unknown ICMP types (above 18) are discarded; Linux marks them invalid.
  if (fam === 4 && type > 18) return IcmpKind.Invalid;
  if (icmpIsError(fam, type)) return IcmpKind.Error;
  return IcmpKind.Query;
}

/** The echo (or other query) id: the tuple's sport for ICMP. */
export function icmpId(pkt: PacketInfo): number {
  const b = pkt.buf;
  return (b[pkt.l4Off + 4] << 8) | b[pkt.l4Off + 5];
}

/** The answering type of a query type, or -1 when it has none. */
export function icmpInverse(family: number, type: number): number {
  return family === 4 ? ICMP4_INVERSE[type] : ICMP6_INVERSE[type];
}

/** ICMP types that may create an entry: the requests (Linux valid_new). */
export function icmpCanCreate(family: number, type: number): boolean {
  return family === 4 ? type === 8 || type === 13 || type === 15 || type === 17 : type === 128 || type === 139;
}

export function icmpTimeout(family: number, to: Readonly<CtTimeouts>): number {
  return family === 4 ? to.icmp : to.icmpv6;
}

/**
 * ICMPv6 types Linux leaves untracked (icmpv6_error's noct_valid_new): MLD query, report,
 * done, router solicitation/advertisement, neighbour solicitation/advertisement, MLDv2 report.
 */
function icmp6Untracked(type: number): boolean {
  return (type >= 130 && type <= 136) || type === 143;
}

function icmpIsError(family: number, type: number): boolean {
  return family === 4 ? type === 3 || type === 4 || type === 5 || type === 11 || type === 12 : type < 128;
}

/** Protocols whose tuple carries ports here (TCP, UDP); everything else is tracked by addresses. */
function hasPorts(proto: number): boolean {
  return proto === IpProto.Tcp || proto === IpProto.Udp;
}

/**
 * Reads the quote of ICMP error `pkt` into `inner` and fills table.key with the quoted
 * tuple inverted (the quote's destination becomes the source): the tuple of the reply the
 * error answers, which the tracker looks up. False when the quote cannot be read, is of
 * another family, a fragment, or quotes an error or an unpaired type: the error is invalid.
 */
export function icmpErrorKey(t: ConnTable, pkt: PacketInfo, inner: PacketInfo, zone: number): boolean {
  if (pkt.icmpInnerOff <= 0) return false;
  const st = parseInner(inner, pkt.buf, pkt.icmpInnerOff, pkt.end);
  if (st !== ParseStatus.Ok || inner.family !== pkt.family || inner.fragOffset !== 0) return false;
  const ip = inner.l4proto;
  let sport = 0;
  let dport = 0;
  if (hasPorts(ip)) {
    if (!inner.l4Valid) return false;
    sport = inner.dport;
    dport = inner.sport;
  } else if ((ip === IpProto.Icmp && inner.family === 4) || (ip === IpProto.Icmpv6 && inner.family === 6)) {
    if (!inner.l4Valid || inner.end - inner.l4Off < 8) return false;
    const inv = icmpInverse(inner.family, inner.icmpType);
    if (inv < 0) return false; // an error quoting an error, or an unpaired type
    sport = icmpId(inner);
    dport = (inv << 8) | inner.icmpCode;
  }
  t.keyFromPacketInverted(inner, zone, sport, dport);
  return true;
}

/** The error goes to the one who sent the quoted packet (Linux: the outer daddr check). */
export function icmpErrorToQuotedSender(pkt: PacketInfo, inner: PacketInfo): boolean {
  const b = pkt.buf;
  const n = pkt.addrLen;
  const so = inner.srcOff;
  for (let i = 0; i < n; i++) if (b[pkt.dstOff + i] !== b[so + i]) return false;
  return true;
}
