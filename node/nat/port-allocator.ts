/**
 * Port (and ICMP id) allocation for source NAT.
 *
 * One PortPool per (public address, protocol) holds a bitmap of the 65,536 ports taken on
 * that address, and a summary bitmap with one bit per 32-port word that is completely
 * taken. Finding a free port from a start position reads at most a few bitmap words and
 * the 64 summary words, however many bindings exist: it never walks the bindings.
 *
 * A port is unique per public address and protocol regardless of the destination
 * ("endpoint-independent mapping", RFC 4787 §4.1 REQ-1), so one public address carries
 * up to 64 K connections per protocol; use an address range for more.
 *
 * Choice of port, following Linux nf_nat_l4proto_unique_tuple (facts, not code):
 * - the original port is kept when it is in the range and free, unless `random` /
 *   `fully-random`;
 * - without an explicit range, ports below 512 map into 1-511, 512-1023 into 600-1023,
 *   others into 1024-65535; ICMP ids use 0-65535;
 * - otherwise the search starts at offset F(connection, key) + counter (RFC 6056 §3.3.3,
 *   algorithm 3) and takes the first free port from there, wrapping around the range.
 *
 * Exhaustion is a return value (PORT_EXHAUSTED), counted, never an exception or a loop.
 */
import { randomBytes } from 'node:crypto';
import { IpProto } from '../packet/packet-info.js';
import { NatBinding, ORIG_DST, ORIG_SRC } from './binding.js';
import { NatFlags } from './nat-flags.js';
import { addressWords } from './port-hash.js';
import { isIcmpProto } from './tuple.js';
import { Rng, bitTest, ctz, halfSipHashWords, maskFrom, maskTo } from '../../inet/index.js';

/** Returned by `allocate` when every port of the range on that address is taken. */
export const PORT_EXHAUSTED = -1;

const WORDS = 2048; // 65536 / 32
const SUMMARY_WORDS = 64; // 2048 / 32

/**
 * The most bitmap + summary words one allocation reads: per pass (from the start to the
 * range end, then from the range start) at most 3 bitmap words and 65 summary words.
 */
export const MAX_SCAN_WORDS = 2 * (3 + SUMMARY_WORDS + 1);

export class PortPool {
  readonly family: 4 | 6;
  readonly proto: number;
  /** The public address (first 4 or 16 bytes). */
  readonly addr = new Uint8Array(16);
  /** Bit (port & 31) of word (port >> 5) is set when the port is taken. */
  readonly bits = new Uint32Array(WORDS);
  /** Bit (w & 31) of word (w >> 5) is set when bits[w] is all ones. */
  readonly full = new Uint32Array(SUMMARY_WORDS);
  /** Ports taken. */
  used = 0;
  /** RFC 6056 algorithm 3 counter, advanced per search. */
  counter = 0;
  /** Words read by the last search (for tests and metrics). */
  lastScanWords = 0;

  constructor(family: 4 | 6, addr: Uint8Array, addrOff: number, proto: number) {
    this.family = family;
    this.proto = proto;
    const n = family === 4 ? 4 : 16;
    for (let i = 0; i < n; i++) this.addr[i] = addr[addrOff + i];
  }

  isTaken(port: number): boolean {
    return bitTest(this.bits, port);
  }

  /** Marks a port taken; false when it already was. */
  take(port: number): boolean {
    port &= 0xffff;
    const w = port >>> 5;
    const bit = 1 << (port & 31);
    const v = this.bits[w];
    if ((v & bit) !== 0) return false;
    const nv = (v | bit) >>> 0;
    this.bits[w] = nv;
    if (nv === 0xffffffff) this.full[w >>> 5] |= 1 << (w & 31);
    this.used++;
    return true;
  }

  /** Returns a port; false when it was not taken. */
  release(port: number): boolean {
    port &= 0xffff;
    const w = port >>> 5;
    const bit = 1 << (port & 31);
    const v = this.bits[w];
    if ((v & bit) === 0) return false;
    this.bits[w] = v & ~bit;
    this.full[w >>> 5] &= ~(1 << (w & 31));
    this.used--;
    return true;
  }

  /**
   * The first free port at or after `start` within [min, max], wrapping to `min`; -1 when
   * none is free. Does not take it. Reads at most MAX_SCAN_WORDS words.
   */
  findFree(min: number, max: number, start: number): number {
    this.lastScanWords = 0;
    if (start < min || start > max) start = min;
    const p = this.findIn(start, max);
    if (p >= 0 || start === min) return p;
    return this.findIn(min, start - 1);
  }

  /** First free port in [lo, hi]. */
  private findIn(lo: number, hi: number): number {
    const wFirst = lo >>> 5;
    const wEnd = hi >>> 5;
    let w = wFirst;
    while (w <= wEnd) {
      this.lastScanWords++;
      let free = ~this.bits[w];
      if (w === wFirst) free &= maskFrom(lo & 31);
      if (w === wEnd) free &= maskTo(hi & 31);
      if (free !== 0) return (w << 5) + ctz(free);
      w = this.nextNotFull(w + 1, wEnd);
      if (w < 0) return -1;
    }
    return -1;
  }

