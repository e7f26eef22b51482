/**
 * Reliability of the sequenced stream (DATA, RESYNC_CHUNK, RESYNC_DONE), as two pure state
 * machines: the sender's resend queue and the receiver's gap tracker. No clocks are read;
 * `now` is passed in. The shape follows conntrackd's FTFW (sequence numbers, ACK, NACK of
 * ranges, ALIVE when idle) with two changes: a retransmission carries the CURRENT state of
 * the connections the lost message described (so nothing stale is replayed), and a NACK for
 * sequences no longer held is answered with LOST, which makes the receiver resync instead of
 * living with a silent gap.
 */
import { MessageType } from './wire.js';
import { seqAdd, seqDiff, seqLe, seqLt, seqRangeInverted } from '../inet/index.js';

/** One sequenced message as the sender remembers it. */
export interface SentEntry {
  seq: number;
  type: MessageType;
  /**
   * The datagram as sent (DATA / RESYNC_CHUNK: its records say which connections to resend
   * with their current state). Bytes, not record objects: every message stays held until
   * acknowledged, and objects held that long are what the collector copies and promotes.
   */
  datagram: Uint8Array | null;
  bulkId: number;
  /** RESYNC_DONE fields. */
  firstSeq: number;
  count: number;
  lastSentAt: number;
  /** Waiting in the endpoint's retransmission backlog (so a second NACK does not queue it twice). */
  resendQueued: boolean;
}

interface SenderOptions {
  /** First data sequence number (random in production, chosen in tests to cross the wrap). */
  initialSeq: number;
  /** Most messages held for retransmission; a power of two. */
  queueSize: number;
  /** A sequence is resent at most once per this interval however many NACKs ask (NACK storms from several receivers). */
  minResendIntervalMs: number;
  /** Peers not heard from for this long no longer hold back the trimming of the queue. */
  peerTimeoutMs: number;
}

export interface NackAnswer {
  resend: SentEntry[];
  /** Flat inclusive [from, to, ...] ranges that are no longer held. */
  lost: number[];
}

export class ReliableSender {
  private readonly ring: (SentEntry | undefined)[];
  private readonly mask: number;
  private next: number;
  /** Oldest sequence still held. */
  private oldest: number;
  private readonly peers = new Map<number, { ack: number; heardAt: number }>();

  constructor(private readonly opts: SenderOptions) {
    const n = opts.queueSize;
    if (n < 2 || (n & (n - 1)) !== 0) throw new RangeError('queueSize must be a power of two');
    this.ring = new Array(n);
    this.mask = n - 1;
    this.next = opts.initialSeq >>> 0;
    this.oldest = this.next;
  }

  /** Last sequence sent (initialSeq - 1 before the first). */
  get lastSeq(): number {
    return seqAdd(this.next, -1);
  }

  /** Messages held for retransmission. */
  get queued(): number {
    return seqDiff(this.oldest, this.next);
  }

  /** Takes the next sequence number for a message and remembers it (evicting the oldest when full). */
  record(type: MessageType, datagram: Uint8Array | null, bulkId: number, firstSeq: number, count: number, now: number): number {
    const seq = this.next;
    if (this.queued >= this.ring.length) {
      this.ring[this.oldest & this.mask] = undefined;
      this.oldest = seqAdd(this.oldest, 1);
    }
    this.ring[seq & this.mask] = { seq, type, datagram, bulkId, firstSeq, count, lastSentAt: now, resendQueued: false };
    this.next = seqAdd(seq, 1);
    return seq;
  }

  /** The held entry for `seq`, if any. */
  held(seq: number): SentEntry | undefined {
    if (seqLt(seq, this.oldest) || !seqLt(seq, this.next)) return undefined;
    return this.ring[seq & this.mask];
  }

  /** An ACK from `peer`: everything up to `cumAck` arrived there. Trims what every live peer has. */
  onAck(peer: number, cumAck: number, now: number): void {
    const p = this.peers.get(peer);
    if (p === undefined) this.peers.set(peer, { ack: cumAck, heardAt: now });
    else {
      if (seqLt(p.ack, cumAck) && seqLt(cumAck, this.next)) p.ack = cumAck;
      p.heardAt = now;
    }
    this.trim(now);
  }

  /** Whether every live peer has acknowledged `seq` (it is no longer held). */
  isAcked(seq: number): boolean {
    return seqLt(seq, this.oldest);
  }

  /** Whether any peer has ACKed within the peer timeout (someone holds back trimming). */
  hasLivePeers(now: number): boolean {
    for (const p of this.peers.values()) if (now - p.heardAt <= this.opts.peerTimeoutMs) return true;
    return false;
  }

  forgetPeer(peer: number): void {
    this.peers.delete(peer);
  }

  private trim(now: number): void {
    let min = -1;
    let minSet = false;
    for (const [id, p] of this.peers) {
      if (now - p.heardAt > this.opts.peerTimeoutMs) {
        this.peers.delete(id);
        continue;
      }
      if (!minSet || seqLt(p.ack, min)) {
        min = p.ack;
        minSet = true;
      }
    }
    if (!minSet) return;
    while (seqLe(this.oldest, min) && seqLt(this.oldest, this.next)) {
      this.ring[this.oldest & this.mask] = undefined;
      this.oldest = seqAdd(this.oldest, 1);
    }
  }

