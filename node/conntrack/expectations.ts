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
 *
 * On a NATed control connection an expectation also carries the data connection's
 * translation (ExpectNat, filled by NAT's part of the helper, nat/ftp-nat.ts) and the port
 * NAT reserved for it: the port is given back when the expectation goes unused (expired,
 * replaced, its master gone), and passes to the data connection that takes it.
 */
import { CtStats } from './ct-types.js';

/** Bits of ExpectNat.flags. */
export const enum ExpectNatFlag {
  /**
   * The control connection is NATed: the data connection's translation is decided by the
   * expectation, not by the nat chains (Linux's nf_nat_follow_master), even when it is none.
   */
  Decided = 1,
  /** The data connection's destination becomes natDst:natDport (the announcer's own address and port). */
  Dst = 2,
  /** Its source becomes natSrc (the address the announcer knows the other end by). */
  Src = 4,
}

/** A port NAT holds for an expected connection's destination (a NAT port pool). */
export interface ExpectPortHold {
  release(port: number): boolean;
}

/** The NAT part of an expectation: what add() is given and take() hands back (in `taken`). */
export class ExpectNat {
  /** ExpectNatFlag bits; 0: the control connection is not NATed. */
  flags = 0;
  readonly natDst = new Uint8Array(16);
  natDport = 0;
  readonly natSrc = new Uint8Array(16);
  /** Holds the expectation's dport on its destination address, or null; whoever has the ExpectNat owns it. */
  hold: ExpectPortHold | null = null;
  /** The port `hold` holds (the expectation's dport), set by take(). */
  holdPort = 0;
  /** The entry that took it (set by the tracker); -1 when none. */
  entry = -1;

  clear(): void {
    this.flags = 0;
    this.natDport = 0;
    this.hold = null;
    this.holdPort = 0;
    this.entry = -1;
  }
}

/** What describe() writes: an expectation as state sync carries it. */
export interface ExpectDescription {
  expectPort: number;
  expectMs: number;
  expectSrc: Uint8Array;
  expectDst: Uint8Array;
  expectNatFlags: number;
  expectNatDst: Uint8Array;
  expectNatDport: number;
  expectNatSrc: Uint8Array;
}

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
  // The NAT part (ExpectNat) of each.
  private readonly natFlags: Uint8Array;
  private readonly natDst: Uint8Array;
  private readonly natDport: Uint16Array;
  private readonly natSrc: Uint8Array;
  private readonly hold: (ExpectPortHold | null)[];
  /** What the last successful take() found (its hold now belongs to the taker). */
  readonly taken = new ExpectNat();
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
    this.natFlags = new Uint8Array(cap);
    this.natDst = new Uint8Array(16 * cap);
    this.natDport = new Uint16Array(cap);
    this.natSrc = new Uint8Array(16 * cap);
    this.hold = new Array<ExpectPortHold | null>(cap).fill(null);
    for (let i = 0; i < cap; i++) this.nextFree[i] = i + 1 < cap ? i + 1 : -1;
    if (cap === 0) this.freeHead = -1;
  }

  count(): number {
    return this.live;
  }

  /**
   * Expects a connection from src to dst:dport (addresses of `alen` bytes at the offsets)
   * for master entry `master`, replacing the master's earlier one, for `lifetimeMs` (at most
   * the helper's EXPECT_TIMEOUT_MS). `nat`: its NAT part (copied; its port hold is taken
   * over, and given back at once when refused). False when the table is full. `fromPeer`: a
   * replica's expectation (state sync), counted apart from the ones this node's helper made.
   */
  add(
    master: number, family: number, src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, alen: number, dport: number, now: number,
    nat: ExpectNat | null = null, lifetimeMs: number = EXPECT_TIMEOUT_MS, fromPeer = false,
  ): boolean {
    const old = this.byMaster.get(master);
    if (old !== undefined) this.remove(old);
    if (this.freeHead < 0) this.expire(now);
    const i = this.freeHead;
    if (i < 0) {
      if (fromPeer) this.stats.expectReplicaRefused++;
      else this.stats.expectFull++;
      nat?.hold?.release(dport);
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
    this.expires[i] = now + Math.min(lifetimeMs, EXPECT_TIMEOUT_MS);
    this.natFlags[i] = nat === null ? 0 : nat.flags;
    this.hold[i] = nat === null ? null : nat.hold;
    if (nat !== null) {
      this.natDst.set(nat.natDst, 16 * i);
      this.natSrc.set(nat.natSrc, 16 * i);
      this.natDport[i] = nat.natDport;
    }
    let b = this.byPort.get(dport);
    if (b === undefined) this.byPort.set(dport, (b = []));
    b.push(i);
    this.byMaster.set(master, i);
    this.live++;
    if (fromPeer) this.stats.expectReplicated++;
    else this.stats.expectCreated++;
    return true;
  }

  /**
   * A master's live expectation into `out` (state sync sends it with the master's record):
   * its port, remaining ms at `now`, addresses (16 bytes each, an IPv4 one in the first 4)
   * and NAT part (flags 0: none; its port hold stays here: the receiver reserves its own);
   * port 0 and zeros when it has none (or it expired).
   */
  describe(master: number, now: number, out: ExpectDescription): void {
    const i = this.byMaster.get(master);
    if (i === undefined || this.expires[i]! <= now) {
      out.expectPort = 0;
      out.expectMs = 0;
      out.expectSrc.fill(0);
      out.expectDst.fill(0);
      out.expectNatFlags = 0;
      out.expectNatDst.fill(0);
      out.expectNatDport = 0;
      out.expectNatSrc.fill(0);
      return;
    }
    out.expectPort = this.dport[i]!;
    out.expectMs = this.expires[i]! - now;
    out.expectSrc.set(this.src.subarray(16 * i, 16 * i + 16));
    out.expectDst.set(this.dst.subarray(16 * i, 16 * i + 16));
    const f = this.natFlags[i]!;
    out.expectNatFlags = f;
    // A part the flags do not use holds a former occupant's bytes: described as zeros.
    if ((f & ExpectNatFlag.Dst) !== 0) out.expectNatDst.set(this.natDst.subarray(16 * i, 16 * i + 16));
    else out.expectNatDst.fill(0);
    if ((f & ExpectNatFlag.Src) !== 0) out.expectNatSrc.set(this.natSrc.subarray(16 * i, 16 * i + 16));
    else out.expectNatSrc.fill(0);
    out.expectNatDport = (f & ExpectNatFlag.Dst) !== 0 ? this.natDport[i]! : 0;
  }

  /**
   * The expectation a new connection (family, addresses at the offsets, dport) matches, taken
   * away; its master entry, or -1. Its NAT part is in `taken` (the caller owns its port
   * hold from now on). Expired ones met on the way are removed.
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
      const x = this.taken;
      x.clear();
      x.flags = this.natFlags[i]!;
      x.natDst.set(this.natDst.subarray(16 * i, 16 * i + 16));
      x.natSrc.set(this.natSrc.subarray(16 * i, 16 * i + 16));
      x.natDport = this.natDport[i]!;
      x.hold = this.hold[i]!;
      x.holdPort = this.dport[i]!;
      this.hold[i] = null;
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

  /** Removes expectation i; a port still held for it goes back to its pool. */
  private remove(i: number): void {
    const h = this.hold[i];
    if (h !== null && h !== undefined) {
      this.hold[i] = null;
      h.release(this.dport[i]!);
    }
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
