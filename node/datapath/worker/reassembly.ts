/**
 * IP fragment reassembly for the filter, the way Linux's nf_defrag_ipv4/ipv6 does it for
 * conntrack: the rules, conntrack and NAT see one whole datagram, and the fragments that
 * arrived are what leaves, each the size it came with (Linux re-fragments to the largest
 * size it received, `frag_max_size`; keeping each one's own size is the same bytes on the
 * wire without a second cutting).
 *
 * This module is the bookkeeping only: queues keyed like the kernel's (addresses,
 * identification, and for IPv4 the protocol), overlap and size checks, a memory budget and
 * timeouts, building the whole datagram, and writing what the filter changed in it (NAT:
 * addresses, ports, checksums) back into the kept fragments. Fragments are rare, so this
 * path copies and allocates; the common path never comes here.
 *
 * Facts followed (not code): overlapping fragments drop the whole datagram (RFC 5722 for
 * IPv6; Linux does the same for IPv4 since 4.19), an exact duplicate is ignored, every
 * fragment but the last carries a multiple of 8 bytes (RFC 791, RFC 8200 section 4.5), a
 * datagram may not grow past 65,535 bytes, and incomplete datagrams are given up after 30 s
 * (IPv4, `ipfrag_time`) or 60 s (IPv6, `ip6frag_time`) within a 4 MB budget
 * (`ipfrag_high_thresh`).
 */
import type { PacketInfo } from '../../packet/packet-info.js';
import { ipv4HeaderChecksum } from '../../packet/checksum.js';

export interface ReassemblyLimits {
  /** Give up an incomplete IPv4 datagram after this long. Default 30 s, Linux's ipfrag_time. */
  timeoutMs4?: number;
  /** The same for IPv6. Default 60 s, Linux's ip6frag_time. */
  timeoutMs6?: number;
  /**
   * Bytes all incomplete datagrams may hold (fragments plus a fixed cost per datagram);
   * fragments past it are dropped. Default 4 MiB, Linux's ipfrag_high_thresh.
   */
  maxBytes?: number;
  /** Fragments one datagram may have. Default 256 (a 64 KB datagram cut at 256 bytes). */
  maxFragments?: number;
}

/** What add() did with a fragment. */
export const enum FragAdd {
  /** Kept; the datagram is still incomplete. */
  Queued = 0,
  /** Kept, and it completed its datagram: build() it, then writeBack() or drop(). */
  Complete = 1,
  /** Not kept (counted in stats). */
  Dropped = 2,
}

/** Running totals; the datapath mirrors them into its shared counters. */
class ReassemblyStats {
  /** Fragments kept for reassembly. */
  queued = 0;
  /** Datagrams completed. */
  reassembled = 0;
  /** Exact duplicates of a fragment already held, ignored. */
  duplicates = 0;
  /** Datagrams given up: a fragment overlapped another one. */
  overlaps = 0;
  /** Datagrams given up: incomplete when their time ran out. */
  timeouts = 0;
  /** Fragments refused: the memory budget was full, or the datagram had too many. */
  overLimit = 0;
  /** Fragments refused, or datagrams given up, as malformed (bad length, past 65,535 bytes, conflicting ends). */
  malformed = 0;
  /** Fragments thrown away with a datagram that was given up or dropped. */
  discarded = 0;
}

interface HeldFragment {
  /** Offset of the piece in the datagram's fragmentable part, and its length. */
  off: number;
  len: number;
  /** The fragment as it came, virtio header included (a view of `chunk`). */
  bytes: Uint8Array;
  /** The pooled buffer holding it. */
  chunk: Uint8Array;
  /** Where, in bytes, the piece's data starts, and the IP header. */
  dataAt: number;
  l3At: number;
  srcAt: number;
  dstAt: number;
  /** IPv6: the next-header byte that names the fragment header. */
  nhAt: number;
}

