/**
 * Struct-of-arrays storage for connection entries plus the keyed hash index.
 *
 * Entry e owns two tuples, v = 2e (original) and v = 2e + 1 (reply). The reply tuple is
 * stored, not derived, so NAT can later make it differ from the inverted original. Each
 * tuple is hashed with HalfSipHash-1-3 (random key) over ten words:
 *   src[4], dst[4], sport << 16 | dport, family << 24 | proto << 16 | zone
 * (IPv4 uses word 0 of each address and zeros elsewhere: one layout for both families).
 *
 * The index is open addressing with linear probing at load <= 0.5 (exactly 4 buckets per
 * entry), no tombstones (backward-shift deletion), and a cap on the probe distance: an
 * insert that would land farther than `maxProbe` from its home bucket is refused and
 * counted, so no key pattern can make a lookup cost more than maxProbe + 1 probes. The
 * home bucket is floor(h * buckets / 2^32) (multiply-shift), so the table size need not be
 * a power of two and memory stays proportional to maxEntries.
 *
 * Laid out for the cache: at 1M entries every array a lookup touches is a cache (and TLB)
 * miss, and those dependent misses, not the hash, were most of a lookup (profiled: ~800 ns
 * per packet when the compare read addr, port, family, proto and zone from five arrays
 * after reading the bucket from a sixth). A bucket is six adjacent words (24 bytes):
 *   [v + 1 (0: empty), hash, key word 0 (src), 4 (dst), 8 (ports), 9 (family/proto/zone)]
 * so a probe compares the hash tag and the words that tell IPv4 tuples apart without
 * leaving the bucket's line, and the next bucket is in the same or the adjacent line.
 * An IPv4 hit is one dependent miss; only IPv6 then reads address words 1-3 from `addr`.
 * IPv4 tuples keep address words 1-3 zero (link() enforces it), so the bucket decides for
 * them. The bucket words are copies made by link(): `addr`, `port`, `family`, `proto` and
 * `zone` stay the entry's data, and a tuple rewritten there needs relink() (as before).
 */
import { halfSipHash13Key10 } from './halfsiphash.js';

export const enum Slot {
  Free = 0,
  /** Allocated for a new connection that is not yet confirmed (not in the index). */
  Pending = 1,
  Live = 2,
}

/** Words per bucket of the index. */
const BUCKET = 6;

export class ConnTable {
  readonly cap: number;
  readonly maxProbe: number;
  private readonly k0: number;
  private readonly k1: number;

  // --- tuples, indexed by v = 2e + dir ---
  /** 8 words per tuple: src[0..3], dst[0..3]. */
  readonly addr: Uint32Array;
  /** 2 per tuple: sport, dport (ICMP: id, type << 8 | code). */
  readonly port: Uint16Array;
  readonly tupleHash: Uint32Array;

  // --- per entry ---
  readonly slot: Uint8Array;
  readonly family: Uint8Array;
  readonly proto: Uint8Array;
  readonly zone: Uint16Array;
  readonly status: Uint32Array;
  readonly mark: Uint32Array;
  /** Absolute expiry time (ms, same clock as track()). */
  readonly expires: Float64Array;
  /** UDP: end of the 2 s "is it a stream" window (Linux ct->proto.udp.stream_ts). */
  readonly aux: Float64Array;
  /** Time of the last Update event (rate limit). */
  readonly lastEvent: Float64Array;
  /** Time the entry was last written by applyReplica (0: never). */
  readonly replicaAt: Float64Array;

  // --- TCP, per entry (Linux struct ip_ct_tcp) ---
  readonly tcpState: Uint8Array;
  readonly lastIndex: Uint8Array;
  readonly lastDir: Uint8Array;
  readonly lastWscale: Uint8Array;
  readonly lastFlags: Uint8Array;
  readonly retrans: Uint8Array;
  readonly lastSeq: Uint32Array;
  readonly lastAck: Uint32Array;
  readonly lastEnd: Uint32Array;
  readonly lastWin: Uint16Array;
  // --- TCP, per direction (index 2e + dir; Linux struct ip_ct_tcp_state) ---
  readonly tdEnd: Uint32Array;
  readonly tdMaxEnd: Uint32Array;
  readonly tdMaxWin: Uint32Array;
  readonly tdMaxAck: Uint32Array;
  readonly tdScale: Uint8Array;
  readonly tdFlags: Uint8Array;

