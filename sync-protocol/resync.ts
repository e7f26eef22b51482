/**
 * Full-table resynchronisation (pfsync's "bulk update", done so the receiver knows when it
 * is complete).
 *
 * Sender side (BulkSender): a request starts a walk of the local table; each tick sends a
 * bounded number of RESYNC_CHUNK messages, so live DATA keeps flowing between chunks. The
 * chunks and the closing RESYNC_DONE ride the sequenced stream, so they are NACKed and
 * repaired like DATA. A request arriving after a walk already sent its first chunk schedules
 * one more walk (the requester missed the start); requests are otherwise merged.
 *
 * Receiver side (ResyncState, one per peer epoch): in sync with a peer only when a
 * RESYNC_DONE arrived AND every sequence from that walk's first chunk to the DONE was
 * received with no give-up in between. Anything less (joined mid-walk, LOST, too far behind,
 * peer restarted) means asking again.
 */
import type { StateRecord, StateSource } from './state-record.js';
import { recordSize } from './wire.js';
import type { ReliableReceiver } from './reliability.js';
import { seqLt } from './serial.js';

export class BulkSender {
  private walk: Iterator<StateRecord> | null = null;
  private carry: StateRecord | null = null;
  private again = false;
  private nextId = 1;
  /** Id of the walk in progress. */
  bulkId = 0;
  /** Sequence of the walk's first chunk (-1 before it is sent). */
  firstSeq = -1;
  /** Records sent by the walk in progress. */
  count = 0;

  constructor(private readonly source: StateSource) {}

  get active(): boolean {
    return this.walk !== null;
  }

  /** A peer asked for our table. */
  request(): void {
    if (this.walk === null) this.begin();
    else if (this.firstSeq !== -1) this.again = true;
  }

  private begin(): void {
    this.walk = this.source.entries();
    this.carry = null;
    this.bulkId = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    this.firstSeq = -1;
    this.count = 0;
  }

  /** Up to `budget` bytes of records for the next chunk; empty when the table is exhausted. */
  take(budget: number): StateRecord[] {
    const out: StateRecord[] = [];
    if (this.walk === null) return out;
    let used = 0;
    for (;;) {
      let r: StateRecord;
      if (this.carry !== null) {
        r = this.carry;
        this.carry = null;
      } else {
        const it = this.walk.next();
        if (it.done) break;
        r = it.value;
      }
      const size = recordSize(r);
      if (out.length > 0 && used + size > budget) {
        this.carry = r;
        break;
      }
      out.push(r);
      used += size;
    }
    this.count += out.length;
    return out;
  }

  /** The walk ended (DONE sent): start the scheduled next one, if any. */
  finish(): void {
    this.walk = null;
    this.carry = null;
    if (this.again) {
      this.again = false;
      this.begin();
    }
  }
}

export class ResyncState {
  synced = false;
  /** Walk of the peer we are collecting (-1: none). */
  bulkId = -1;
  private doneFirst = 0;
  private doneSeq = 0;
  private doneSeen = false;
  lastRequestAt = -Infinity;
  lastChunkAt = -Infinity;
  /** When this round of resync started (for the duration metric). */
  startedAt: number;

  constructor(now: number) {
    this.startedAt = now;
  }

  /** A chunk of walk `bulkId`: true when it is a walk we had not seen (call sink.resyncBegin). */
  onChunk(bulkId: number, now: number): boolean {
    this.lastChunkAt = now;
    if (bulkId === this.bulkId) return false;
    this.bulkId = bulkId;
    this.doneSeen = false;
    return true;
  }

  onDone(bulkId: number, firstSeq: number, doneSeq: number, now: number): boolean {
    this.lastChunkAt = now;
    const fresh = bulkId !== this.bulkId;
    this.bulkId = bulkId;
    this.doneSeen = true;
    this.doneFirst = firstSeq;
    this.doneSeq = doneSeq;
    return fresh;
  }

  /**
   * True when the walk being collected is complete (the receiver is then in sync, and
   * replicas not refreshed since the walk began are stale). Every complete walk counts, even
   * one another node asked for: a full table is a full table.
   */
  check(rx: ReliableReceiver): boolean {
    if (!this.doneSeen) return false;
    if (rx.covers(this.doneFirst, this.doneSeq)) {
      this.synced = true;
      this.doneSeen = false;
      return true;
    }
    // Joined the walk after its first chunk, or gave part of it up: this walk cannot
    // complete us. If we need it, ask for another; otherwise repairs are on their way.
    if (seqLt(this.doneFirst, rx.coverageFrom)) {
      if (this.synced) this.doneSeen = false;
      else this.retryNow();
    }
    return false;
  }

  /** Lost part of the stream: not in sync any more, ask again at once. */
  invalidate(now: number): void {
    if (this.synced) this.startedAt = now;
    this.synced = false;
    this.doneSeen = false;
    this.bulkId = -1;
    this.retryNow();
  }

  private retryNow(): void {
    this.lastRequestAt = -Infinity;
    this.lastChunkAt = -Infinity;
    this.doneSeen = false;
    this.bulkId = -1;
  }

  /** Whether to send (another) RESYNC_REQUEST to this peer now. */
  shouldRequest(now: number, retryMs: number): boolean {
    if (this.synced) return false;
    return now - Math.max(this.lastRequestAt, this.lastChunkAt) >= retryMs;
  }
}