/** One datagram being put together. */
export class PendingDatagram {
  /** In arrival order: the order they leave in. */
  readonly pieces: HeldFragment[] = [];
  /** The fragment at offset 0 once it came: its header becomes the whole datagram's. */
  first: HeldFragment | null = null;
  /** Length of the fragmentable part, known once the last fragment came; -1 before. */
  total = -1;
  received = 0;
  bytes = PER_DATAGRAM_COST;
  /** IP header bytes of the whole datagram (IPv6: with the fragment header gone), set by build(). */
  headerLen = 0;

  constructor(
    readonly key: string,
    readonly family: 4 | 6,
    readonly deadline: number,
  ) {}

}

/** Bookkeeping per datagram (map entry, arrays), charged against the budget so that many tiny datagrams cannot hold the node's memory either. */
const PER_DATAGRAM_COST = 256;
const MAX_DATAGRAM = 65535;

export class Reassembler {
  readonly stats = new ReassemblyStats();
  /**
   * Datagrams in progress by key, one map per family. A map keeps insertion order and each
   * family has one timeout, so deadlines only grow along a map: expiry stops at the first
   * that has not passed instead of walking thousands of held datagrams every batch (which
   * a flood of fragments would turn into a CPU cost of its own).
   */
  private readonly pending4 = new Map<string, PendingDatagram>();
  private readonly pending6 = new Map<string, PendingDatagram>();
  private bytes = 0;
  private readonly timeoutMs4: number;
  private readonly timeoutMs6: number;
  private readonly maxBytes: number;
  private readonly maxFragments: number;
  private readonly pool: BufferPool;

  constructor(limits: ReassemblyLimits = {}) {
    this.timeoutMs4 = limits.timeoutMs4 ?? 30_000;
    this.timeoutMs6 = limits.timeoutMs6 ?? 60_000;
    this.maxBytes = limits.maxBytes ?? 4 * 1024 * 1024;
    this.maxFragments = limits.maxFragments ?? 256;
    this.pool = new BufferPool(this.maxBytes);
  }

  /** Datagrams in progress, and the bytes they hold (budget accounting). */
  get size(): number {
    return this.pending4.size + this.pending6.size;
  }

  get heldBytes(): number {
    return this.bytes;
  }

  /** The datagram the last add() completed. */
  completed: PendingDatagram | null = null;