  // --- free list ---
  private readonly nextFree: Int32Array;
  private freeHead: number;
  /** Entries in Live state. */
  live = 0;
  /** Entries in Pending state. */
  pending = 0;

  // --- index ---
  /** Buckets in the index: 4 per entry (2 tuples at load <= 0.5), not rounded up. */
  private readonly size: number;
  /** size / 2^32: a hash's home bucket is floor(h * scale) (multiply-shift range reduction). */
  private readonly scale: number;
  /** Bucket i is words 6i..6i+5: v + 1 (0: empty), hash, key words 0, 4, 8, 9 of tuple v. */
  private readonly index: Uint32Array;
  /** Probe words of the two tuples being linked (key words 0, 4, 8, 9 each). */
  private readonly linkWords = new Uint32Array(8);

  /** Scratch key for lookups: 10 words as hashed. */
  readonly key = new Uint32Array(10);

  constructor(cap: number, maxProbe: number, hashKey: Uint8Array, prefaultIndex = false) {
    if (!Number.isInteger(cap) || cap < 1 || cap > 0x3fffffff) throw new RangeError('maxEntries must be an integer >= 1');
    if (hashKey.length < 8) throw new RangeError('hashKey must be 8 bytes');
    this.cap = cap;
    this.maxProbe = maxProbe;
    this.k0 = (hashKey[0] | (hashKey[1] << 8) | (hashKey[2] << 16) | (hashKey[3] << 24)) >>> 0;
    this.k1 = (hashKey[4] | (hashKey[5] << 8) | (hashKey[6] << 16) | (hashKey[7] << 24)) >>> 0;
    this.addr = new Uint32Array(cap * 16);
    this.port = new Uint16Array(cap * 4);
    this.tupleHash = new Uint32Array(cap * 2);
    this.slot = new Uint8Array(cap);
    this.family = new Uint8Array(cap);
    this.proto = new Uint8Array(cap);
    this.zone = new Uint16Array(cap);
    this.status = new Uint32Array(cap);
    this.mark = new Uint32Array(cap);
    this.expires = new Float64Array(cap);
    this.aux = new Float64Array(cap);
    this.lastEvent = new Float64Array(cap);
    this.replicaAt = new Float64Array(cap);
    this.tcpState = new Uint8Array(cap);
    this.lastIndex = new Uint8Array(cap);
    this.lastDir = new Uint8Array(cap);
    this.lastWscale = new Uint8Array(cap);
    this.lastFlags = new Uint8Array(cap);
    this.retrans = new Uint8Array(cap);
    this.lastSeq = new Uint32Array(cap);
    this.lastAck = new Uint32Array(cap);
    this.lastEnd = new Uint32Array(cap);
    this.lastWin = new Uint16Array(cap);
    this.tdEnd = new Uint32Array(cap * 2);
    this.tdMaxEnd = new Uint32Array(cap * 2);
    this.tdMaxWin = new Uint32Array(cap * 2);
    this.tdMaxAck = new Uint32Array(cap * 2);
    this.tdScale = new Uint8Array(cap * 2);
    this.tdFlags = new Uint8Array(cap * 2);
    this.nextFree = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.nextFree[i] = i + 1 < cap ? i + 1 : -1;
    this.freeHead = 0;
    // Exactly 4 buckets per entry instead of the next power of two: with 24-byte buckets a
    // rounded-up table could cost twice the memory for an unlucky maxEntries.
    const size = Math.max(16, cap * 4);
    this.size = size;
    this.scale = size / 4294967296;
    this.index = new Uint32Array(size * BUCKET);
    // Writing the zeros makes the kernel map every page now (sequentially: ~50 ms for 1M
    // entries here) instead of at the first insert into each page, at random places.
    if (prefaultIndex) this.index.fill(0);
  }

  // ---------------------------------------------------------------- slots

