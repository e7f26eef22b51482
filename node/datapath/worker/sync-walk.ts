/**
 * The resync walk of the local table, done where the table lives (the datapath thread), so
 * the sync worker keeps no copy of it (LocalWalk in sync-protocol/resync.ts). The worker
 * asks for records as its walk window opens (`request`); each is put in the event ring as
 * a RING_WALK_RECORD, in order with the live events, and RING_WALK_END closes the walk.
 * The ring's order is what keeps a walk record from overtaking newer state: the worker
 * sends a walk's records before any event that came after them.
 *
 * Bounded: a turn looks at `slotsPerTurn` slots and puts at most `perTurn` records and half
 * the ring's free room (the rest is for live events: a full ring costs a full resync), and
 * never more than the worker asked for. Turns follow each other on the thread's event loop
 * (packets are served in between) while there is credit; with the ring short of room, a
 * timer's millisecond later.
 *
 * Connections that appear behind the walk's position while it runs (a new connection in a
 * freed slot, a replica adopted) are sent live, but a receiver may apply that before the
 * walk's first chunk and then sweep them as not refreshed: they are marked and visited
 * once more after the main pass (the worker's old mirror walk visited them in insertion order).
 */
import type { ConnTracker } from '../../conntrack/index.js';
import type { SyncBridge } from './sync-bridge.js';

export interface TableWalkOptions {
  /** Records put in the ring per turn at most. */
  perTurn: number;
  /** Table slots looked at per turn at most. */
  slotsPerTurn: number;
}

export const TABLE_WALK_DEFAULTS: TableWalkOptions = { perTurn: 1024, slotsPerTurn: 65536 };

export class TableWalker {
  /** Next slot of the main pass; -1: not in the main pass. */
  private cursor = -1;
  /** Next bitmap word of the pass over the marked entries; -1: not in it. */
  private tail = -1;
  /** The walk has ended its passes and owes the end marker. */
  private ending = false;
  /** Records the worker asked for and not put in the ring yet. */
  private credit = 0;
  /** Entries marked behind the walk's position (one bit each; made at the first walk). */
  private marked: Uint32Array | null = null;
  private scheduled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  /** Records put in the ring, and walks ended (tests, metrics). */
  records = 0;
  walks = 0;

  constructor(
    private readonly ct: ConnTracker,
    private readonly bridge: SyncBridge,
    private readonly opts: TableWalkOptions = TABLE_WALK_DEFAULTS,
    /** Run turns by hand (tests): no scheduling. */
    private readonly manual = false,
  ) {
    bridge.walkNote = (e) => this.note(e);
  }

  get walking(): boolean {
    return this.cursor >= 0 || this.tail >= 0 || this.ending;
  }

  /** The worker asks for `records` more; `start`: a new walk from slot 0 (one in progress is dropped). */
  request(start: boolean, records: number): void {
    if (start) {
      this.cursor = 0;
      this.tail = -1;
      this.ending = false;
      this.credit = 0;
      if (this.marked === null) this.marked = new Uint32Array(Math.ceil(this.ct.capacity / 32));
      else this.marked.fill(0);
    }
    if (!this.walking) return;
    this.credit += Math.max(0, Math.floor(records));
    this.schedule(false);
  }

  stop(): void {
    this.cursor = -1;
    this.tail = -1;
    this.ending = false;
    this.credit = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.scheduled = false;
  }

  /** An entry became this node's to replicate: marked when the walk already passed its slot. */
  private note(entry: number): void {
    const m = this.marked;
    if (m === null || !this.walking) return;
    if (this.cursor >= 0 && entry >= this.cursor) return; // the main pass still comes to it
    m[entry >>> 5]! |= 1 << (entry & 31);
  }

  /** One bounded turn; returns the records it put in the ring. */
  turn(): number {
    if (!this.walking) return 0;
    const ct = this.ct;
    const bridge = this.bridge;
    // Half the free room, one slot kept for the end marker.
    const room = Math.min(this.opts.perTurn, this.credit, Math.floor(bridge.ringRoom / 2) - 1);
    let n = 0;
    if (this.cursor >= 0) {
      let e = this.cursor;
      const end = Math.min(ct.capacity, e + this.opts.slotsPerTurn);
      for (; e < end && n < room; e++) if (bridge.pushWalk(e)) n++;
      if (e >= ct.capacity) {
        this.cursor = -1;
        this.tail = 0;
      } else this.cursor = e;
    }
    const m = this.marked!;
    if (this.tail >= 0) {
      let w = this.tail;
      const end = Math.min(m.length, w + Math.max(1, this.opts.slotsPerTurn >>> 5));
      for (; w < end && n < room; w++) {
        while (m[w] !== 0 && n < room) {
          const bits = m[w]!;
          const bit = 31 - Math.clz32(bits & -bits);
          m[w] = bits & ~(1 << bit);
          if (bridge.pushWalk(w * 32 + bit)) n++;
        }
        if (m[w] !== 0) break;
      }
      if (w >= m.length) {
        this.tail = -1;
        this.ending = true;
      } else this.tail = w;
    }
    this.credit -= n;
    this.records += n;
    if (this.ending && bridge.ringRoom > 0 && bridge.pushWalkEnd()) {
      this.ending = false;
      this.credit = 0;
      this.walks++;
    }
    return n;
  }

  private schedule(later: boolean): void {
    if (this.manual || this.scheduled) return;
    this.scheduled = true;
    const run = (): void => {
      this.scheduled = false;
      this.timer = undefined;
      this.immediate = undefined;
      const short = Math.floor(this.bridge.ringRoom / 2) - 1 <= 0;
      this.turn();
      if (!this.walking) return;
      // Goes on while the worker's credit lasts (the end marker needs none); with the ring
      // short of room, after a timer's millisecond instead of at once.
      if (this.credit > 0 || this.ending) this.schedule(short);
    };
    if (later) this.timer = setTimeout(run, 1);
    else this.immediate = setImmediate(run);
  }
}
