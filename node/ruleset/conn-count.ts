/**
 * `ct count [over] N` (nft's connlimit): the number of tracked connections that passed
 * through one statement (a rule's, or one dynamic set element's), as the kernel's
 * nf_conncount keeps it. Each packet adds its connection once (a connection is known by its
 * conntrack slot and a fingerprint of its original tuple, so a slot reused by another
 * connection is a new one); connections that ended (entry gone, or TCP in TIME_WAIT/CLOSE,
 * which nf_conncount skips) are dropped from the count as they are found.
 *
 * Cost per packet: O(1) for a known connection plus a few entries' garbage collection; a
 * full pass only when the count is over the limit (to decide on live connections alone),
 * at most once per millisecond. Memory: one entry per counted connection, bounded by the
 * conntrack table.
 */
import type { ClassifyContext, CtEntryReader } from './context.js';
import { CT_STATE_IN_CONNECTION } from '../ct-state/index.js';

/** TcpState.TimeWait and TcpState.Close (conntrack/ct-types.ts): ended for nf_conncount. */
const TCP_TIME_WAIT = 7;
const TCP_CLOSE = 8;
/** Entries checked per packet by the incremental collection. */
const GC_STEP = 8;

const tupleScratch = new Uint32Array(8);

/** A 32-bit fingerprint of the entry's original tuple (addresses and ports). */
function fingerprint(r: CtEntryReader, e: number): number {
  const words = r.entryFamily(e) === 6 ? 4 : 1;
  r.tupleAddr(e, 0, 0, tupleScratch, 0, words);
  r.tupleAddr(e, 0, 1, tupleScratch, 4, words);
  let h = 0x9747b28c ^ words;
  for (let i = 0; i < words; i++) {
    h = Math.imul(h ^ tupleScratch[i], 0x01000193);
    h = Math.imul(h ^ tupleScratch[4 + i], 0x01000193);
  }
  h = Math.imul(h ^ ((r.tuplePort(e, 0, 0) << 16) | r.tuplePort(e, 0, 1)), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

export class ConnCount {
  private readonly slots: number[] = [];
  private readonly prints: number[] = [];
  /** Conntrack slot -> position in slots/prints. */
  private readonly at = new Map<number, number>();
  private cursor = 0;
  private lastFullGc = -1;

  get count(): number {
    return this.slots.length;
  }

  /**
   * Adds the packet's connection and returns the count, or -1 when the packet has no
   * conntrack entry (untracked, invalid, no conntrack): nothing to count.
   */
  add(ctx: ClassifyContext, limit: number): number {
    const r = ctx.ctReader;
    const e = ctx.ctEntry;
    if (r === null || e < 0 || (ctx.ctState & CT_STATE_IN_CONNECTION) === 0) return -1;
    const fp = fingerprint(r, e);
    const pos = this.at.get(e);
    if (pos === undefined) {
      this.at.set(e, this.slots.length);
      this.slots.push(e);
      this.prints.push(fp);
    } else if (this.prints[pos] !== fp) {
      // The slot holds another connection now: the old one is gone, this one takes its place.
      this.prints[pos] = fp;
    }
    this.gc(r, e, GC_STEP);
    if (this.slots.length > limit && ctx.nowMs !== this.lastFullGc) {
      this.lastFullGc = ctx.nowMs;
      this.gc(r, e, this.slots.length);
    }
    return this.slots.length;
  }

  /** Checks up to n entries (from a rotating cursor), dropping those whose connection ended; never `keep`. */
  private gc(r: CtEntryReader, keep: number, n: number): void {
    for (let k = 0; k < n && this.slots.length > 0; k++) {
      if (this.cursor >= this.slots.length) this.cursor = 0;
      const i = this.cursor;
      const e = this.slots[i];
      if (e !== keep && !alive(r, e, this.prints[i])) this.removeAt(i);
      else this.cursor++;
    }
  }

  private removeAt(i: number): void {
    const last = this.slots.length - 1;
    this.at.delete(this.slots[i]);
    if (i !== last) {
      this.slots[i] = this.slots[last];
      this.prints[i] = this.prints[last];
      this.at.set(this.slots[i], i);
    }
    this.slots.pop();
    this.prints.pop();
  }
}

function alive(r: CtEntryReader, e: number, fp: number): boolean {
  if (r.inUse !== undefined && !r.inUse(e)) return false;
  if (fingerprint(r, e) !== fp) return false;
  const st = r.getTcpState?.(e) ?? 0;
  return st !== TCP_TIME_WAIT && st !== TCP_CLOSE;
}