  /** Takes a free slot (marked Pending, fields cleared), or -1 when none is free. */
  alloc(): number {
    const e = this.freeHead;
    if (e < 0) return -1;
    this.freeHead = this.nextFree[e];
    this.slot[e] = Slot.Pending;
    this.pending++;
    this.clear(e);
    return e;
  }

  /** Returns a Pending or Live slot to the free list (unlinks it from the index first). */
  free(e: number): void {
    const s = this.slot[e];
    if (s === Slot.Free) return;
    if (s === Slot.Live) {
      this.unlink(2 * e);
      this.unlink(2 * e + 1);
      this.live--;
    } else {
      this.pending--;
    }
    this.slot[e] = Slot.Free;
    this.nextFree[e] = this.freeHead;
    this.freeHead = e;
  }

  private clear(e: number): void {
    this.status[e] = 0;
    this.mark[e] = 0;
    this.expires[e] = 0;
    this.aux[e] = 0;
    this.lastEvent[e] = 0;
    this.replicaAt[e] = 0;
    this.clearTcp(e);
  }

  clearTcp(e: number): void {
    this.tcpState[e] = 0;
    this.lastIndex[e] = 0;
    this.lastDir[e] = 0;
    this.lastWscale[e] = 0;
    this.lastFlags[e] = 0;
    this.retrans[e] = 0;
    this.lastSeq[e] = 0;
    this.lastAck[e] = 0;
    this.lastEnd[e] = 0;
    this.lastWin[e] = 0;
    for (let d = 2 * e; d < 2 * e + 2; d++) {
      this.tdEnd[d] = 0;
      this.tdMaxEnd[d] = 0;
      this.tdMaxWin[d] = 0;
      this.tdMaxAck[d] = 0;
      this.tdScale[d] = 0;
      this.tdFlags[d] = 0;
    }
  }

  // ---------------------------------------------------------------- keys

  /** Fills `key` from the stored tuple v. */
  keyFromTuple(v: number): void {
    const k = this.key;
    const a = v * 8;
    for (let i = 0; i < 8; i++) k[i] = this.addr[a + i];
    k[8] = ((this.port[2 * v] << 16) | this.port[2 * v + 1]) >>> 0;
    const e = v >> 1;
    k[9] = ((this.family[e] << 24) | (this.proto[e] << 16) | this.zone[e]) >>> 0;
  }

  hashKey(): number {
    return halfSipHash13Key10(this.key, this.k0, this.k1);
  }

  /**
   * The tuple v matching `key` (hash `h`), or -1. At most maxProbe + 1 probes, each within
   * the index's own lines; `addr` is read only for IPv6 candidates whose bucket words match.
   */
  find(h: number): number {
    const size = this.size;
    const index = this.index;
    const k = this.key;
    const tag = h >>> 0;
    const k0 = k[0];
    const k4 = k[4];
    const k8 = k[8];
    const k9 = k[9];
    // Address words 1-3 are zero in every IPv4 key, so the bucket alone decides for IPv4.
    const rest = (k[1] | k[2] | k[3] | k[5] | k[6] | k[7]) !== 0 || k9 >>> 24 !== 4;
    let i = Math.floor(tag * this.scale);
    for (let dist = 0; dist <= this.maxProbe; dist++) {
      const b = BUCKET * i;
      const vp = index[b];
      if (vp === 0) return -1;
      if (index[b + 1] === tag && index[b + 2] === k0 && index[b + 3] === k4 && index[b + 4] === k8 && index[b + 5] === k9) {
        if (!rest || this.sameRest(vp - 1)) return vp - 1;
      }
      i = i + 1 === size ? 0 : i + 1;
    }
    return -1;
  }

  /** Address words 1-3 of source and destination of tuple v equal those of `key`. */
  private sameRest(v: number): boolean {
    const k = this.key;
    const a = v * 8;
    const addr = this.addr;
    return addr[a + 1] === k[1] && addr[a + 2] === k[2] && addr[a + 3] === k[3] && addr[a + 5] === k[5] && addr[a + 6] === k[6] && addr[a + 7] === k[7];
  }

