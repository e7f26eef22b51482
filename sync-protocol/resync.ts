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
import { EventKind, SLOT } from './record-fields.js';
import { SLOT_BYTES } from './ring.js';
import type { StateMirror } from './state-mirror.js';
import { slotRecordSize } from './wire.js';
import type { ReliableReceiver } from './reliability.js';
import { seqLt } from '../inet/index.js';

export class BulkSender {
  private walk: { next(): number } | null = null;
  /** Slot that did not fit the last chunk (-1: none). */
  private carry = -1;
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
  /**
   * The last take(): byte offsets into the mirror's slab (slabView / slabBytes) of the
   * chunk's records, and the kind each is sent with. Valid until the mirror changes.
   */
  readonly at: number[] = [];
  readonly kinds: number[] = [];

  constructor(private readonly source: StateMirror) {}

  get active(): boolean {
    return this.walk !== null;
  }

  /** A peer asked for our table. */
  request(): void {
    if (this.walk === null) this.begin();
    else if (this.firstSeq !== -1) this.again = true;
  }

  private begin(): void {
    this.walk = this.source.walkSlots();
    this.carry = -1;
    this.bulkId = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    this.firstSeq = -1;
    this.count = 0;
    this.messages = 0;
  }

  /**
   * The next chunk: up to `budget` bytes of records (at least one), read in place from the
   * mirror's slots into `at` / `kinds`; returns how many (0 when the table is exhausted).
   */
  take(budget: number): number {
    const at = this.at;
    const kinds = this.kinds;
    at.length = 0;
    kinds.length = 0;
    if (this.walk === null) return 0;
    const v = this.source.slabView;
    const b = this.source.slabBytes;
    let used = 0;
    for (;;) {
      let s: number;
      if (this.carry >= 0) {
        s = this.carry;
        this.carry = -1;
        // Kept since the last chunk: destroyed since, it is not sent.
        if (!this.source.isLive(s)) continue;
      } else {
        s = this.walk.next();
        if (s < 0) break;
      }
      const o = s * SLOT_BYTES;
      const size = slotRecordSize(v, b, o);
      if (at.length > 0 && used + size > budget) {
        this.carry = s;
        break;
      }
      at.push(o);
      kinds.push(b[o + SLOT.kind]!);
      used += size;
    }
    this.count += at.length;
    if (at.length > 0) this.messages++;
    return at.length;
  }

  /** The walk ended (DONE sent): start the scheduled next one, if any. */
  finish(): void {
    this.walk = null;
    this.carry = -1;
    if (this.again) {
      this.again = false;
      this.begin();
    }
  }
}

/**
 * What a node that keeps no copy of its table gives the endpoint: the table's owner (the
 * datapath thread) walks it where it lives and puts each local connection in the event
 * ring as a RING_WALK_RECORD, in order with the live events, then a RING_WALK_END.
 */
export interface LocalWalk {
  /**
   * Asks for `records` more records of the walk; `start`: a new walk from the table's
   * beginning (the previous one ended). The owner may end the walk before using them all.
   */
  request(start: boolean, records: number): void;
}

/** Walk records held for the next chunk at most (a chunk of the smallest records has fewer). */
const CHUNK_SLOTS = 128;

/**
 * The sender side of a resync when the table is walked by its owner (LocalWalk): asks for
 * records as the walk's window has room (credit), and holds the records that came for the
 * chunk being filled, copied out of the ring.
 */
export class TableBulk {
  active = false;
  /** The owner was asked for this walk's first records. */
  started = false;
  private again = false;
  private nextId = 1;
  bulkId = 0;
  /** Sequence of the walk's first chunk (-1 before it is sent). */
  firstSeq = -1;
  /** Records sent or held by the walk in progress, and chunks sent. */
  count = 0;
  messages = 0;
  /** Records asked for and not come yet. */
  outstanding = 0;
  /** Records held for the chunk being filled: slots of `bytes`, at byte offsets `at`, sent with `kinds`. */
  held = 0;
  private used = 0;
  readonly bytes = new Uint8Array(CHUNK_SLOTS * SLOT_BYTES);
  readonly view = new DataView(this.bytes.buffer);
  readonly at: number[] = [];
  readonly kinds: number[] = [];

  constructor(private readonly owner: LocalWalk) {}

  /** Records per chunk so far in this walk (an estimate before the first one). */
  get perChunk(): number {
    return this.messages > 0 ? Math.max(1, this.count / this.messages) : 12;
  }

  /** A peer asked for our table (merged with a walk that has not sent a chunk yet). */
  request(): void {
    if (!this.active) this.begin();
    else if (this.firstSeq !== -1) this.again = true;
  }

  private begin(): void {
    this.active = true;
    this.started = false;
    this.bulkId = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    this.firstSeq = -1;
    this.count = 0;
    this.messages = 0;
    this.outstanding = 0;
    this.held = 0;
    this.used = 0;
    this.at.length = 0;
    this.kinds.length = 0;
  }

  grant(records: number): void {
    this.outstanding += records;
    const start = !this.started;
    this.started = true;
    this.owner.request(start, records);
  }

  /**
   * Holds the walk record in the ring-layout slot at `o` (stamped `stamp`) for the chunk
   * being filled; false when it does not fit in `budget` bytes with those held (send them first).
   */
  add(v: DataView, b: Uint8Array, o: number, stamp: number, budget: number): boolean {
    const size = slotRecordSize(v, b, o);
    if (this.held > 0 && (this.used + size > budget || this.held === CHUNK_SLOTS)) return false;
    const at = this.held * SLOT_BYTES;
    this.bytes.set(b.subarray(o, o + SLOT_BYTES), at);
    this.view.setFloat64(at + SLOT.stamp, stamp, true);
    this.at.push(at);
    this.kinds.push(EventKind.New);
    this.used += size;
    this.held++;
    this.count++;
    if (this.outstanding > 0) this.outstanding--;
    return true;
  }

  /** The held records left in a chunk. */
  sent(): void {
    this.messages++;
    this.held = 0;
    this.used = 0;
    this.at.length = 0;
    this.kinds.length = 0;
  }

  /** The walk ended (DONE sent): start the scheduled next one, if any. */
  finish(): void {
    this.active = false;
    this.outstanding = 0;
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
