/**
 * Plain-object view of an entry for listings (API, CLI, logs): like one line of
 * `conntrack -L`. Allocates; never on the per-packet path.
 */
import { formatAddress } from '../packet/address.js';
import { CtSnapshot, CtStatus, TCP_STATE_NAMES } from './ct-types.js';

export interface CtTupleJson {
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** ICMP / ICMPv6 only. */
  type?: number;
  code?: number;
  id?: number;
}

export interface CtEntryJson {
  family: 'ip' | 'ip6';
  proto: number;
  zone: number;
  original: CtTupleJson;
  reply: CtTupleJson;
  tcpState?: string;
  status: string[];
  mark: number;
  timeoutSeconds: number;
  replicated: boolean;
}

const STATUS_NAMES: [number, string][] = [
  [CtStatus.SeenReply, 'seen-reply'],
  [CtStatus.Assured, 'assured'],
  [CtStatus.Confirmed, 'confirmed'],
  [CtStatus.SrcNat, 'snat'],
  [CtStatus.DstNat, 'dnat'],
  [CtStatus.Replicated, 'replicated'],
  [CtStatus.LocalIn, 'to-node'],
  [CtStatus.LocalOut, 'from-node'],
  // Only in listings of the node's own table (ct-query.ts): snapshots for sync leave it out.
  [CtStatus.Offload, 'offload'],
];

function tuple(s: CtSnapshot, src: Uint8Array, dst: Uint8Array, sport: number, dport: number): CtTupleJson {
  const n = s.family === 4 ? 4 : 16;
  const t: CtTupleJson = { src: formatAddress(src, 0, n), dst: formatAddress(dst, 0, n) };
  if (s.proto === 1 || s.proto === 58) {
    t.type = dport >> 8;
    t.code = dport & 0xff;
    t.id = sport;
  } else if (s.proto === 6 || s.proto === 17) {
    t.sport = sport;
    t.dport = dport;
  }
  return t;
}

export function snapshotToJson(s: CtSnapshot): CtEntryJson {
  const out: CtEntryJson = {
    family: s.family === 4 ? 'ip' : 'ip6',
    proto: s.proto,
    zone: s.zone,
    original: tuple(s, s.origSrc, s.origDst, s.origSport, s.origDport),
    reply: tuple(s, s.replySrc, s.replyDst, s.replySport, s.replyDport),
    status: STATUS_NAMES.filter(([bit]) => (s.status & bit) !== 0).map(([, name]) => name),
    mark: s.mark,
    timeoutSeconds: Math.ceil(s.timeoutMs / 1000),
    replicated: s.replicated,
  };
  if (s.proto === 6) out.tcpState = TCP_STATE_NAMES[s.tcpState] ?? String(s.tcpState);
  return out;
}
