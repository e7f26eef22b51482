/**
 * Expectations: connections a helper announced (an FTP data connection), waiting for their
 * first packet. A new TCP connection from `src` to `dst` port `dport` (any source port) that
 * matches one is related to its master connection (`ct state related`) and takes the
 * expectation away, as Linux's nf_conntrack_expect does.
 *
 * Bounded as in Linux: each master holds at most one (nf_conntrack_ftp's max_expected 1: a
 * newer announcement replaces the older), each lives EXPECT_TIMEOUT_MS (its helper's 5
 * minutes), the table holds at most `cap` (nf_ct_expect_max): when full, a new one is
 * refused and counted. Storage is allocated once; a lookup reads one bucket per port.
 */
import { CtStats } from './ct-types.js';

/** nf_conntrack_ftp's expectation timeout: 5 minutes. */
export const EXPECT_TIMEOUT_MS = 300_000;

export class Expectations {
  readonly cap: number;
  private readonly family: Uint8Array;
  private readonly src: Uint8Array;
  private readonly dst: Uint8Array;
  private readonly dport: Uint16Array;
  private readonly master: Int32Array;
  private readonly expires: Float64Array;
  private readonly nextFree: Int32Array;
  private freeHead = 0;
  private live = 0;
  /** Expectations by destination port (few per port). */
  private readonly byPort = new Map<number, number[]>();
  /** A master's expectation (one each). */
  private readonly byMaster = new Map<number, number>();

  constructor(cap: number, private readonly stats: CtStats) {
    this.cap = cap;
    this.family = new Uint8Array(cap);
    this.src = new Uint8Array(16 * cap);
    this.dst = new Uint8Array(16 * cap);
    this.dport = new Uint16Array(cap);
    this.master = new Int32Array(cap).fill(-1);
    this.expires = new Float64Array(cap);
    this.nextFree = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.nextFree[i] = i + 1 < cap ? i + 1 : -1;
    if (cap === 0) this.freeHead = -1;
  }

  count(): number {
    return this.live;
  }

  /**
   * Expects a connection from src to dst:dport (addresses of `alen` bytes at the offsets)
   * for master entry `master`, replacing the master's earlier one. False when the table is full.
   */
  add(master: number, family: number, src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, alen: number, dport: number, now: number): boolean {
    const old = this.byMaster.get(master);
    if (old !== undefined) this.remove(old);
    if (this.freeHead < 0) this.expire(now);
    const i = this.freeHead;
    if (i < 0) {
      this.stats.expectFull++;
      return false;
    }
    this.freeHead = this.nextFree[i]!;
    this.family[i] = family;
    this.src.fill(0, 16 * i, 16 * i + 16);
    this.dst.fill(0, 16 * i, 16 * i + 16);
    this.src.set(src.subarray(srcOff, srcOff + alen), 16 * i);
    this.dst.set(dst.subarray(dstOff, dstOff + alen), 16 * i);
    this.dport[i] = dport;
    this.master[i] = master;
    this.expires[i] = now + EXPECT_TIMEOUT_MS;
    let b = this.byPort.get(dport);
    if (b === undefined) this.byPort.set(dport, (b = []));
    b.push(i);
    this.byMaster.set(master, i);
    this.live++;
    this.stats.expectCreated++;
    return true;
  }

  /**
   * The expectation a new connection (family, addresses at the offsets, dport) matches, taken
   * away; its master entry, or -1. Expired ones met on the way are removed.
   */
  take(family: number, buf: Uint8Array, srcOff: number, dstOff: number, alen: number, dport: number, now: number): number {
    if (this.live === 0) return -1;
    const b = this.byPort.get(dport);
    if (b === undefined) return -1;
    for (let k = b.length - 1; k >= 0; k--) {
      const i = b[k]!;
      if (this.expires[i]! <= now) {
        this.stats.expectExpired++;
        this.remove(i);
        continue;
      }
      if (this.family[i] !== family || !same(this.src, 16 * i, buf, srcOff, alen) || !same(this.dst, 16 * i, buf, dstOff, alen)) continue;
      const m = this.master[i]!;
      this.remove(i);
      this.stats.expectMatched++;
      return m;
    }
    return -1;
  }

  /** Forgets a master's expectation (the master is gone, as Linux's nf_ct_remove_expectations). */
  removeMaster(master: number): void {
    const i = this.byMaster.get(master);
    if (i !== undefined) this.remove(i);
  }

  /** Removes expired expectations (a periodic sweep; bounded by cap); returns how many went. */
  expire(now: number): number {
    let n = 0;
    // Deleting the current key while iterating a Map is allowed (the iteration goes on).
    for (const i of this.byMaster.values()) {
      if (this.expires[i]! <= now) {
        this.remove(i);
        this.stats.expectExpired++;
        n++;
      }
    }
    return n;
  }

  /** The live expectation of a master: its dport, or -1 (tests, listings). */
  portOf(master: number): number {
    const i = this.byMaster.get(master);
    return i === undefined ? -1 : this.dport[i]!;
  }

  private remove(i: number): void {
    const b = this.byPort.get(this.dport[i]!)!;
    const k = b.indexOf(i);
    b.splice(k, 1);
    if (b.length === 0) this.byPort.delete(this.dport[i]!);
    if (this.byMaster.get(this.master[i]!) === i) this.byMaster.delete(this.master[i]!);
    this.master[i] = -1;
    this.nextFree[i] = this.freeHead;
    this.freeHead = i;
    this.live--;
  }
}

function same(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (a[ao + k] !== b[bo + k]) return false;
  return true;
}