  /**
   * Takes a parsed fragment (pkt.isFragment). Copies it, so the slot may be reused at once.
   * On Complete, `completed` is the datagram; the caller must end it with done().
   */
  add(pkt: PacketInfo, nowMs: number): FragAdd {
    this.completed = null;
    const buf = pkt.buf;
    const v6 = pkt.family === 6;
    const dataAt = v6 ? pkt.fragHdrOff + 8 : pkt.l3Off + pkt.l3HdrLen;
    const len = pkt.end - dataAt;
    const off = pkt.fragOffset;
    // The fragmentable part may not make the datagram longer than 65,535 bytes: the IPv4
    // header, or IPv6's extension headers before the fragment header, count too.
    const fixed = v6 ? pkt.fragHdrOff - (pkt.l3Off + 40) : pkt.l3HdrLen;
    if (len < 0 || (pkt.moreFragments && (len === 0 || (len & 7) !== 0)) || off + len + fixed > MAX_DATAGRAM) {
      this.stats.malformed++;
      return FragAdd.Dropped;
    }
    const key = keyOf(pkt);
    const pending = v6 ? this.pending6 : this.pending4;
    let d = pending.get(key);
    const size = pkt.end - pkt.vnetOff;
    if (d === undefined) {
      if (this.bytes + PER_DATAGRAM_COST + size > this.maxBytes) {
        this.stats.overLimit++;
        return FragAdd.Dropped;
      }
      d = new PendingDatagram(key, pkt.family as 4 | 6, nowMs + (v6 ? this.timeoutMs6 : this.timeoutMs4));
      pending.set(key, d);
      this.bytes += PER_DATAGRAM_COST;
    } else if (this.bytes + size > this.maxBytes || d.pieces.length >= this.maxFragments) {
      // Without this fragment the datagram can never complete: free what it holds now.
      this.stats.overLimit++;
      this.giveUp(d);
      return FragAdd.Dropped;
    }
    const end = off + len;
    if (!pkt.moreFragments) {
      // The last fragment fixes the length; a second, different end is a malformed datagram.
      if ((d.total >= 0 && d.total !== end) || d.pieces.some((p) => p.off + p.len > end)) {
        this.stats.malformed++;
        this.giveUp(d);
        return FragAdd.Dropped;
      }
      d.total = end;
    } else if (d.total >= 0 && end > d.total) {
      this.stats.malformed++;
      this.giveUp(d);
      return FragAdd.Dropped;
    }
    for (const p of d.pieces) {
      if (off < p.off + p.len && p.off < end) {
        if (p.off === off && p.len === len) {
          this.stats.duplicates++;
          return FragAdd.Dropped;
        }
        this.stats.overlaps++;
        this.giveUp(d);
        return FragAdd.Dropped;
      }
    }
    const base = pkt.vnetOff;
    const chunk = this.pool.take(size);
    chunk.set(buf.subarray(base, pkt.end));
    const held: HeldFragment = {
      off,
      len,
      bytes: chunk.subarray(0, size),
      chunk,
      dataAt: dataAt - base,
      l3At: pkt.l3Off - base,
      srcAt: pkt.srcOff - base,
      dstAt: pkt.dstOff - base,
      nhAt: pkt.fragNhOff - base,
    };
    d.pieces.push(held);
    if (off === 0) d.first = held;
    d.received += len;
    d.bytes += size;
    this.bytes += size;
    this.stats.queued++;
    if (d.total >= 0 && d.received === d.total) {
      // No overlaps and every piece inside [0, total): the pieces cover it exactly. The
      // first fragment's header is the whole's; it may be longer than the one each piece
      // was checked with above.
      const first = d.first!;
      const hdr = first.dataAt - first.l3At - (v6 ? 48 : 0);
      if (hdr + d.total > MAX_DATAGRAM) {
        this.stats.malformed++;
        this.giveUp(d);
        return FragAdd.Dropped;
      }
      this.stats.reassembled++;
      this.completed = d;
      return FragAdd.Complete;
    }
    return FragAdd.Queued;
  }

  /**
   * Writes the whole datagram into `out` at 0: `vnetLen` zero bytes (a plain packet to the
   * device), the first fragment's IP header made whole, then the data. Returns its length.
   */
  build(d: PendingDatagram, out: Uint8Array, vnetLen: number): number {
    const first = d.first!;
    const fb = first.bytes;
    out.fill(0, 0, vnetLen);
    let hdr: number;
    if (d.family === 4) {
      hdr = first.dataAt - first.l3At;
      out.set(fb.subarray(first.l3At, first.dataAt), vnetLen);
      const totLen = hdr + d.total;
      out[vnetLen + 2] = totLen >> 8;
      out[vnetLen + 3] = totLen & 0xff;
      // Flags and offset: a whole datagram (DF is never set on a fragment).
      out[vnetLen + 6] = 0;
      out[vnetLen + 7] = 0;
      setHeaderChecksum(out, vnetLen, hdr);
    } else {
      // The unfragmentable part without the fragment header; the header before it now names
      // what the fragment header named.
      const fragHdrAt = first.dataAt - 8;
      hdr = fragHdrAt - first.l3At;
      out.set(fb.subarray(first.l3At, fragHdrAt), vnetLen);
      out[vnetLen + (first.nhAt - first.l3At)] = fb[fragHdrAt];
      const payLen = hdr - 40 + d.total;
      out[vnetLen + 4] = payLen >> 8;
      out[vnetLen + 5] = payLen & 0xff;
    }
    d.headerLen = hdr;
    const dataStart = vnetLen + hdr;
    for (const p of d.pieces) out.set(p.bytes.subarray(p.dataAt, p.dataAt + p.len), dataStart + p.off);
    return dataStart + d.total;
  }

