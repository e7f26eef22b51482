/**
 * Struct-of-arrays storage for connection entries plus the keyed hash index.
 *
 * Entry e owns two tuples, v = 2e (original) and v = 2e + 1 (reply). The reply tuple is
 * stored, not derived, so NAT can later make it differ from the inverted original. Each
 * tuple is hashed with HalfSipHash-1-3 (random key) over ten words:
 *   src[4], dst[4], sport << 16 | dport, family << 24 | proto << 16 | zone
 * (IPv4 uses word 0 of each address and zeros elsewhere: one layout for both families).
 *
 * The index is open addressing with linear probing at load <= 0.5, no tombstones
 * (backward-shift deletion), and a cap on the probe distance: an insert that would land
 * farther than `maxProbe` from its home bucket is refused and counted, so no key pattern
 * can make a lookup cost more than maxProbe + 1 probes.
 *
 * Laid out for the cache, because at 1M entries every touched array is a cache (and TLB)
 * miss and those misses, not the hash, were most of a lookup (profiled: ~800 ns when the
 * compare read addr, port, family, proto and zone from five arrays):
 *   - a bucket is two adjacent int32s (tuple, hash tag), so a probe and its neighbours
 *     share one cache line, and the tag is compared before any key word is read;
 *   - each tuple keeps the key words that tell IPv4 tuples apart (src word 0, dst word 0,
 *     ports, family/proto/zone) in one 16-byte record of `probeKey`, copied from the
 *     canonical arrays at link time. An IPv4 hit is two lines (bucket + record); only
 *     IPv6 reads the remaining address words from `addr`.
 * IPv4 tuples keep address words 1-3 zero (link() enforces it), so the record decides for them.
 */
import { halfSipHash13Key10 } from './halfsiphash.js';

export const enum Slot {
  Free = 0,
  /** Allocated for a new connection that is not yet confirmed (not in the index). */
  Pending = 1,
  Live = 2,
}

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
  private readonly mask: number;
  /** Bucket i is [2i] = v + 1 of its tuple (0: empty), [2i + 1] = the tuple's hash (int32). */
  private readonly index: Int32Array;
  /**
   * 4 words per tuple v at 4v: key words 0 (src), 4 (dst), 8 (ports), 9 (family/proto/zone),
   * written by link(). The words a probe compares, in one line.
   */
  readonly probeKey: Uint32Array;

  /** Scratch key for lookups: 10 words as hashed. */
  readonly key = new Uint32Array(10);

  constructor(cap: number, maxProbe: number, hashKey: Uint8Array) {
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
    let size = 16;
    while (size < cap * 4) size *= 2;
    this.mask = size - 1;
    this.index = new Int32Array(size * 2);
    this.probeKey = new Uint32Array(cap * 8);
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
   * The tuple v matching `key` (hash `h`), or -1. At most maxProbe + 1 probes, each one
   * cache line of the index; the probe record is read only when the hash tag matches.
   */
  find(h: number): number {
    const mask = this.mask;
    const index = this.index;
    const pk = this.probeKey;
    const k = this.key;
    const tag = h | 0;
    const k0 = k[0];
    const k4 = k[4];
    const k8 = k[8];
    const k9 = k[9];
    // Address words 1-3 are zero in every IPv4 key, so the record alone decides for IPv4.
    const rest = (k[1] | k[2] | k[3] | k[5] | k[6] | k[7]) !== 0 || k9 >>> 24 !== 4;
    let i = h & mask;
    for (let dist = 0; dist <= this.maxProbe; dist++) {
      const b = index[2 * i];
      if (b === 0) return -1;
      if (index[2 * i + 1] === tag) {
        const v = b - 1;
        const r = 4 * v;
        if (pk[r] === k0 && pk[r + 1] === k4 && pk[r + 2] === k8 && pk[r + 3] === k9 && (!rest || this.sameRest(v))) return v;
      }
      i = (i + 1) & mask;
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

  /** Copies tuple v's probe words (key words 0, 4, 8, 9, from `key` as keyFromTuple left it). */
  private storeProbeKey(v: number): void {
    const k = this.key;
    const r = 4 * v;
    this.probeKey[r] = k[0];
    this.probeKey[r + 1] = k[4];
    this.probeKey[r + 2] = k[8];
    this.probeKey[r + 3] = k[9];
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
    this.storeProbeKey(2 * e);
    this.keyFromTuple(2 * e + 1);
    const h1 = this.hashKey();
    if (this.find(h1) >= 0) return 1;
    this.storeProbeKey(2 * e + 1);
    this.tupleHash[2 * e] = h0;
    this.tupleHash[2 * e + 1] = h1;
    if (!this.place(2 * e, h0)) return 2;
    if (!this.place(2 * e + 1, h1)) {
      this.unlink(2 * e);
      return 2;
    }
    this.slot[e] = Slot.Live;
    this.pending--;
    this.live++;
    return 0;
  }

  private place(v: number, h: number): boolean {
    const mask = this.mask;
    const index = this.index;
    let i = h & mask;
    for (let dist = 0; dist <= this.maxProbe; dist++) {
      if (index[2 * i] === 0) {
        index[2 * i] = v + 1;
        index[2 * i + 1] = h | 0;
        return true;
      }
      i = (i + 1) & mask;
    }
    return false;
  }

  /** Removes tuple v from the index; backward-shift keeps every probe sequence gap-free. */
  private unlink(v: number): void {
    const mask = this.mask;
    const index = this.index;
    const h = this.tupleHash[v];
    let i = h & mask;
    let dist = 0;
    while (index[2 * i] !== v + 1) {
      if (index[2 * i] === 0 || dist > this.maxProbe) return;
      i = (i + 1) & mask;
      dist++;
    }
    let hole = i;
    let j = (i + 1) & mask;
    for (;;) {
      const b = index[2 * j];
      if (b === 0) break;
      const home = index[2 * j + 1] & mask;
      // Move b into the hole when the hole lies within b's probe path [home, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        index[2 * hole] = b;
        index[2 * hole + 1] = index[2 * j + 1];
        hole = j;
      }
      j = (j + 1) & mask;
    }
    index[2 * hole] = 0;
    index[2 * hole + 1] = 0;
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