  /** Keeps `key`'s probe words (0, 4, 8, 9) in linkWords at `at` (0 or 4). */
  private keepProbeWords(at: number): void {
    const k = this.key;
    const w = this.linkWords;
    w[at] = k[0];
    w[at + 1] = k[4];
    w[at + 2] = k[8];
    w[at + 3] = k[9];
  }

  /**
   * Links Pending entry e (tuples already stored) into the index under both tuples and
   * marks it Live. Returns 0 on success, 1 when a tuple is already present (clash), 2 when
   * the probe cap would be exceeded. On failure nothing changes.
   */
  link(e: number): number {
    if (this.family[e] !== 6) {
      // IPv4 (and anything not IPv6) uses address word 0 only; find() relies on the rest being 0.
      const a = 16 * e;
      for (let i = 0; i < 16; i++) if ((i & 3) !== 0) this.addr[a + i] = 0;
    }
    this.keyFromTuple(2 * e);
    const h0 = this.hashKey();
    if (this.find(h0) >= 0) return 1;
    this.keepProbeWords(0);
    this.keyFromTuple(2 * e + 1);
    const h1 = this.hashKey();
    if (this.find(h1) >= 0) return 1;
    this.keepProbeWords(4);
    this.tupleHash[2 * e] = h0;
    this.tupleHash[2 * e + 1] = h1;
    if (!this.place(2 * e, h0, 0)) return 2;
    if (!this.place(2 * e + 1, h1, 4)) {
      this.unlink(2 * e);
      return 2;
    }
    this.slot[e] = Slot.Live;
    this.pending--;
    this.live++;
    return 0;
  }

  /** Puts tuple v (hash h, probe words at linkWords[at..at+3]) in the first free bucket. */
  private place(v: number, h: number, at: number): boolean {
    const size = this.size;
    const index = this.index;
    const w = this.linkWords;
    let i = Math.floor((h >>> 0) * this.scale);
    for (let dist = 0; dist <= this.maxProbe; dist++) {
      const b = BUCKET * i;
      if (index[b] === 0) {
        index[b] = v + 1;
        index[b + 1] = h;
        index[b + 2] = w[at];
        index[b + 3] = w[at + 1];
        index[b + 4] = w[at + 2];
        index[b + 5] = w[at + 3];
        return true;
      }
      i = i + 1 === size ? 0 : i + 1;
    }
    return false;
  }

  /** Removes tuple v from the index; backward-shift keeps every probe sequence gap-free. */
  private unlink(v: number): void {
    const size = this.size;
    const scale = this.scale;
    const index = this.index;
    let i = Math.floor(this.tupleHash[v] * scale);
    let dist = 0;
    while (index[BUCKET * i] !== v + 1) {
      if (index[BUCKET * i] === 0 || dist > this.maxProbe) return;
      i = i + 1 === size ? 0 : i + 1;
      dist++;
    }
    let hole = i;
    let j = i + 1 === size ? 0 : i + 1;
    for (;;) {
      const bj = BUCKET * j;
      if (index[bj] === 0) break;
      const home = Math.floor(index[bj + 1] * scale);
      // Move bucket j into the hole when the hole lies within its probe path [home, j]
      // (distances counted forward, around the end of the table).
      const fromHome = j >= home ? j - home : j + size - home;
      const fromHole = j >= hole ? j - hole : j + size - hole;
      if (fromHome >= fromHole) {
        index.copyWithin(BUCKET * hole, bj, bj + BUCKET);
        hole = j;
      }
      j = j + 1 === size ? 0 : j + 1;
    }
    index.fill(0, BUCKET * hole, BUCKET * hole + BUCKET);
  }

  /** Re-hashes entry e after its reply tuple was rewritten (NAT, replica update). */
  relink(e: number): number {
    this.unlink(2 * e);
    this.unlink(2 * e + 1);
    this.slot[e] = Slot.Pending;
    this.live--;
    this.pending++;
    return this.link(e);
  }

  /** Bytes held by the typed arrays (for the memory budget). */
  byteSize(): number {
    let n = 0;
    for (const v of Object.values(this)) if (ArrayBuffer.isView(v)) n += v.byteLength;
    return n;
  }
}