  /**
   * Copies what the filter changed in the whole datagram (built by build() into `whole`,
   * then perhaps translated) into the kept fragments: the addresses, and each fragment's
   * share of the data (ports and checksums live there). IPv4 header checksums are redone,
   * virtio headers cleared (the fragments are written back as plain packets).
   */
  writeBack(d: PendingDatagram, whole: PacketInfo): void {
    const src = whole.buf;
    const dataStart = whole.l3Off + d.headerLen;
    const alen = whole.addrLen;
    for (const p of d.pieces) {
      const b = p.bytes;
      b.fill(0, 0, p.l3At);
      b.set(src.subarray(whole.srcOff, whole.srcOff + alen), p.srcAt);
      b.set(src.subarray(whole.dstOff, whole.dstOff + alen), p.dstAt);
      b.set(src.subarray(dataStart + p.off, dataStart + p.off + p.len), p.dataAt);
      if (d.family === 4) setHeaderChecksum(b, p.l3At, p.dataAt - p.l3At);
    }
  }

  /** Ends a completed datagram (sent or dropped): frees its budget. */
  done(d: PendingDatagram): void {
    this.forget(d);
  }

  /** Drops a completed datagram the filter refused: its fragments are discarded. */
  discard(d: PendingDatagram): void {
    this.stats.discarded += d.pieces.length;
    this.forget(d);
  }

  /** Gives up incomplete datagrams whose time ran out; the cost is the number given up. */
  expire(nowMs: number): void {
    this.expireIn(this.pending4, nowMs);
    this.expireIn(this.pending6, nowMs);
  }

  private expireIn(pending: Map<string, PendingDatagram>, nowMs: number): void {
    for (const d of pending.values()) {
      if (d.deadline > nowMs) return;
      this.stats.timeouts++;
      this.giveUp(d);
    }
  }

  private giveUp(d: PendingDatagram): void {
    this.stats.discarded += d.pieces.length;
    this.forget(d);
  }

  private forget(d: PendingDatagram): void {
    const pending = d.family === 4 ? this.pending4 : this.pending6;
    if (pending.get(d.key) !== d) return;
    pending.delete(d.key);
    this.bytes -= d.bytes;
    for (const p of d.pieces) this.pool.give(p.chunk);
  }
}

/**
 * Reuses the buffers that hold fragments. A fresh typed array of a packet's size costs about
 * a microsecond here (its memory lives outside the JS heap: a scratch script timed 200,000
 * 1,500-byte copies at 1.2 us each), more than the rest of a fragment's handling. Buffers
 * come in power-of-two sizes from 2 KiB; what the pool keeps for reuse stays within the
 * reassembly budget.
 */
class BufferPool {
  private readonly free: Uint8Array[][] = [];
  private kept = 0;

  constructor(private readonly maxKept: number) {}

  take(n: number): Uint8Array {
    const k = sizeClass(n);
    const b = this.free[k]?.pop();
    if (b === undefined) return new Uint8Array(1 << k);
    this.kept -= b.length;
    return b;
  }

  give(b: Uint8Array): void {
    if (this.kept + b.length > this.maxKept) return;
    (this.free[sizeClass(b.length)] ??= []).push(b);
    this.kept += b.length;
  }
}

/** log2 of the smallest power of two >= n, at least 11 (2 KiB: one 1,500-byte fragment). */
function sizeClass(n: number): number {
  return Math.max(11, 32 - Math.clz32(n - 1));
}

/**
 * The kernel's queue key: addresses and identification, and for IPv4 the protocol
 * (RFC 791 section 2.3; RFC 8200 section 4.5 has no protocol in the key).
 */
function keyOf(pkt: PacketInfo): string {
  const b = pkt.buf;
  let k = pkt.family === 4 ? `4/${pkt.l4proto}/${pkt.ipId}/` : `6/${pkt.ipId}/`;
  for (let i = 0; i < pkt.addrLen; i++) k += String.fromCharCode(b[pkt.srcOff + i]!, b[pkt.dstOff + i]!);
  return k;
}

function setHeaderChecksum(b: Uint8Array, l3: number, hdrLen: number): void {
  const c = ipv4HeaderChecksum(b, l3, hdrLen);
  b[l3 + 10] = c >> 8;
  b[l3 + 11] = c & 0xff;
}
