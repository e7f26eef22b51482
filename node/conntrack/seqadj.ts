/**
 * TCP sequence adjustment of a connection whose payload a NAT helper resized (Linux's
 * nf_conntrack_seqadj): once the FTP helper rewrote `PORT 10,0,0,5,...` into a longer or
 * shorter text, every later byte of that direction sits `delta` further on for the
 * receiver, so the sender's sequence numbers are moved by the sum of the changes so far
 * and the receiver's acknowledgements (and SACK blocks) moved back.
 *
 * The state is per connection entry and per direction: where the last change was made
 * (in the sender's own sequence space) and the offsets that hold for segments that start
 * at or before it and after it (a retransmission of the rewritten segment starts where it
 * did, so it gets the same offset as the first time). It lives on the connection entry
 * (ConnTracker.seqAdjOf; these three pairs of numbers are all a peer would need to go on
 * adjusting after a failover). Conntrack's own window tracking works in each sender's
 * sequence space: it reads a segment before it is adjusted and takes the offset out of
 * the acknowledgements it reads (tcp-tracker.ts), as Linux's tcp_in_window does.
 */
import { csumUpdate32, isPartialChecksum } from '../packet/checksum.js';
import { IpProto, PacketInfo, ParseStatus, TcpFlag } from '../packet/packet-info.js';
import { parseInner } from '../packet/parse.js';
import { TcpOptionKind, tcpFindOptionIn } from '../packet/tcp-options.js';

/** One connection's adjustment, per direction (CtDir: 0 original, 1 reply). */
export class SeqAdj {
  /** The sender's sequence number of the segment where the last length change was made. */
  readonly pos = new Uint32Array(2);
  /** Offset for segments starting at or before `pos` (the changes before the last one). */
  readonly before = new Int32Array(2);
  /** Offset for segments starting after `pos` (all changes). */
  readonly after = new Int32Array(2);
  /** Whether direction d has had a change (pos means nothing before). */
  readonly set = new Uint8Array(2);
}

/** a is after b in sequence space (RFC 9293 §3.4). */
function seqAfter(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

/**
 * Records a length change of `delta` bytes in a segment of direction `dir` starting at
 * `seq` (sender's space). The change must be in a segment after the last one's start
 * (false, nothing changed, otherwise: a change at an older place cannot be expressed).
 */
export function seqAdjRecord(a: SeqAdj, dir: number, seq: number, delta: number): boolean {
  seq >>>= 0;
  if (a.set[dir] === 1 && !seqAfter(seq, a.pos[dir]!)) return false;
  a.pos[dir] = seq;
  a.before[dir] = a.after[dir]!;
  a.after[dir] = a.after[dir]! + delta;
  a.set[dir] = 1;
  return true;
}

/** The offset for a segment of direction `dir` starting at `seq` (sender's space). */
export function seqOffset(a: SeqAdj, dir: number, seq: number): number {
  if (a.set[dir] === 0) return 0;
  return seqAfter(seq >>> 0, a.pos[dir]!) ? a.after[dir]! : a.before[dir]!;
}

/**
 * The offset to take out of an acknowledgement number `ack` that acknowledges data of
 * direction `dir` (it counts in the adjusted space the receiver saw): the one of the
 * segment it points after (Linux nf_ct_seq_adjust's ack side).
 */
export function ackOffset(a: SeqAdj, dir: number, ack: number): number {
  if (a.set[dir] === 0) return 0;
  return seqAfter((ack - a.before[dir]!) >>> 0, a.pos[dir]!) ? a.after[dir]! : a.before[dir]!;
}

function read32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

function write32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
}

/**
 * Moves a 32-bit field at buf[at] to `v`, updating the TCP checksum incrementally (a full
 * checksum only: under NeedsCsum the field holds the pseudo-header sum, which has no
 * sequence numbers in it).
 */
function set32(pkt: PacketInfo, at: number, v: number): void {
  const buf = pkt.buf;
  const old = read32(buf, at);
  v >>>= 0;
  if (old === v) return;
  if (!isPartialChecksum(pkt)) {
    const c = pkt.l4Off + 16;
    const check = (buf[c]! << 8) | buf[c + 1]!;
    const n = csumUpdate32(check, old, v);
    buf[c] = n >> 8;
    buf[c + 1] = n & 0xff;
  }
  write32(buf, at, v);
}

/**
 * Adjusts a TCP segment of direction `dir` in place: its sequence number by this
 * direction's offset, its acknowledgement number and SACK block edges (which count the
 * other direction's bytes) back by the other direction's. The checksum follows.
 */