  /**
   * Which held messages to resend for a NACK of [from, to], and which part is gone. The
   * range is clamped to what was sent: sequences after the last one sent are ignored, the
   * held part is walked (at most the queue's length) and the part before the oldest held
   * message is answered LOST as one range, never walked. An inverted range (to before from,
   * seqRangeInverted) is ignored (the caller counts it). Positions are counted back from
   * the next sequence, so no comparison depends on where the 2^32 wrap falls.
   */
  answerNack(peer: number, from: number, to: number, now: number, out: NackAnswer): void {
    from >>>= 0;
    to >>>= 0;
    if (seqRangeInverted(from, to)) return;
    const next = this.next;
    const back = (s: number): number => (next - s) >>> 0; // 1 = the last sequence sent
    let bf = back(from);
    // `from` after the last sequence sent, or further back than serial order reaches:
    // nothing this sender can say anything about.
    if (bf === 0 || bf >= HALF) return;
    let bt = back(to);
    if (bt === 0 || bt > bf) bt = 1; // `to` after the last sequence sent
    // A NACK overtaken by the repair (it left before the retransmission arrived, then the
    // ACK trimmed the queue) names sequences the peer already has: answering LOST would
    // make it resync for nothing.
    const acked = this.peers.get(peer)?.ack;
    if (acked !== undefined) {
      const ba = back(seqAdd(acked, 1)); // first sequence the peer does not have
      if (ba < bf) {
        if (ba < bt) return;
        bf = ba;
      }
    }
    const held = this.queued;
    if (bf > held) {
      // Evicted: one LOST range, however long.
      out.lost.push(seqAdd(next, -bf), seqAdd(next, -Math.max(bt, held + 1)));
      if (bt > held) return;
      bf = held;
    }
    for (let b = bf; b >= bt; b--) {
      const e = this.ring[(next - b) & this.mask];
      if (e !== undefined && now - e.lastSentAt >= this.opts.minResendIntervalMs) {
        e.lastSentAt = now;
        out.resend.push(e);
      }
    }
  }
}

/** 2^31: serial-number comparisons reach this far (RFC 1982). */
const HALF = 0x80000000;

export const enum DataVerdict {
  /** New in-window sequence. */
  Ok = 0,
  /** Before the cumulative point: a late copy or a message given up on; apply, nothing to track. */
  Old = 1,
  /** Too far ahead of what we have: the window was reset and a resync is needed. */
  TooFar = 2,
}

interface ReceiverOptions {
  /** How far ahead of the first missing sequence we track (power of two); beyond it we resync. */
  window: number;
  /** Missing sequences are NACKed again after this long. */
  nackRetryMs: number;
}

export class ReliableReceiver {
  private readonly bits: Uint32Array;
  private readonly mask: number;
  /** Next sequence expected: everything before it arrived (or was given up). */
  private base: number;
  /** Highest sequence known to exist (received or announced by ALIVE). */
  private highest: number;
  /** First sequence from which the stream is complete (no give-ups since): resync coverage. */
  coverageFrom: number;
  private readonly fresh: number[] = [];
  private retryAt = Infinity;
  /** Sequences found missing (each counted once). */
  gaps = 0;

  constructor(firstSeq: number, private readonly opts: ReceiverOptions) {
    if (opts.window < 32 || (opts.window & (opts.window - 1)) !== 0) throw new RangeError('window must be a power of two');
    this.bits = new Uint32Array(opts.window >>> 5);
    this.mask = opts.window - 1;
    this.base = firstSeq >>> 0;
    this.highest = seqAdd(this.base, -1);
    this.coverageFrom = this.base;
  }

  /** Highest sequence known to exist (received, or announced by ALIVE or LOST). */
  get highestKnown(): number {
    return this.highest;
  }

  /** All sequences up to this one arrived. */
  get cumAck(): number {
    return seqAdd(this.base, -1);
  }

  get missing(): boolean {
    return seqLt(this.base, seqAdd(this.highest, 1));
  }

  /** True when every sequence up to `seq` is in (and the stream was complete from `from`). */
  covers(from: number, seq: number): boolean {
    return seqLe(this.coverageFrom, from) && seqLt(seq, this.base);
  }

  onData(seq: number, now: number): DataVerdict {
    const d = seqDiff(this.base, seq);
    if (d < 0) return DataVerdict.Old;
    if (d >= this.opts.window) {
      this.restartAt(seq);
      this.base = seqAdd(seq, 1);
      this.highest = seq;
      return DataVerdict.TooFar;
    }
    this.set(seq);
    this.extendTo(seq, now);
    this.advance();
    return DataVerdict.Ok;
  }

