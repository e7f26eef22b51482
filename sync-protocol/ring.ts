/**
 * Single-producer / single-consumer ring of fixed-size binary state events in a
 * SharedArrayBuffer: the datapath thread pushes, the sync worker pops. The producer never
 * blocks and never allocates: when the ring is full the event is counted as dropped and the
 * "resync needed" flag is raised, so the worker rebuilds its view of the local table with a
 * full dump instead of losing the event silently (a lost event would leave a peer's table wrong
 * with nobody told).
 *
 * Control words (Int32Array over the first 32 bytes): write count, read count, drops, resync
 * flag, acknowledged count, three spare. Counts run freely modulo 2^32; slot = count &
 * (capacity - 1). Each side publishes its count with Atomics.store after touching the slot
 * (sequentially consistent, so the payload is visible before the count). The acknowledged
 * count is the consumer's answer to the producer: the events before it left in messages
 * that every live peer acknowledged (the datapath's deferral of new connections' first
 * packets waits for it: node/datapath/worker/defer.ts).
 *
 * Slot layout: derived from the record's field table (record-fields.ts: SLOT, SLOT_BYTES;
 * the places are listed in docs/sync-protocol.md §11).
 */
import type { StateRecord } from './record-fields.js';
import { SLOT_BYTES, readSlot, readSlotInto, writeSlot, ADDR_PLACES } from './record-codec.js';

export { SLOT, SLOT_BYTES } from './record-fields.js';
export { readSlot, writeSlot } from './record-codec.js';

/**
 * Kinds a ring slot may hold besides the EventKinds (never on the wire): a record of a
 * table walk the sync worker asked the table's thread for (LocalWalk in endpoint.ts; sent
 * in a RESYNC_CHUNK), and the end of that walk (the rest of the slot is not read).
 */
export const RING_WALK_RECORD = 3;
export const RING_WALK_END = 4;

const CTRL_BYTES = 32;
const W = 0;
const R = 1;
const DROPS = 2;
const RESYNC = 3;
const ACKED = 4;

export class EventRing {
  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  private readonly ctrl: Int32Array;
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  private readonly mask: number;

  /** A new ring of `capacity` slots (power of two), or an existing one shared from another thread. */
  constructor(capacityOrSab: number | SharedArrayBuffer) {
    if (typeof capacityOrSab === 'number') {
      const c = capacityOrSab;
      if (c < 2 || (c & (c - 1)) !== 0) throw new RangeError('ring capacity must be a power of two');
      this.sab = new SharedArrayBuffer(CTRL_BYTES + c * SLOT_BYTES);
    } else this.sab = capacityOrSab;
    this.capacity = (this.sab.byteLength - CTRL_BYTES) / SLOT_BYTES;
    if (!Number.isInteger(this.capacity) || (this.capacity & (this.capacity - 1)) !== 0) throw new RangeError('not an event ring buffer');
    this.ctrl = new Int32Array(this.sab, 0, 5);
    this.view = new DataView(this.sab, CTRL_BYTES);
    this.bytes = new Uint8Array(this.sab, CTRL_BYTES);
    this.mask = this.capacity - 1;
  }

  /** Events waiting. */
  get depth(): number {
    return (Atomics.load(this.ctrl, W) - Atomics.load(this.ctrl, R)) >>> 0;
  }

  /** Events pushed so far (modulo 2^32): the count an event's push made is its position. */
  get written(): number {
    return Atomics.load(this.ctrl, W) >>> 0;
  }

  /** Events taken by the consumer so far (modulo 2^32). */
  get read(): number {
    return Atomics.load(this.ctrl, R) >>> 0;
  }

  /** Events whose messages every live peer has acknowledged (modulo 2^32; see the module comment). */
  get acked(): number {
    return Atomics.load(this.ctrl, ACKED) >>> 0;
  }

  /** Consumer: the events before `count` are acknowledged; wakes a producer waiting in waitAcked(). */
  publishAcked(count: number): void {
    if (Atomics.load(this.ctrl, ACKED) === (count | 0)) return;
    Atomics.store(this.ctrl, ACKED, count | 0);
    Atomics.notify(this.ctrl, ACKED);
  }

  /** Producer: settles when the acknowledged count moves from `seen`, or null when it has already. */
  waitAcked(seen: number): Promise<unknown> | null {
    const res = waitAsync(this.ctrl, ACKED, seen | 0);
    return res.async ? res.value : null;
  }