  /** First bitmap word in [from, to] that is not all ones, by the summary; -1 if none. */
  private nextNotFull(from: number, to: number): number {
    if (from > to) return -1;
    const sFirst = from >>> 5;
    const sEnd = to >>> 5;
    for (let s = sFirst; ; s++) {
      this.lastScanWords++;
      let m = ~this.full[s];
      if (s === sFirst) m &= maskFrom(from & 31);
      if (s === sEnd) m &= maskTo(to & 31);
      if (m !== 0) return (s << 5) + ctz(m);
      if (s >= sEnd) return -1;
    }
  }
}

/** Counters of one allocator (exported as metrics by the lead). */
export interface PortAllocatorStats {
  /** Ports handed out by `allocate`. */
  allocated: number;
  /** Of those, how many kept the original port. */
  kept: number;
  /** `allocate` calls that found no free port. */
  exhausted: number;
  /** Ports taken by `reserve` (replicated bindings). */
  reserved: number;
  /** `reserve` calls for a port that was already taken. */
  reserveConflicts: number;
  /** Ports returned. */
  released: number;
  /** Most words one search has read. */
  maxScanWords: number;
}

export interface PortAllocatorOptions {
  /** The 64-bit hash key as two uint32 (tests); a random one by default. */
  key?: [number, number];
}

/** The range used when the statement names none (see the file comment). */
export function defaultPortRange(proto: number, origPort: number, out: { min: number; max: number }): void {
  if (isIcmpProto(proto)) {
    out.min = 0;
    out.max = 0xffff;
  } else if (origPort < 512) {
    out.min = 1;
    out.max = 511;
  } else if (origPort < 1024) {
    out.min = 600;
    out.max = 1023;
  } else {
    out.min = 1024;
    out.max = 0xffff;
  }
}

/** True for the protocols whose source port / id SNAT allocates. */
export function allocatesPorts(proto: number): boolean {
  return proto === IpProto.Tcp || proto === IpProto.Udp || isIcmpProto(proto);
}

export class PortAllocator {
  readonly stats: PortAllocatorStats = {
    allocated: 0,
    kept: 0,
    exhausted: 0,
    reserved: 0,
    reserveConflicts: 0,
    released: 0,
    maxScanWords: 0,
  };
  private readonly k0: number;
  private readonly k1: number;
  /** Draws for `fully-random`: cheap, non-cryptographic, seeded from the key. */
  private readonly rand: Rng;
  private readonly v4 = new Map<number, PortPool>();
  private readonly v6 = new Map<string, PortPool>();
  private readonly words = new Uint32Array(12);
  private readonly range = { min: 0, max: 0 };
  private lastPool: PortPool | null = null;

  constructor(opts: PortAllocatorOptions = {}) {
    let key = opts.key;
    if (!key) {
      const r = randomBytes(8);
      key = [r.readUInt32BE(0), r.readUInt32BE(4)];
    }
    this.k0 = key[0] >>> 0;
    this.k1 = key[1] >>> 0;
    this.rand = new Rng(this.k0 ^ 0x9e3779b9 ^ this.k1);
  }

  /**
   * The pool of (address, protocol), created on first use. The last pool found is
   * remembered: a firewall with one public address finds it without building a map key.
   */
  pool(family: 4 | 6, addr: Uint8Array, addrOff: number, proto: number): PortPool {
    const last = this.lastPool;
    if (last !== null && last.family === family && last.proto === proto && sameAddr(last.addr, addr, addrOff, family)) return last;
    let p = this.findPool(family, addr, addrOff, proto);
    if (!p) {
      p = new PortPool(family, addr, addrOff, proto);
      if (family === 4) this.v4.set(v4Key(addr, addrOff, proto), p);
      else this.v6.set(v6Key(addr, addrOff, proto), p);
    }
    this.lastPool = p;
    return p;
  }

  /** The pool of (address, protocol) if it exists. */
  findPool(family: 4 | 6, addr: Uint8Array, addrOff: number, proto: number): PortPool | undefined {
    return family === 4 ? this.v4.get(v4Key(addr, addrOff, proto)) : this.v6.get(v6Key(addr, addrOff, proto));
  }

  /** Number of pools (public address, protocol pairs) in use. */
  get poolCount(): number {
    return this.v4.size + this.v6.size;
  }

