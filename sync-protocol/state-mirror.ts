/**
 * The sync worker's copy of the local table, kept from the event stream it already reads:
 * the StateSource that answers NACKs with current state and streams resyncs, without asking
 * the datapath thread anything synchronously.
 *
 * Records are stored in the ring's binary slot layout (ring.ts), in one growable slab, and
 * a Map from connection key to slot number keeps the order a walk needs (insertion order:
 * a connection created during a walk is still visited, as with a Map of records). Holding
 * connections as JS objects (a record and its four address arrays each) cost 1,234 bytes
 * of heap apiece (measured with 500,000) and made every major collection trace them all;
 * here it is one short string, one Map entry and 160 bytes of slab, 229 bytes in all.
 * Records are rebuilt on demand (NACK answers, walks): short-lived objects the young
 * generation collects cheaply.
 */
import { EventKind, recordKey, type StateRecord, type StateSource } from './state-record.js';
import { SLOT_BYTES, readSlot, writeSlot } from './ring.js';

export class StateMirror implements StateSource {
  private readonly slots = new Map<string, number>();
  private slab: Uint8Array;
  private view: DataView;
  /** Slots never used yet start here; freed ones are reused first. */
  private highWater = 0;
  private readonly free: number[] = [];

  constructor(initialSlots = 1024) {
    this.slab = new Uint8Array(initialSlots * SLOT_BYTES);
    this.view = new DataView(this.slab.buffer);
  }

  get size(): number {
    return this.slots.size;
  }

  /** Follows one local event (new/update store the record, destroy forgets it). */
  note(rec: StateRecord, key: string = recordKey(rec)): void {
    if (rec.kind === EventKind.Destroy) {
      const s = this.slots.get(key);
      if (s !== undefined) {
        this.slots.delete(key);
        this.free.push(s);
      }
      return;
    }
    let s = this.slots.get(key);
    if (s === undefined) {
      s = this.take();
      this.slots.set(key, s);
    }
    writeSlot(this.view, this.slab, s * SLOT_BYTES, rec);
  }

  get(key: string): StateRecord | undefined {
    const s = this.slots.get(key);
    return s === undefined ? undefined : readSlot(this.view, this.slab, s * SLOT_BYTES);
  }

  entries(): Iterator<StateRecord> {
    const it = this.slots.values();
    return {
      next: (): IteratorResult<StateRecord> => {
        const r = it.next();
        // The slab may have grown since the walk began: read through the current view.
        return r.done ? { done: true, value: undefined } : { done: false, value: readSlot(this.view, this.slab, r.value * SLOT_BYTES) };
      },
    };
  }

  clear(): void {
    this.slots.clear();
    this.free.length = 0;
    this.highWater = 0;
  }

  private take(): number {
    const f = this.free.pop();
    if (f !== undefined) return f;
    if ((this.highWater + 1) * SLOT_BYTES > this.slab.length) {
      const next = new Uint8Array(this.slab.length * 2);
      next.set(this.slab);
      this.slab = next;
      this.view = new DataView(next.buffer);
    }
    return this.highWater++;
  }
}