  get drops(): number {
    return Atomics.load(this.ctrl, DROPS) >>> 0;
  }

  // ---- producer side (datapath) ----

  /**
   * Byte offset (into `slotView` / `slotBytes`) of the next free slot, or -1 when full (the
   * drop is counted and the resync flag raised). Fill it, then call commit().
   */
  reserve(): number {
    const w = Atomics.load(this.ctrl, W);
    if (((w - Atomics.load(this.ctrl, R)) >>> 0) >= this.capacity) {
      Atomics.add(this.ctrl, DROPS, 1);
      Atomics.store(this.ctrl, RESYNC, 1);
      return -1;
    }
    return (w & this.mask) * SLOT_BYTES;
  }

  commit(): void {
    Atomics.store(this.ctrl, W, (Atomics.load(this.ctrl, W) + 1) | 0);
  }

  get slotView(): DataView {
    return this.view;
  }
  get slotBytes(): Uint8Array {
    return this.bytes;
  }

  /**
   * Copies a record into the ring without allocating; false when full. A push into the
   * empty ring wakes a consumer parked in waitNonEmpty() (one futex wake per idle-to-busy
   * transition, not per event), so the worker needs no polling timer to see it.
   */
  push(r: StateRecord): boolean {
    const w = Atomics.load(this.ctrl, W);
    const wasEmpty = w === Atomics.load(this.ctrl, R);
    const o = this.reserve();
    if (o < 0) return false;
    writeSlot(this.view, this.bytes, o, r);
    this.commit();
    if (wasEmpty) Atomics.notify(this.ctrl, W, 1);
    return true;
  }

  // ---- consumer side (sync worker) ----

  /**
   * A promise that settles when the producer pushes into the (now) empty ring, or null when
   * the ring is not empty (pop now). Atomics.waitAsync compares and parks atomically, so a
   * push between the consumer's last pop and this call is never missed.
   */
  waitNonEmpty(): Promise<unknown> | null {
    const w = Atomics.load(this.ctrl, W);
    if (w !== Atomics.load(this.ctrl, R)) return null;
    const res = waitAsync(this.ctrl, W, w);
    return res.async ? res.value : null;
  }

  /**
   * Byte offset (into `slotView` / `slotBytes`) of the next event, read in place, or -1 when
   * the ring is empty. The slot stays the consumer's until advance().
   */
  peek(): number {
    const rd = Atomics.load(this.ctrl, R);
    if (rd === Atomics.load(this.ctrl, W)) return -1;
    return (rd & this.mask) * SLOT_BYTES;
  }

  /** Done with the slot peek() gave: the producer may reuse it. */
  advance(): void {
    Atomics.store(this.ctrl, R, (Atomics.load(this.ctrl, R) + 1) | 0);
  }

  /** The next event as a record (allocates), or undefined. */
  pop(): StateRecord | undefined {
    const rd = Atomics.load(this.ctrl, R);
    if (rd === Atomics.load(this.ctrl, W)) return undefined;
    const rec = readSlot(this.view, this.bytes, (rd & this.mask) * SLOT_BYTES);
    Atomics.store(this.ctrl, R, (rd + 1) | 0);
    return rec;
  }

  /** True once after the producer dropped an event: the consumer must rebuild from a full dump. */
  takeResyncNeeded(): boolean {
    return Atomics.exchange(this.ctrl, RESYNC, 0) === 1;
  }
}

/** Atomics.waitAsync (ES2024; in V8 since Node 16) without needing the ES2024 lib typings. */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

/**
 * Reads slots into one reused record (no allocation: for the thread that owns the table).
 * Address fields are views of fixed arrays, 4 or 16 bytes by family; valid until the next read.
 */
export class SlotReader {
  private readonly a16 = Array.from({ length: ADDR_PLACES }, () => new Uint8Array(16));
  private readonly a4 = this.a16.map((a) => a.subarray(0, 4));
  private readonly nat = { kind: 0, addr: this.a16[ADDR_PLACES - 1]!, port: 0 };
  readonly rec: StateRecord = readSlot(new DataView(new ArrayBuffer(SLOT_BYTES)), new Uint8Array(SLOT_BYTES), 0);

  read(v: DataView, b: Uint8Array, o: number): StateRecord {
    return readSlotInto(v, b, o, this.rec, this.a4, this.a16, this.nat);
  }
}
