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
import { seqLt } from '../inet/index.js';

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
  /** Chunks sent by the walk in progress. */
  messages = 0;

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
    this.messages = 0;
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
    if (out.length > 0) this.messages++;
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
  /**
   * Newest walk the sink was told resyncBegin for (-1: none). Walks of one sender epoch
   * have growing ids; with reordering, chunks of the next walk can arrive before the DONE of
   * the previous one. The sink keeps one mark per owner, so only the newest walk marks, a
   * walk picked up again after a give-up keeps its first mark, and only the walk that owns
   * the mark sweeps at its end: a sweep with a later walk's mark would remove replicas the
   * earlier walk had just refreshed.
   */
  private marked = -1;
  /** The DONE being waited on (its walk's sequences must all arrive). */
  private doneWalk = -1;
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

  /** A chunk of walk `bulkId`: true when the sink must be told resyncBegin. */
  onChunk(bulkId: number, now: number): boolean {
    this.lastChunkAt = now;
    return this.mark(bulkId);
  }

  /** The DONE of walk `bulkId` (first chunk at `firstSeq`, DONE at `doneSeq`): true when the sink must be told resyncBegin (an empty walk). */
  onDone(bulkId: number, firstSeq: number, doneSeq: number, now: number): boolean {
    this.lastChunkAt = now;
    if (!this.doneSeen || seqLt(this.doneWalk, bulkId)) {
      this.doneWalk = bulkId;
      this.doneSeen = true;
      this.doneFirst = firstSeq;
      this.doneSeq = doneSeq;
    }
    return this.mark(bulkId);
  }

  private mark(bulkId: number): boolean {
    if (this.marked !== -1 && !seqLt(this.marked, bulkId)) return false;
    this.marked = bulkId;
    return true;
  }

  /**
   * Whether the walk whose DONE arrived is now complete: `null` if not; otherwise whether
   * the sink should sweep (call resyncEnd: replicas not refreshed since the mark are stale).
   * A complete walk puts the receiver in sync; every complete walk counts, even one another
   * node asked for: a full table is a full table.
   */
  check(rx: ReliableReceiver): { sweep: boolean } | null {
    if (!this.doneSeen) return null;
    if (rx.covers(this.doneFirst, this.doneSeq)) {
      this.synced = true;
      this.doneSeen = false;
      return { sweep: this.doneWalk === this.marked };
    }
    // Joined the walk after its first chunk, or gave part of it up: this walk cannot
    // complete us. If we need it, ask for another; otherwise repairs are on their way.
    if (seqLt(this.doneFirst, rx.coverageFrom)) {
      if (this.synced) this.doneSeen = false;
      else this.retryNow();
    }
    return null;
  }

  /** Lost part of the stream: not in sync any more, ask again at once. */
  invalidate(now: number): void {
    if (this.synced) this.startedAt = now;
    this.synced = false;
    this.retryNow();
  }

  private retryNow(): void {
    this.lastRequestAt = -Infinity;
    this.lastChunkAt = -Infinity;
    this.doneSeen = false;
  }

  /** Whether to send (another) RESYNC_REQUEST to this peer now. */
  shouldRequest(now: number, retryMs: number): boolean {
    if (this.synced) return false;
    return now - Math.max(this.lastRequestAt, this.lastChunkAt) >= retryMs;
  }
}