  /**
   * Picks and takes a source port (ICMP: query id) on `pool` for the connection whose
   * original tuple is in `b`. `min`/`max` is the statement's range, or 0/0 for the default.
   * Returns the port, or PORT_EXHAUSTED (counted) when the range is full.
   */
  allocate(pool: PortPool, b: NatBinding, min: number, max: number, flags: number): number {
    if (min === 0 && max === 0) {
      defaultPortRange(b.proto, b.origSport, this.range);
      min = this.range.min;
      max = this.range.max;
    }
    if (min > max || max > 0xffff || min < 0) {
      this.stats.exhausted++;
      return PORT_EXHAUSTED;
    }
    if ((flags & (NatFlags.Random | NatFlags.FullyRandom)) === 0 && this.takeWanted(pool, b.origSport, min, max)) return b.origSport;
    const span = max - min + 1;
    let offset: number;
    if (flags & NatFlags.FullyRandom) offset = this.rand.u32();
    else offset = (this.connectionHash(b) + pool.counter++) >>> 0;
    return this.takeFirstFree(pool, min, max, min + (offset % span));
  }

  /**
   * Takes a port on `pool` for a connection still to come (the data connection an FTP
   * announcement opens, nat/ftp-nat.ts): `want` itself when it is a port (1-65535) and free,
   * else the first free port after it within [min, max], wrapping. Returns the port, or
   * PORT_EXHAUSTED (counted) when none is free.
   */
  allocateNear(pool: PortPool, want: number, min: number, max: number): number {
    if (this.takeWanted(pool, want, 1, 0xffff)) return want;
    return this.takeFirstFree(pool, min, max, want + 1);
  }

  /** Takes `want` when it lies in [min, max] and is free (counted as allocated, and kept). */
  private takeWanted(pool: PortPool, want: number, min: number, max: number): boolean {
    if (want < min || want > max || !pool.take(want)) return false;
    pool.lastScanWords = 1;
    this.stats.allocated++;
    this.stats.kept++;
    return true;
  }

  /** Takes the first free port from `start` within [min, max], wrapping; PORT_EXHAUSTED (counted) when none is. */
  private takeFirstFree(pool: PortPool, min: number, max: number, start: number): number {
    const port = pool.findFree(min, max, start);
    if (pool.lastScanWords > this.stats.maxScanWords) this.stats.maxScanWords = pool.lastScanWords;
    if (port < 0) {
      this.stats.exhausted++;
      return PORT_EXHAUSTED;
    }
    pool.take(port);
    this.stats.allocated++;
    return port;
  }

  /**
   * Marks a port taken for a binding made elsewhere (replicated from the peer). Returns
   * false, and counts a conflict, when it was already taken; the caller then must not
   * release it for that binding.
   */
  reserve(pool: PortPool, port: number): boolean {
    if (!pool.take(port)) {
      this.stats.reserveConflicts++;
      return false;
    }
    this.stats.reserved++;
    return true;
  }

  /** Returns a port to its pool (connection destroyed). */
  release(pool: PortPool, port: number): boolean {
    if (!pool.release(port)) return false;
    this.stats.released++;
    return true;
  }

  /**
   * Releases the ports a binding holds, if any, and forgets the pools so a second call
   * does nothing.
   */
  releaseBinding(b: NatBinding): void {
    const d = b.dstPool;
    if (d !== null) {
      // The port reserved for an expected connection's destination (nat/ftp-nat.ts).
      b.dstPool = null;
      this.release(d, b.origDport);
    }
    const p = b.pool;
    if (p === null) return;
    b.pool = null;
    this.release(p, b.natSport);
  }

  /**
   * F(connection, key) of RFC 6056 algorithm 3, over the original source and destination
   * addresses, ports and protocol (the original source port is known to a NAT, so it
   * spreads one client's connections too).
   */
  connectionHash(b: NatBinding): number {
    const n = b.addrLen;
    const w = this.words;
    let at = addressWords(b.addrs, ORIG_SRC, n, w, 0);
    at = addressWords(b.addrs, ORIG_DST, n, w, at);
    w[at++] = ((b.origSport << 16) | b.origDport) >>> 0;
    w[at++] = b.proto;
    return halfSipHashWords(w, at, this.k0, this.k1, 2, 4);
  }

  /** Keyed hash of arbitrary words (address choice in setup). */
  hashWords(words: Uint32Array, n: number): number {
    return halfSipHashWords(words, n, this.k0, this.k1, 2, 4);
  }

}

function sameAddr(a: Uint8Array, b: Uint8Array, off: number, family: 4 | 6): boolean {
  const n = family === 4 ? 4 : 16;
  for (let i = 0; i < n; i++) if (a[i] !== b[off + i]) return false;
  return true;
}

function v4Key(addr: Uint8Array, off: number, proto: number): number {
  const a = ((addr[off] << 24) | (addr[off + 1] << 16) | (addr[off + 2] << 8) | addr[off + 3]) >>> 0;
  return proto * 0x100000000 + a;
}

function v6Key(addr: Uint8Array, off: number, proto: number): string {
  let s = String(proto);
  for (let i = 0; i < 16; i++) s += String.fromCharCode(65 + (addr[off + i] >> 4), 65 + (addr[off + i] & 15));
  return s;
}
