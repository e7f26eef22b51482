/**
 * Connection-table queries for the API and CLI (`GET /v1/ct`, `hafw ct list`): the filter
 * an operator gives (like conntrack -L's -s/-d/--sport/--dport/-p/--state options), and
 * its evaluation against the table in the datapath thread, which owns it.
 *
 * A query is plain JSON (it crosses postMessage). Evaluation walks the table once; it is
 * O(capacity), fine for an operator's request, never on the per-packet path. A listing is
 * always bounded (`limit`, at most MAX_LIMIT) and resumable with `after` (the last id seen).
 */
import { CtSnapshot, TCP_STATE_NAMES } from './ct-types.js';
import type { ConnTracker } from './tracker.js';
import { snapshotToJson, type CtEntryJson } from './ct-format.js';
import { parseAddress } from '../packet/address.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10000;

/** Protocol names accepted in filters (IANA protocol numbers). */
export const PROTO_NUMBERS: Readonly<Record<string, number>> = { icmp: 1, tcp: 6, udp: 17, gre: 47, esp: 50, icmpv6: 58, sctp: 132 };

export interface CtFilter {
  family?: 4 | 6;
  proto?: number;
  /** Original-direction source / destination address (conntrack -s / -d). */
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  /** TCP state name, upper case (ESTABLISHED, TIME_WAIT, ...). */
  state?: string;
  /** local: this node's own flows; replicated: copies of a peer's, received through sync. */
  origin?: 'local' | 'replicated';
}

export interface CtTupleQuery {
  family?: 4 | 6;
  proto: number;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  zone?: number;
}

export type CtOp =
  | { op: 'list'; filter: CtFilter; limit: number; after?: number }
  | { op: 'get'; id: number }
  | { op: 'lookup'; tuple: CtTupleQuery }
  | { op: 'delete'; id?: number; tuple?: CtTupleQuery }
  | { op: 'flush'; filter: CtFilter };

/** An entry as listed: the conntrack-style JSON plus its id (table slot, valid while the entry lives). */
export type CtListedEntry = CtEntryJson & { id: number };

export interface CtOpResult {
  entries: CtListedEntry[];
  /** list: the id to pass as `after` for the next page; absent when this page is the last. */
  next?: number;
  /** delete / flush: entries deleted. */
  deleted: number;
}

/** A bad filter value; `field` names it (the query parameter). */
export class CtQueryError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export function protoNumber(v: string | number, field = 'proto'): number {
  if (typeof v === 'number') return v;
  const named = PROTO_NUMBERS[v.toLowerCase()];
  if (named !== undefined) return named;
  const n = Number(v);
  if (v.trim() !== '' && Number.isInteger(n) && n >= 0 && n <= 255) return n;
  throw new CtQueryError(field, `${field} must be a protocol name (${Object.keys(PROTO_NUMBERS).join(', ')}) or number 0-255, not '${v}'`);
}

function addressBytes(text: string, field: string): { family: 4 | 6; bytes: Uint8Array } {
  try {
    const a = parseAddress(text);
    const bytes = new Uint8Array(16);
    bytes.set(a.bytes.subarray(0, a.family === 4 ? 4 : 16));
    return { family: a.family as 4 | 6, bytes };
  } catch {
    throw new CtQueryError(field, `${field} must be an IPv4 or IPv6 address, not '${text}'`);
  }
}

/** Checks and normalises a filter (throws CtQueryError naming the bad field). */
export function checkFilter(f: CtFilter): CtFilter {
  if (f.src !== undefined) addressBytes(f.src, 'src');
  if (f.dst !== undefined) addressBytes(f.dst, 'dst');
  if (f.state !== undefined) {
    const s = f.state.toUpperCase();
    if (!TCP_STATE_NAMES.includes(s)) throw new CtQueryError('state', `state must be a TCP state (${TCP_STATE_NAMES.join(', ')}), not '${f.state}'`);
    return { ...f, state: s };
  }
  return f;
}

/** A filter compiled to bytes and numbers once, then matched against snapshots. */
export class CtMatcher {
  private readonly src?: Uint8Array;
  private readonly dst?: Uint8Array;
  private readonly srcFamily?: number;
  private readonly dstFamily?: number;
  private readonly tcpState: number;