export function seqAdjustPacket(a: SeqAdj, dir: number, pkt: PacketInfo): void {
  if (pkt.l4proto !== IpProto.Tcp || !pkt.l4Valid || pkt.inner) return;
  const l4 = pkt.l4Off;
  const seqOff = seqOffset(a, dir, pkt.seq);
  if (seqOff !== 0) {
    const seq = (pkt.seq + seqOff) >>> 0;
    set32(pkt, l4 + 4, seq);
    pkt.seq = seq;
  }
  const other = dir ^ 1;
  if (a.set[other] === 0 || (pkt.tcpFlags & TcpFlag.Ack) === 0) return;
  const ackOff = ackOffset(a, other, pkt.ack);
  if (ackOff !== 0) {
    const ack = (pkt.ack - ackOff) >>> 0;
    set32(pkt, l4 + 8, ack);
    pkt.ack = ack;
  }
  if (pkt.tcpOptLen <= 0) return;
  const p = tcpFindOptionIn(pkt.buf, pkt.tcpOptOff, pkt.tcpOptLen, TcpOptionKind.Sack, 0);
  if (p < 0) return;
  const len = pkt.buf[p + 1]!;
  if (len < 10 || ((len - 2) & 7) !== 0) return;
  for (let i = p + 2; i < p + len; i += 4) {
    const edge = read32(pkt.buf, i);
    set32(pkt, i, edge - ackOffset(a, other, edge));
  }
}

/** The segment an ICMP error quotes (seqAdjustQuoted): parsed here, reused. */
const quote = new PacketInfo();

/**
 * An ICMP or ICMPv6 error (`outer`) quoting a segment of direction `dir` as this node sent
 * it on (adjusted): its sequence number goes back to the sender's own space, and its
 * acknowledgement number (when quoted) back to the space the sender saw, so the sender's
 * stack finds the quoted segment within what it sent (TCP ignores an error whose quoted
 * sequence number is not: RFC 5927, Linux's tcp_v4_err). Linux's NAT leaves the quoted
 * sequence number as it is (nf_nat_icmp_reply_translation rewrites only addresses and
 * ports); OpenBSD pf translates it back for its modulated sequence numbers, as here. The
 * quoted TCP checksum (when quoted) and the ICMP checksum are updated by difference (a
 * full ICMP checksum only: under NeedsCsum the data is summed later). True when it changed
 * something.
 */
export function seqAdjustQuoted(a: SeqAdj, dir: number, outer: PacketInfo): boolean {
  if (outer.icmpInnerOff === 0 || (a.set[0] | a.set[1]) === 0) return false;
  const buf = outer.buf;
  const end = outer.end;
  if (parseInner(quote, buf, outer.icmpInnerOff, end) !== ParseStatus.Ok || quote.l4proto !== IpProto.Tcp) return false;
  const l4 = quote.l4Off;
  if (l4 + 8 > end) return false; // no sequence number quoted
  let changed = false;
  const seq = read32(buf, l4 + 4);
  const seqOff = ackOffset(a, dir, seq); // seq counts in the adjusted space, as an ack of this direction's data would
  if (seqOff !== 0) {
    setQuoted32(outer, l4, end, l4 + 4, seq - seqOff);
    changed = true;
  }
  const other = dir ^ 1;
  if (l4 + 14 <= end && a.set[other] === 1 && (buf[l4 + 13]! & TcpFlag.Ack) !== 0) {
    const ack = read32(buf, l4 + 8);
    const ackOff = seqOffset(a, other, ack); // ack counts in the other sender's own space: back to the adjusted one
    if (ackOff !== 0) {
      setQuoted32(outer, l4, end, l4 + 8, ack + ackOff);
      changed = true;
    }
  }
  return changed;
}

/** Moves a 32-bit field of the quoted TCP header (at `at`) to `v`: the quoted checksum, when there, and the ICMP checksum follow. */
function setQuoted32(outer: PacketInfo, l4: number, end: number, at: number, v: number): void {
  const buf = outer.buf;
  const old = read32(buf, at);
  v >>>= 0;
  // The quoted TCP checksum by difference: then the quote's sum, and so the ICMP checksum, are unchanged.
  const c = l4 + 16;
  if (c + 2 <= end) {
    const check = (buf[c]! << 8) | buf[c + 1]!;
    const n = csumUpdate32(check, old, v);
    buf[c] = n >> 8;
    buf[c + 1] = n & 0xff;
  } else if (!isPartialChecksum(outer)) {
    const ic = outer.l4Off + 2;
    const check = (buf[ic]! << 8) | buf[ic + 1]!;
    const n = csumUpdate32(check, old, v);
    buf[ic] = n >> 8;
    buf[ic + 1] = n & 0xff;
  }
  write32(buf, at, v);
}
