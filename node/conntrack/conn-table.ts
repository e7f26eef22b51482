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
 *
 * Tuples are read and written through the methods below (keys from packets and byte
 * tuples, the tuples of a new entry, a rewritten reply tuple, snapshots): the layout of
 * `addr` and `port` (8 and 2 slots per tuple, two tuples per entry) is known only here.
 */
import type { PacketInfo } from '../packet/packet-info.js';
import type { CtReplyTupleLike, CtSnapshot, CtTupleLike } from './ct-types.js';
import { halfSipHash13Key10 } from '../../inet/index.js';

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
  /** The connection's helper (CtHelperId: 0 none, 1 ftp), given by `ct helper set`. */
  readonly helper: Uint8Array;
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
  private readonly prefaulted: boolean;
  /** Slots below this have been allocated at least once; the others are free and were never written. */
  private highWater = 0;
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
  /** A reply tuple kept by saveReply(): 8 address words, then sport and dport. */
  private readonly savedReply = new Uint32Array(10);
  /** Address words converted from bytes (setReply). */
  private readonly replyWords = new Uint32Array(8);

  /** Scratch key for lookups: 10 words as hashed. */
  readonly key = new Uint32Array(10);

  /**
   * Debug counters (one add each, never reset): keys hashed, and walks of the index (a
   * lookup, a placement or a removal each walk one probe path; at 1M entries the first
   * bucket of a path is a cache miss). Tests hold the replica path to its budget with them.
   */
  hashes = 0;
  walks = 0;
  /** Bumped by every change of the index (placement, removal): a seek() result holds while it stays. */
  gen = 0;
  /** After a seek() that missed: the first empty bucket of the key's path (where place would put it), or -1 past the probe cap. */
  seekAt = -1;

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
    this.helper = new Uint8Array(cap);
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
    // Holds freed slots only: slots never used come from highWater, so a large table costs
    // no page for them until they are used.
    this.nextFree = new Int32Array(cap);
    this.freeHead = -1;
    // Exactly 4 buckets per entry instead of the next power of two: with 24-byte buckets a
    // rounded-up table could cost twice the memory for an unlucky maxEntries.
    const size = Math.max(16, cap * 4);
    this.size = size;
    this.scale = size / 4294967296;
    this.index = new Uint32Array(size * BUCKET);
    // Writing the zeros makes the kernel map every page now (sequentially: ~50 ms for 1M
    // entries here) instead of at the first insert into each page, at random places.
    this.prefaulted = prefaultIndex;
    if (prefaultIndex) this.index.fill(0);
  }

  /**
   * Of byteSize(), the bytes written so far (resident), estimated: the per-entry arrays up
   * to the highest slot ever allocated; the index whole when prefaulted, else the pages that
   * `gen` changes at uniformly hashed places would have hit (P(1 - e^(-gen/P)) of P pages).
   */
  get touchedBytes(): number {
    const index = this.index.byteLength;
    const pages = index / 4096;
    const indexTouched = this.prefaulted ? index : Math.min(index, 4096 * pages * -Math.expm1(-this.gen / pages));
    return Math.ceil(indexTouched + ((this.byteSize() - index) * this.highWater) / this.cap);
  }

  // ---------------------------------------------------------------- slots

  /** Takes a free slot (marked Pending, fields cleared), or -1 when none is free: freed ones first, then never-used ones in order. */
  alloc(): number {
    let e = this.freeHead;
    if (e >= 0) this.freeHead = this.nextFree[e];
    else if (this.highWater < this.cap) e = this.highWater++;
    else return -1;
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
    this.helper[e] = 0;
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

  /** Fills `key` with a packet's tuple (addresses from its buffer) and the given ports and zone. */
  keyFromPacket(pkt: PacketInfo, zone: number, sport: number, dport: number): void {
    this.keyFromAddrs(pkt, pkt.srcOff, pkt.dstOff, zone, sport, dport);
  }

  /**
   * Fills `key` with a packet's tuple turned around (source and destination addresses
   * swapped; the ports are given): an ICMP error's quote looked up as the reply it answers.
   */
  keyFromPacketInverted(pkt: PacketInfo, zone: number, sport: number, dport: number): void {
    this.keyFromAddrs(pkt, pkt.dstOff, pkt.srcOff, zone, sport, dport);
  }

  private keyFromAddrs(pkt: PacketInfo, srcOff: number, dstOff: number, zone: number, sport: number, dport: number): void {
    const k = this.key;
    const b = pkt.buf;
    if (pkt.addrLen === 4) {
      k[0] = ((b[srcOff] << 24) | (b[srcOff + 1] << 16) | (b[srcOff + 2] << 8) | b[srcOff + 3]) >>> 0;
      k[1] = 0; k[2] = 0; k[3] = 0;
      k[4] = ((b[dstOff] << 24) | (b[dstOff + 1] << 16) | (b[dstOff + 2] << 8) | b[dstOff + 3]) >>> 0;
      k[5] = 0; k[6] = 0; k[7] = 0;
    } else {
      for (let i = 0; i < 4; i++) {
        const s = srcOff + 4 * i;
        const d = dstOff + 4 * i;
        k[i] = ((b[s] << 24) | (b[s + 1] << 16) | (b[s + 2] << 8) | b[s + 3]) >>> 0;
        k[4 + i] = ((b[d] << 24) | (b[d + 1] << 16) | (b[d + 2] << 8) | b[d + 3]) >>> 0;
      }
    }
    k[8] = ((sport << 16) | dport) >>> 0;
    k[9] = ((pkt.family << 24) | (pkt.l4proto << 16) | zone) >>> 0;
  }

  /** Fills `key` with an original tuple given as bytes (API, replicas); false for a family other than 4 or 6. */
  keyFromTupleLike(s: CtTupleLike): boolean {
    const k = this.key;
    const fam = s.family;
    if (fam !== 4 && fam !== 6) return false;
    bytesToWords(s.origSrc, k, 0, fam);
    bytesToWords(s.origDst, k, 4, fam);
    k[8] = (((s.origSport & 0xffff) << 16) | (s.origDport & 0xffff)) >>> 0;
    k[9] = ((fam << 24) | ((s.proto & 0xff) << 16) | (s.zone & 0xffff)) >>> 0;
    return true;
  }

  // ---------------------------------------------------------------- tuples

  /** Stores `key`'s addresses and ports as tuple v (the entry's family, protocol and zone are set apart). */
  storeKey(v: number): void {
    const k = this.key;
    const a = 8 * v;
    for (let i = 0; i < 8; i++) this.addr[a + i] = k[i];
    this.port[2 * v] = k[8] >>> 16;
    this.port[2 * v + 1] = k[8] & 0xffff;
  }

  /**
   * A new entry's tuples from `key` (a packet's): the original is the key, the reply its
   * inverse with the given ports (ICMP: the id and the inverted type << 8 | code).
   */
  storeKeyAndInverse(e: number, replySport: number, replyDport: number): void {
    const k = this.key;
    const o = 16 * e;
    for (let i = 0; i < 8; i++) this.addr[o + i] = k[i];
    for (let i = 0; i < 4; i++) {
      this.addr[o + 8 + i] = k[4 + i];
      this.addr[o + 12 + i] = k[i];
    }
    this.port[4 * e] = k[8] >>> 16;
    this.port[4 * e + 1] = k[8] & 0xffff;
    this.port[4 * e + 2] = replySport;
    this.port[4 * e + 3] = replyDport;
  }

  /**
   * Writes entry e's reply tuple from bytes (in the entry's family). Returns true when it
   * differs from the one stored before. A linked entry needs relink() afterwards.
   */
  setReply(e: number, tuple: CtReplyTupleLike): boolean {
    const fam = this.family[e];
    const w = this.replyWords;
    bytesToWords(tuple.replySrc, w, 0, fam);
    bytesToWords(tuple.replyDst, w, 4, fam);
    const a = 16 * e + 8;
    let changed = false;
    for (let i = 0; i < 8; i++) {
      if (this.addr[a + i] !== w[i]) changed = true;
      this.addr[a + i] = w[i];
    }
    const sport = tuple.replySport & 0xffff;
    const dport = tuple.replyDport & 0xffff;
    if (this.port[4 * e + 2] !== sport || this.port[4 * e + 3] !== dport) changed = true;
    this.port[4 * e + 2] = sport;
    this.port[4 * e + 3] = dport;
    return changed;
  }

  /** Keeps entry e's reply tuple, for restoreReply() (one at a time). */
  saveReply(e: number): void {
    const s = this.savedReply;
    const a = 16 * e + 8;
    for (let i = 0; i < 8; i++) s[i] = this.addr[a + i];
    s[8] = this.port[4 * e + 2];
    s[9] = this.port[4 * e + 3];
  }

  /** Puts back the reply tuple saveReply() kept for entry e. */
  restoreReply(e: number): void {
    const s = this.savedReply;
    const a = 16 * e + 8;
    for (let i = 0; i < 8; i++) this.addr[a + i] = s[i];
    this.port[4 * e + 2] = s[8];
    this.port[4 * e + 3] = s[9];
  }

  /**
   * Address words of entry e's tuple `dir` (0 original, 1 reply): its source (end 0) or
   * destination (end 1), `words` words (1 for IPv4, 4 for IPv6) in the packet key's order.
   */
  tupleAddr(e: number, dir: number, end: number, out: Uint32Array, off: number, words: number): void {
    const a = 16 * e + 8 * dir + 4 * end;
    for (let i = 0; i < words; i++) out[off + i] = this.addr[a + i];
  }

  /** Entry e's tuple `dir` source (end 0) or destination (end 1) port (ICMP: id, type << 8 | code). */
  tuplePort(e: number, dir: number, end: number): number {
    return this.port[4 * e + 2 * dir + end];
  }

  /** Entry e's family, protocol, zone and both tuples as bytes (zeros past an IPv4 address). */
  readTuples(e: number, out: CtTupleLike & CtReplyTupleLike): void {
    const fam = this.family[e];
    out.family = fam;
    out.proto = this.proto[e];
    out.zone = this.zone[e];
    const o = 16 * e;
    wordsToBytes(this.addr, o, out.origSrc, fam);
    wordsToBytes(this.addr, o + 4, out.origDst, fam);
    wordsToBytes(this.addr, o + 8, out.replySrc, fam);
    wordsToBytes(this.addr, o + 12, out.replyDst, fam);
    out.origSport = this.port[4 * e];
    out.origDport = this.port[4 * e + 1];
    out.replySport = this.port[4 * e + 2];
    out.replyDport = this.port[4 * e + 3];
  }

  /** Entry e's TCP window data of both directions into a snapshot's [original, reply] pairs. */
  readTcpWindows(e: number, out: CtSnapshot): void {
    for (let d = 0; d < 2; d++) {
      const i = 2 * e + d;
      out.tdEnd[d] = this.tdEnd[i];
      out.tdMaxEnd[d] = this.tdMaxEnd[i];
      out.tdMaxWin[d] = this.tdMaxWin[i];
      out.tdMaxAck[d] = this.tdMaxAck[i];
      out.tdScale[d] = this.tdScale[i];
      out.tdFlags[d] = this.tdFlags[i];
    }
  }

  /** Sets entry e's TCP window data of direction dir (0 original, 1 reply). */
  setTcpWindow(e: number, dir: number, end: number, maxEnd: number, maxWin: number, maxAck: number, scale: number, flags: number): void {
    const i = 2 * e + dir;
    this.tdEnd[i] = end;
    this.tdMaxEnd[i] = maxEnd;
    this.tdMaxWin[i] = maxWin;
    this.tdMaxAck[i] = maxAck;
    this.tdScale[i] = scale;
    this.tdFlags[i] = flags;
  }

  hashKey(): number {
    this.hashes++;
    return halfSipHash13Key10(this.key, this.k0, this.k1);
  }

  /**
   * The tuple v matching `key` (hash `h`), or -1. At most maxProbe + 1 probes, each within
   * the index's own lines; `addr` is read only for IPv6 candidates whose bucket words match.
   */
  find(h: number): number {
    // One probe loop for both lookups: seek() only adds where a miss would go (one field write).
    return this.seek(h);
  }

  /**
   * The lookup, also telling where `key` would go: on a miss `seekAt` is the first empty
   * bucket of its path (linear probing without tombstones puts it there), or -1 when the
   * path is full to the probe cap. That bucket stays right until the index changes (`gen`):
   * linkSought() places a new entry's original tuple there without walking again.
   */
  seek(h: number): number {
    const size = this.size;
    const index = this.index;
    const k = this.key;
    const tag = h >>> 0;
    const k0 = k[0];
    const k4 = k[4];
    const k8 = k[8];
    const k9 = k[9];
    const rest = (k[1] | k[2] | k[3] | k[5] | k[6] | k[7]) !== 0 || k9 >>> 24 !== 4;
    let i = Math.floor(tag * this.scale);
    this.walks++;
    for (let dist = 0; dist <= this.maxProbe; dist++) {
      const b = BUCKET * i;
      const vp = index[b];
      if (vp === 0) {
        this.seekAt = i;
        return -1;
      }
      if (index[b + 1] === tag && index[b + 2] === k0 && index[b + 3] === k4 && index[b + 4] === k8 && index[b + 5] === k9) {
        if (!rest || this.sameRest(vp - 1)) return vp - 1;
      }
      i = i + 1 === size ? 0 : i + 1;
    }
    this.seekAt = -1;
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
    this.zeroV4Words(e);
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

  /**
   * link() of Pending entry e whose original tuple (already stored) was just sought and
   * missed: `h0` its hash, `at` the bucket seek() gave, the index unchanged since (`gen`).
   * The original goes into that bucket without a walk; the reply tuple is hashed and placed
   * in one walk that is also its clash check. Returns as link(); on failure nothing changes.
   */
  linkSought(e: number, h0: number, at: number): number {
    this.zeroV4Words(e);
    this.keyFromTuple(2 * e);
    this.keepProbeWords(0);
    this.tupleHash[2 * e] = h0;
    const index = this.index;
    const w = this.linkWords;
    const b = BUCKET * at;
    index[b] = 2 * e + 1;
    index[b + 1] = h0;
    index[b + 2] = w[0];
    index[b + 3] = w[1];
    index[b + 4] = w[2];
    index[b + 5] = w[3];
    this.gen++;
    const rc = this.linkReply(e);
    if (rc !== 0) {
      this.unlink(2 * e);
      return rc;
    }
    this.slot[e] = Slot.Live;
    this.pending--;
    this.live++;
    return 0;
  }

  /**
   * Live entry e after its reply tuple was rewritten (a replica update): unlinks and
   * re-places the reply tuple alone (one hash, one walk), the original staying where it
   * is. Returns as link(); on failure the entry is left Pending and unlinked (free() it).
   */
  relinkReply(e: number): number {
    this.unlink(2 * e + 1);
    this.zeroV4Words(e);
    const rc = this.linkReply(e);
    if (rc !== 0) {
      this.unlink(2 * e);
      this.slot[e] = Slot.Pending;
      this.live--;
      this.pending++;
    }
    return rc;
  }

  /** IPv4 (and anything not IPv6) uses address word 0 only; find() relies on the rest being 0. */
  private zeroV4Words(e: number): void {
    if (this.family[e] === 6) return;
    const a = 16 * e;
    for (let i = 0; i < 16; i++) if ((i & 3) !== 0) this.addr[a + i] = 0;
  }

  /**
   * Hashes entry e's reply tuple and puts it in the first free bucket of its path, in one
   * walk that is also the clash check: 0 placed, 1 another tuple has it (entry e's own
   * original does not count, as in link(), which checks both before placing either), 2
   * probe cap. Entry e's original tuple may be in the index.
   */
  private linkReply(e: number): number {
    const v = 2 * e + 1;
    this.keyFromTuple(v);
    const h = this.hashKey();
    this.keepProbeWords(4);
    const size = this.size;
    const index = this.index;
    const k = this.key;
    const w = this.linkWords;
    const tag = h >>> 0;
    const rest = (k[1] | k[2] | k[3] | k[5] | k[6] | k[7]) !== 0 || w[7] >>> 24 !== 4;
    let i = Math.floor(tag * this.scale);
    this.walks++;
    for (let dist = 0; dist <= this.maxProbe; dist++) {
      const b = BUCKET * i;
      const vp = index[b];
      if (vp === 0) {
        index[b] = v + 1;
        index[b + 1] = h;
        index[b + 2] = w[4];
        index[b + 3] = w[5];
        index[b + 4] = w[6];
        index[b + 5] = w[7];
        this.tupleHash[v] = h;
        this.gen++;
        return 0;
      }
      // vp is tuple + 1: vp === v is entry e's own original (2e + 1).
      if (vp !== v && index[b + 1] === tag && index[b + 2] === w[4] && index[b + 3] === w[5] && index[b + 4] === w[6] && index[b + 5] === w[7]) {
        if (!rest || this.sameRest(vp - 1)) return 1;
      }
      i = i + 1 === size ? 0 : i + 1;
    }
    return 2;
  }

  /** Puts tuple v (hash h, probe words at linkWords[at..at+3]) in the first free bucket. */
  private place(v: number, h: number, at: number): boolean {
    const size = this.size;
    const index = this.index;
    const w = this.linkWords;
    let i = Math.floor((h >>> 0) * this.scale);
    this.walks++;
    this.gen++;
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
    this.walks++;
    this.gen++;
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

/** Address words (big-endian, 1 for IPv4, 4 for IPv6) from src[off..] into bytes; the rest of `out` zeroed. */
function wordsToBytes(src: Uint32Array, off: number, out: Uint8Array, family: number): void {
  out.fill(0);
  const n = family === 4 ? 1 : 4;
  for (let i = 0; i < n; i++) {
    const w = src[off + i];
    out[4 * i] = w >>> 24;
    out[4 * i + 1] = (w >>> 16) & 0xff;
    out[4 * i + 2] = (w >>> 8) & 0xff;
    out[4 * i + 3] = w & 0xff;
  }
}

/** Address bytes into 4 words at out[off..] (IPv4: word 0, the other three zero). */
function bytesToWords(b: Uint8Array, out: Uint32Array, off: number, family: number): void {
  const n = family === 4 ? 1 : 4;
  for (let i = 0; i < 4; i++) {
    out[off + i] = i < n ? ((b[4 * i] << 24) | (b[4 * i + 1] << 16) | (b[4 * i + 2] << 8) | b[4 * i + 3]) >>> 0 : 0;
  }
}