  constructor(private readonly f: CtFilter) {
    if (f.src !== undefined) ({ family: this.srcFamily, bytes: this.src } = addressBytes(f.src, 'src'));
    if (f.dst !== undefined) ({ family: this.dstFamily, bytes: this.dst } = addressBytes(f.dst, 'dst'));
    this.tcpState = f.state === undefined ? -1 : TCP_STATE_NAMES.indexOf(f.state.toUpperCase());
  }

  matches(s: CtSnapshot): boolean {
    const f = this.f;
    if (f.family !== undefined && s.family !== f.family) return false;
    if (f.proto !== undefined && s.proto !== f.proto) return false;
    if (f.sport !== undefined && s.origSport !== f.sport) return false;
    if (f.dport !== undefined && s.origDport !== f.dport) return false;
    if (this.tcpState >= 0 && (s.proto !== 6 || s.tcpState !== this.tcpState)) return false;
    if (f.origin !== undefined && s.replicated !== (f.origin === 'replicated')) return false;
    if (this.src && !sameAddress(s.family, s.origSrc, this.srcFamily!, this.src)) return false;
    if (this.dst && !sameAddress(s.family, s.origDst, this.dstFamily!, this.dst)) return false;
    return true;
  }
}

function sameAddress(fam: number, a: Uint8Array, wantFam: number, b: Uint8Array): boolean {
  if (fam !== wantFam) return false;
  const n = fam === 4 ? 4 : 16;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

function tupleEntry(ct: ConnTracker, q: CtTupleQuery): number {
  const src = addressBytes(q.src, 'src');
  const dst = addressBytes(q.dst, 'dst');
  if (src.family !== dst.family) throw new CtQueryError('dst', 'src and dst must be of the same family');
  if (q.family !== undefined && q.family !== src.family) throw new CtQueryError('family', `family ${q.family} does not match the addresses`);
  return ct.lookupTuple({ family: src.family, proto: q.proto, zone: q.zone ?? 0, origSrc: src.bytes, origDst: dst.bytes, origSport: q.sport ?? 0, origDport: q.dport ?? 0 });
}

/**
 * Runs one operation on the table. Deletes go through ct.delete, which emits Destroy: the
 * sync bridge announces it, so the peer deletes its replica too (a deleted replica is only
 * removed here: its owner still has the flow).
 */
export function runCtOp(ct: ConnTracker, op: CtOp, nowMs?: number): CtOpResult {
  const snap = new CtSnapshot();
  const json = (e: number): CtListedEntry => {
    const s = ct.snapshot(e, snap, nowMs);
    // The listing shows the node's own status bits too: `offload` (a flowtable forwards it), as conntrack -L shows [OFFLOAD].
    s.status = ct.getStatus(e);
    return { id: e, ...snapshotToJson(s) };
  };
  switch (op.op) {
    case 'list': {
      const m = new CtMatcher(op.filter);
      const limit = Math.max(1, Math.min(op.limit, MAX_LIMIT));
      const entries: CtListedEntry[] = [];
      const cap = ct.capacity;
      for (let e = op.after === undefined ? 0 : op.after + 1; e < cap; e++) {
        if (!ct.isLive(e) || !m.matches(ct.snapshot(e, snap, nowMs))) continue;
        if (entries.length === limit) return { entries, next: entries[entries.length - 1]!.id, deleted: 0 };
        entries.push({ id: e, ...snapshotToJson(snap) });
      }
      return { entries, deleted: 0 };
    }
    case 'get':
      return { entries: ct.isLive(op.id) ? [json(op.id)] : [], deleted: 0 };
    case 'lookup': {
      const e = tupleEntry(ct, op.tuple);
      return { entries: e >= 0 ? [json(e)] : [], deleted: 0 };
    }
    case 'delete': {
      const e = op.tuple ? tupleEntry(ct, op.tuple) : (op.id ?? -1);
      if (e < 0 || !ct.isLive(e)) return { entries: [], deleted: 0 };
      const entry = json(e);
      return { entries: [entry], deleted: ct.delete(e) ? 1 : 0 };
    }
    case 'flush': {
      const m = new CtMatcher(op.filter);
      const f = op.filter;
      if (Object.values(f).every((v) => v === undefined)) return { entries: [], deleted: ct.flush() };
      let n = 0;
      ct.forEach((e) => {
        if (m.matches(ct.snapshot(e, snap, nowMs)) && ct.delete(e)) n++;
      });
      return { entries: [], deleted: n };
    }
  }
}
