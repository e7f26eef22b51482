/**
 * Set and map structures, chosen by what the key needs (no one
 * structure fits every key):
 *  - HashKeySet: exact keys of any width (one word for ports/marks/IPv4, four for IPv6,
 *    the sum for a concatenation). Open addressing with linear probing at load <= 1/2,
 *    so a lookup is O(1) whatever the set size.
 *  - IntervalSet: ranges and prefixes of a single key (a prefix is the range it covers).
 *    Disjoint sorted intervals, binary search: O(log n).
 *  - BoxSet: concatenations with ranges in some component: per-component range checks,
 *    scanned linearly (documented limit; exact concatenations use the hash).
 * Keys are uint32 words; lookups take the key in a caller-owned scratch array, so a
 * lookup allocates nothing. Each element has an index; maps keep data per index,
 * timeouts keep an absolute expiry (ms, 0 = never) per index.
 *
 * A HashKeySet also takes elements from the packet path (`add @s`, `update @s`, meters:
 * addDynamic), capped at the set's size, with per-element stateful statements (ElemExprs).
 * Those elements live only in the structure of the engine that classifies packets (the
 * datapath thread's): no transaction knows them, so listings read them from here.
 */
import type { ClassifyContext } from './context.js';

export interface SetElementSpec {
  lo: Uint32Array;
  hi: Uint32Array;
  /** Absolute expiry in ms (same clock as ctx.nowMs), 0 = never. */
  expires: number;
  /** Map data (verdict code or value); 0 for plain sets. */
  data: number;
  /** The element's own stateful statements (`counter`, `limit`...), compiled; absent: none. */
  exprs?: ElemExprs;
}

/**
 * An element's stateful statements (nft's per-element expressions): what a dynset statement
 * gave it when it was added from the packet path, or what its declaration listed. `run` is
 * their compiled form (0: all matched; otherwise the rule stops); `stmts` the templates and
 * `cells` the counters and quotas, for listings (live-cells.ts).
 */
export interface ElemExprs {
  readonly stmts: readonly Record<string, unknown>[];
  readonly cells: readonly { packets: number; bytes: number }[];
  run(ctx: ClassifyContext): number;
}

/** A full set frees its expired packet-path elements at most this often (an O(capacity) pass). */
const SWEEP_INTERVAL_MS = 1000;

export interface CompiledSet {
  readonly words: number;
  readonly size: number;
  /** Element index of the match, or -1. */
  lookup(key: Uint32Array, off: number, nowMs: number): number;
  dataOf(index: number): number;
}