  /** ALIVE: the sender has sent up to `lastSeq`; anything beyond what we saw is missing. */
  onAlive(lastSeq: number, now: number): DataVerdict {
    const d = seqDiff(this.base, lastSeq);
    if (d < 0) return DataVerdict.Ok;
    if (d >= this.opts.window) {
      this.restartAt(seqAdd(lastSeq, 1));
      return DataVerdict.TooFar;
    }
    if (seqLt(this.highest, lastSeq)) {
      // Everything after what we saw, up to and including lastSeq, is missing.
      this.fresh.push(seqAdd(this.highest, 1), lastSeq);
      this.gaps += seqDiff(this.highest, lastSeq);
      if (this.retryAt === Infinity) this.retryAt = now + this.opts.nackRetryMs;
      this.highest = lastSeq;
    }
    return DataVerdict.Ok;
  }

  /**
   * The sender cannot repair [from, to] (LOST): stop asking, and note the stream is
   * incomplete. Returns false when every one of those sequences had already arrived (a
   * LOST answering a stale NACK): nothing was lost. The range is clamped to the window: the
   * part before the cumulative point is done with, a `to` beyond the window restarts the
   * window there (resync) instead of walking; so at most `window` sequences are walked. An
   * inverted range (seqRangeInverted) is ignored (false; the caller counts it).
   */
  giveUp(from: number, to: number): boolean {
    from >>>= 0;
    to >>>= 0;
    if (seqRangeInverted(from, to)) return false;
    const dTo = seqDiff(this.base, to);
    if (dTo < 0) return false;
    if (dTo >= this.opts.window) {
      this.restartAt(seqAdd(to, 1));
      return true;
    }
    // to - from < 2^31 and to within the window: from - base is exact in 32 bits.
    if (seqDiff(this.base, from) < 0) from = this.base;
    let missed = false;
    for (let s = from; ; s = seqAdd(s, 1)) {
      if (!this.test(s) || seqLt(this.highest, s)) missed = true;
      this.set(s);
      if (s === to) break;
    }
    if (!missed) return false;
    if (seqLt(this.highest, to)) this.highest = to;
    this.advance();
    if (seqLt(this.coverageFrom, seqAdd(to, 1))) this.coverageFrom = seqAdd(to, 1);
    return true;
  }

  /**
   * Appends ranges to NACK now (flat [from, to, ...], at most `max` ranges): new gaps as soon
   * as they are seen, all missing ranges again every nackRetryMs.
   */
  collectNacks(now: number, out: number[], max: number): void {
    if (!this.missing) {
      this.fresh.length = 0;
      this.retryAt = Infinity;
      return;
    }
    if (now >= this.retryAt) {
      this.fresh.length = 0;
      this.missingRanges(out, max);
      this.retryAt = now + this.opts.nackRetryMs;
      return;
    }
    for (let i = 0; i + 1 < this.fresh.length && out.length < 2 * max; i += 2) {
      let from = this.fresh[i]!;
      const to = this.fresh[i + 1]!;
      if (seqLt(to, this.base)) continue;
      if (seqLt(from, this.base)) from = this.base;
      out.push(from, to);
    }
    this.fresh.length = 0;
  }

  /** When collectNacks has something to say (Infinity when nothing). */
  nackDueAt(): number {
    if (this.fresh.length > 0) return 0;
    return this.missing ? this.retryAt : Infinity;
  }

  private restartAt(seq: number): void {
    this.bits.fill(0);
    this.base = seq >>> 0;
    this.highest = seqAdd(seq, -1);
    this.coverageFrom = this.base;
    this.fresh.length = 0;
    this.retryAt = Infinity;
  }

  private extendTo(seq: number, now: number): void {
    const gap = seqDiff(this.highest, seq) - 1;
    if (gap > 0) {
      this.fresh.push(seqAdd(this.highest, 1), seqAdd(seq, -1));
      this.gaps += gap;
      if (this.retryAt === Infinity) this.retryAt = now + this.opts.nackRetryMs;
    }
    if (seqLt(this.highest, seq)) this.highest = seq;
  }

  private advance(): void {
    while (this.test(this.base) && seqLe(this.base, this.highest)) {
      this.clear(this.base);
      this.base = seqAdd(this.base, 1);
    }
  }

  private missingRanges(out: number[], max: number): void {
    let s = this.base;
    let runStart = -1;
    while (seqLe(s, this.highest) && out.length < 2 * max) {
      const have = this.test(s);
      if (!have && runStart < 0) runStart = s;
      if (have && runStart >= 0) {
        out.push(runStart, seqAdd(s, -1));
        runStart = -1;
      }
      s = seqAdd(s, 1);
    }
    if (runStart >= 0 && out.length < 2 * max) out.push(runStart, seqAdd(s, -1));
  }

  private test(seq: number): boolean {
    const i = seq & this.mask;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }
  private set(seq: number): void {
    const i = seq & this.mask;
    this.bits[i >>> 5] |= 1 << (i & 31);
  }
  private clear(seq: number): void {
    const i = seq & this.mask;
    this.bits[i >>> 5] &= ~(1 << (i & 31));
  }
}