/** Lexicographic compare of two keys of `w` words. */
function cmp(a: Uint32Array, ao: number, b: Uint32Array, bo: number, w: number): number {
  for (let i = 0; i < w; i++) {
    const x = a[ao + i];
    const y = b[bo + i];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function hashKey(k: Uint32Array, off: number, w: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < w; i++) {
    h = Math.imul(h ^ k[off + i], 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
  }
  return (h ^ (h >>> 13)) >>> 0;
}

export class HashKeySet implements CompiledSet {
  private cap = 8;
  private keys: Uint32Array;
  /** Slot -> element index, -1 empty. */
  private slots: Int32Array;
  private readonly data: number[] = [];
  private readonly expires: number[] = [];
  private readonly free: number[] = [];
  private count = 0;
  /** Per element index: its stateful statements (ElemExprs), or undefined. */
  private readonly exprs: (ElemExprs | undefined)[] = [];
  /** Per element index: 1 when the packet path added it (it is in no transaction's state). */
  private readonly dyn: number[] = [];
  /** Per element index: the timeout (ms) the packet path gave it, 0 for none. */
  private readonly tmo: number[] = [];
  /** Elements the packet path added, still held (expired ones included until swept). */
  private dynCount = 0;
  /** No dynamic element expires before this (a lower bound; exact after a sweep). */
  private minExpiry = Number.POSITIVE_INFINITY;
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(readonly words: number, expected = 0) {
    while (this.cap < expected * 2) this.cap <<= 1;
    this.keys = new Uint32Array(this.cap * words);
    this.slots = new Int32Array(this.cap).fill(-1);
  }

  get size(): number {
    return this.count;
  }

  lookup(key: Uint32Array, off: number, nowMs: number): number {
    const w = this.words;
    const mask = this.cap - 1;
    let s = hashKey(key, off, w) & mask;
    for (;;) {
      const e = this.slots[s];
      if (e < 0) return -1;
      if (cmp(this.keys, s * w, key, off, w) === 0) {
        const x = this.expires[e];
        return x !== 0 && nowMs >= x ? -1 : e;
      }
      s = (s + 1) & mask;
    }
  }

  dataOf(index: number): number {
    return this.data[index];
  }

  /** Adds or updates (same key: new data/expiry/exprs). Returns the element index. */
  add(key: Uint32Array, data: number, expires: number, exprs?: ElemExprs): number {
    if ((this.count + 1) * 2 > this.cap) this.grow();
    const w = this.words;
    const mask = this.cap - 1;
    let s = hashKey(key, 0, w) & mask;
    for (;;) {
      const e = this.slots[s];
      if (e < 0) break;
      if (cmp(this.keys, s * w, key, 0, w) === 0) {
        this.data[e] = data;
        this.expires[e] = expires;
        // A transaction's element replaces one the packet path added: it is static from now on.
        if (this.dyn[e] === 1) this.dynCount--;
        this.dyn[e] = 0;
        this.exprs[e] = exprs;
        return e;
      }
      s = (s + 1) & mask;
    }
    const idx = this.free.length > 0 ? this.free.pop()! : this.data.length;
    this.data[idx] = data;
    this.expires[idx] = expires;
    this.dyn[idx] = 0;
    this.exprs[idx] = exprs;
    this.slots[s] = idx;
    this.keys.set(key.subarray(0, w), s * w);
    this.count++;
    return idx;
  }

  /**
   * The packet path's add (nft's dynset): the key's element index, adding it when absent
   * with `expires` and the exprs `make` gives. A held element that has expired is replaced
   * as if new (fresh statements). -1 when the set holds `cap` elements already (after
   * freeing expired ones): the kernel's "set full", where the rule does not match.
   * `created` tells the caller whether the element is new. `data`: a map's data for a new
   * element (`update @m { KEY : DATA }`); a held element keeps its data, as in the kernel,
   * whose dynset writes the data only when it creates the element.
   */
  addDynamic(key: Uint32Array, expires: number, nowMs: number, cap: number, make: (() => ElemExprs) | undefined, data = 0): number {
    const e = this.lookupAny(key);
    if (e >= 0) {
      const x = this.expires[e];
      if (x === 0 || nowMs < x) {
        this.created = false;
        return e;
      }
      // Expired but not yet swept: the same key comes back as a new element.
      this.expires[e] = expires;
      this.data[e] = data;
      this.tmo[e] = expires === 0 ? 0 : expires - nowMs;
      this.exprs[e] = make?.();
      if (this.dyn[e] !== 1) this.dynCount++;
      this.dyn[e] = 1;
      this.noteExpiry(expires);
      this.created = true;
      return e;
    }
    if (this.count >= cap) {
      // Full: free the expired ones, at most once a second (the kernel's set garbage
      // collection runs on an interval too; until it does, expired elements still count).
      if (nowMs < this.minExpiry || nowMs - this.lastSweep < SWEEP_INTERVAL_MS) return -1;
      this.lastSweep = nowMs;
      if (this.sweepExpired(nowMs) === 0 || this.count >= cap) return -1;
    }
    const idx = this.add(key, data, expires, make?.());
    this.dyn[idx] = 1;
    this.tmo[idx] = expires === 0 ? 0 : expires - nowMs;
    this.dynCount++;
    this.noteExpiry(expires);
    this.created = true;
    return idx;
  }

  /**
   * `delete @s { KEY }` (the kernel's dynset delete): removes the key, whoever added it.
   * A transaction's element removed here is counted (staticDeleted), so listings, which
   * take the committed elements from the control state, know to ask this structure.
   */
  deleteFromPacket(key: Uint32Array): void {
    const e = this.lookupAny(key);
    if (e < 0) return;
    if (this.dyn[e] !== 1) this.staticDeleted++;
    this.delete(key);
  }

  /** Committed (transaction) elements the packet path has deleted since this structure was built. */
  staticDeleted = 0;

  /** Whether the last addDynamic made a new element. */
  created = false;

  private noteExpiry(expires: number): void {
    if (expires !== 0 && expires < this.minExpiry) this.minExpiry = expires;
  }

  /** Element index of the key, expired or not, or -1. */
  private lookupAny(key: Uint32Array): number {
    const w = this.words;
    const mask = this.cap - 1;
    let s = hashKey(key, 0, w) & mask;
    for (;;) {
      const e = this.slots[s];
      if (e < 0 || cmp(this.keys, s * w, key, 0, w) === 0) return e;
      s = (s + 1) & mask;
    }
  }

  /**
   * Frees the packet path's elements whose timeout has passed; returns how many. O(capacity):
   * addDynamic calls it only when the set is full, some element may have expired
   * (minExpiry) and a second has passed since the last pass, so a flood against a full set
   * costs one pass a second, not one per packet.
   */
  sweepExpired(nowMs: number): number {
    const w = this.words;
    const gone: Uint32Array[] = [];
    let min = Number.POSITIVE_INFINITY;
    for (let s = 0; s < this.cap; s++) {
      const e = this.slots[s];
      if (e < 0 || this.dyn[e] !== 1) continue;
      const x = this.expires[e];
      if (x === 0) continue;
      if (nowMs >= x) gone.push(this.keys.slice(s * w, s * w + w));
      else if (x < min) min = x;
    }
    for (const k of gone) this.delete(k);
    this.minExpiry = min;
    return gone.length;
  }

  /** Elements the packet path added and still holds. */
  get dynamicCount(): number {
    return this.dynCount;
  }

  /** The timeout (ms) the packet path gave the element; 0 for none or a static element. */
  timeoutOf(index: number): number {
    return this.dyn[index] === 1 ? this.tmo[index] : 0;
  }

  expiresOf(index: number): number {
    return this.expires[index];
  }

  /** `update @s`: a new expiry for a held element. */
  setExpires(index: number, expires: number): void {
    this.expires[index] = expires;
  }

  exprsOf(index: number): ElemExprs | undefined {
    return this.exprs[index];
  }

  isDynamic(index: number): boolean {
    return this.dyn[index] === 1;
  }

  /** The element index of a key (expired or not), for listings; -1 when absent. */
  indexOf(key: Uint32Array): number {
    return this.lookupAny(key);
  }

  /** Calls cb with each element's index and its key words (keys[off..off+words)), in slot order. */
  forEachElement(cb: (index: number, keys: Uint32Array, off: number) => void): void {
    for (let s = 0; s < this.cap; s++) {
      const e = this.slots[s];
      if (e >= 0) cb(e, this.keys, s * this.words);
    }
  }

  /** Removes a key; returns false when it was absent. Backward-shift deletion keeps probes short. */
  delete(key: Uint32Array): boolean {
    const w = this.words;
    const mask = this.cap - 1;
    let s = hashKey(key, 0, w) & mask;
    for (;;) {
      const e = this.slots[s];
      if (e < 0) return false;
      if (cmp(this.keys, s * w, key, 0, w) === 0) break;
      s = (s + 1) & mask;
    }
    const gone = this.slots[s];
    this.free.push(gone);
    if (this.dyn[gone] === 1) this.dynCount--;
    this.dyn[gone] = 0;
    this.exprs[gone] = undefined;
    this.slots[s] = -1;
    this.count--;
    let hole = s;
    let j = (s + 1) & mask;
    while (this.slots[j] >= 0) {
      const home = hashKey(this.keys, j * w, w) & mask;
      // Move j into the hole when its home is not cyclically in (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        this.slots[hole] = this.slots[j];
        this.keys.copyWithin(hole * w, j * w, j * w + w);
        this.slots[j] = -1;
        hole = j;
      }
      j = (j + 1) & mask;
    }
    return true;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldSlots = this.slots;
    const oldCap = this.cap;
    const w = this.words;
    this.cap <<= 1;
    this.keys = new Uint32Array(this.cap * w);
    this.slots = new Int32Array(this.cap).fill(-1);
    const mask = this.cap - 1;
    for (let i = 0; i < oldCap; i++) {
      const e = oldSlots[i];
      if (e < 0) continue;
      let s = hashKey(oldKeys, i * w, w) & mask;
      while (this.slots[s] >= 0) s = (s + 1) & mask;
      this.slots[s] = e;
      this.keys.set(oldKeys.subarray(i * w, i * w + w), s * w);
    }
  }
}

export class IntervalSet implements CompiledSet {
  private readonly lo: Uint32Array;
  private readonly hi: Uint32Array;
  private readonly data: Float64Array;
  private readonly expires: Float64Array;
  readonly size: number;

  /**
   * Throws a message string when two intervals overlap (nft refuses them too), unless
   * `merge` (the set's auto-merge): then overlapping elements match as their union.
   */
  constructor(readonly words: number, elems: SetElementSpec[], merge = false) {
    const w = words;
    let sorted = elems.slice().sort((a, b) => cmp(a.lo, 0, b.lo, 0, w));
    if (merge) sorted = mergeOverlaps(sorted, w);
    this.size = sorted.length;
    this.lo = new Uint32Array(sorted.length * w);
    this.hi = new Uint32Array(sorted.length * w);
    this.data = new Float64Array(sorted.length);
    this.expires = new Float64Array(sorted.length);
    sorted.forEach((e, i) => {
      if (i > 0 && cmp(sorted[i - 1].hi, 0, e.lo, 0, w) >= 0) throw 'conflicting intervals in set';
      this.lo.set(e.lo.subarray(0, w), i * w);
      this.hi.set(e.hi.subarray(0, w), i * w);
      this.data[i] = e.data;
      this.expires[i] = e.expires;
    });
  }

  lookup(key: Uint32Array, off: number, nowMs: number): number {
    const w = this.words;
    let a = 0;
    let b = this.size - 1;
    let found = -1;
    while (a <= b) {
      const m = (a + b) >>> 1;
      if (cmp(this.lo, m * w, key, off, w) <= 0) {
        found = m;
        a = m + 1;
      } else b = m - 1;
    }
    if (found < 0 || cmp(key, off, this.hi, found * w, w) > 0) return -1;
    const x = this.expires[found];
    return x !== 0 && nowMs >= x ? -1 : found;
  }

  dataOf(index: number): number {
    return this.data[index];
  }
}

export class BoxSet implements CompiledSet {
  private readonly elems: SetElementSpec[];
  readonly size: number;

  /** `parts` are the word widths of the concatenation's components. */
  constructor(readonly words: number, private readonly parts: number[], elems: SetElementSpec[]) {
    this.elems = elems.slice();
    this.size = elems.length;
  }

  lookup(key: Uint32Array, off: number, nowMs: number): number {
    const parts = this.parts;
    outer: for (let i = 0; i < this.elems.length; i++) {
      const e = this.elems[i];
      let o = 0;
      for (let p = 0; p < parts.length; p++) {
        const w = parts[p];
        if (cmp(key, off + o, e.lo, o, w) < 0 || cmp(key, off + o, e.hi, o, w) > 0) continue outer;
        o += w;
      }
      if (e.expires !== 0 && nowMs >= e.expires) continue;
      return i;
    }
    return -1;
  }

  dataOf(index: number): number {
    return this.elems[index].data;
  }
}

/**
 * Sorted intervals with every overlapping run joined into one (nft's auto-merge). Elements
 * that expire at different times are not joined: one timing out would take the other's
 * part with it, so they stay a conflict.
 */
function mergeOverlaps(sorted: SetElementSpec[], w: number): SetElementSpec[] {
  const out: SetElementSpec[] = [];
  for (const e of sorted) {
    const prev = out[out.length - 1];
    if (prev && cmp(prev.hi, 0, e.lo, 0, w) >= 0 && prev.expires === e.expires && prev.data === e.data) {
      if (cmp(e.hi, 0, prev.hi, 0, w) > 0) out[out.length - 1] = { ...prev, hi: e.hi };
      continue;
    }
    out.push(e);
  }
  return out;
}

/**
 * Builds the structure the elements need. Throws a message string on conflicting intervals
 * (with `merge`, the set's auto-merge, overlapping intervals are joined instead).
 */
export function buildSet(parts: number[], elems: SetElementSpec[], interval: boolean, merge = false): CompiledSet {
  const words = parts.reduce((a, b) => a + b, 0);
  const exact = elems.every((e) => cmp(e.lo, 0, e.hi, 0, words) === 0);
  if (exact && !interval) {
    const h = new HashKeySet(words, elems.length);
    for (const e of elems) h.add(e.lo, e.data, e.expires, e.exprs);
    return h;
  }
  if (exact) {
    // interval-flagged set holding only single values: the hash is still right and O(1).
    const h = new HashKeySet(words, elems.length);
    for (const e of elems) h.add(e.lo, e.data, e.expires, e.exprs);
    return h;
  }
  if (parts.length === 1) return new IntervalSet(words, elems, merge);
  return new BoxSet(words, parts, elems);
}
