/**
 * The sync worker's copy of the local table, kept from the event stream it already reads:
 * the StateSource that answers NACKs with current state and streams resyncs, without asking
 * the datapath thread anything synchronously.
 *
 * Records are stored in the ring's binary slot layout (ring.ts), in one growable slab. A Map
 * from a 30-bit hash of the connection's identity to the first slot with that hash finds
 * them (slots sharing a hash are chained); small-integer keys cost the Map no allocation,
 * so a connection costs no JavaScript object at all for as long as it lives. Holding
 * connections as JS objects (a record and its four address arrays each) cost 1,234 bytes
 * of heap apiece (measured with 500,000) and made every collection trace and promote them;
 * here it is a Map entry, 160 bytes of slab and a few bytes of chain and flags: about 200.
 *
 * A walk (entries()) follows the Map's insertion order, so a connection created during a
 * walk is still visited; a hash that gains a second connection is moved to the end of the
 * Map (delete + set), so that one is visited too (its chain-mate may be visited twice,
 * which a walk tolerates). After clear() (a rebuild from a dump) a walk in progress goes on
 * over the rebuilt table: a Map iterator visits entries added after a clear (ECMAScript keeps
 * the cleared entries' places). The hash is seeded per start: tuples chosen to collide need the
 * seed, and a chain only ever costs the sync worker, never the packet path.
 */
import { EventKind, type StateRecord, type StateSource } from './state-record.js';
import { SLOT, SLOT_BYTES, readSlot, writeSlot } from './ring.js';

const NONE = -1;

export class StateMirror implements StateSource {
  /** Identity hash -> first slot of its chain. */
  private readonly heads = new Map<number, number>();
  private slab: Uint8Array;
  private view: DataView;
  /** Per slot: the next slot with the same hash (NONE ends the chain). */
  private chain: Int32Array;
  /** Per slot: 1 while it holds a connection (in the index; walks visit it). */
  private live: Uint8Array;
  /** Per slot: held by the coalescer (see noteSlot). */
  private pinned: Uint8Array;
  /** Per slot: holds a destroyed connection until released. */
  private dead: Uint8Array;
  private readonly scratch = new Uint8Array(SLOT_BYTES);
  private readonly scratchView = new DataView(this.scratch.buffer);
  /** Slots never used yet start here; freed ones are reused first. */
  private highWater = 0;
  private readonly free: number[] = [];
  private count = 0;
  private readonly seed = (Math.random() * 0x40000000) | 0;

  /**
   * `hashMask` narrows the hash (tests: a few bits make every chain case common).
   * `transient`: hold only what is pinned (the events waiting in the coalescer), not the
   * table: a connection is forgotten when its slot is released, and a destroy is held like
   * any event until sent. The endpoint's store when the table itself is walked for resyncs
   * (LocalWalk): memory then follows the events in flight, not the connections.
   */
  constructor(initialSlots = 1024, private readonly hashMask = 0x3fffffff, private readonly transient = false) {
    this.slab = new Uint8Array(initialSlots * SLOT_BYTES);
    this.view = new DataView(this.slab.buffer);
    this.chain = new Int32Array(initialSlots);
    this.live = new Uint8Array(initialSlots);
    this.pinned = new Uint8Array(initialSlots);
    this.dead = new Uint8Array(initialSlots);
  }

  get size(): number {
    return this.count;
  }

  /** Follows one local event (new/update store the record, destroy forgets it). */
  note(rec: StateRecord): void {
    writeSlot(this.scratchView, this.scratch, 0, rec);
    this.noteSlot(this.scratchView, this.scratch, 0, rec.stamp, false);
  }

  /**
   * Follows one local event stored in a ring-layout slot (`b`/`v` at byte offset `o`), with
   * `stamp` in place of the slot's own. With `pin`, returns the mirror slot that holds the
   * event's data until release(): the coalescer keeps slot numbers, not records, and a
   * destroyed connection's slot must still hold its tuple until the destroy is sent.
   * Without `pin` the result is -1.
   */
  noteSlot(v: DataView, b: Uint8Array, o: number, stamp: number, pin: boolean): number {
    const h = this.hashAt(v, b, o);
    const head = this.heads.get(h);
    let prev = NONE;
    let s = head ?? NONE;
    while (s !== NONE && !this.sameAt(s, b, o)) {
      prev = s;
      s = this.chain[s]!;
    }
    if (this.transient) {
      if (s === NONE) {
        s = this.take();
        this.live[s] = 1;
        this.chain[s] = NONE;
        if (head === undefined) this.heads.set(h, s);
        else this.chain[prev] = s;
        this.count++;
      }
    } else if (b[o + SLOT.kind] === EventKind.Destroy) {
      if (s !== NONE) {
        const next = this.chain[s]!;
        if (prev !== NONE) this.chain[prev] = next;
        else if (next !== NONE) this.heads.set(h, next);
        else this.heads.delete(h);
        this.live[s] = 0;
        this.count--;
        if (!pin && this.pinned[s] === 0) {
          this.free.push(s);
          return NONE;
        }
      } else if (!pin) return NONE;
      else s = this.take(); // unknown here: still sent (the peer may know it)
      this.dead[s] = 1;
    } else if (s === NONE) {
      s = this.take();
      this.live[s] = 1;
      this.chain[s] = NONE;
      if (head === undefined) this.heads.set(h, s);
      else {
        // Append to the chain, and move the hash to the end of the Map so a walk in progress
        // that already passed it still visits the new connection.
        this.chain[prev] = s;
        this.heads.delete(h);
        this.heads.set(h, head);
      }
      this.count++;
    }
    const at = s * SLOT_BYTES;
    this.slab.set(b.subarray(o, o + SLOT_BYTES), at);
    this.view.setFloat64(at + SLOT.stamp, stamp, true);
    if (!pin) return NONE;
    this.pinned[s] = 1;
    return s;
  }

  /** The coalescer is done with slot `m` (sent or cancelled): a destroyed connection's slot is free again. */
  release(m: number): void {
    if (this.transient) {
      // Sent or cancelled: forgotten (a second release of the same slot does nothing).
      if (this.live[m] === 0) return;
      this.unlink(m);
      this.live[m] = 0;
      this.pinned[m] = 0;
      this.count--;
      this.free.push(m);
      return;
    }
    this.pinned[m] = 0;
    if (this.dead[m] === 1) {
      this.dead[m] = 0;
      this.free.push(m);
    }
  }

  /** The slab and its view, for reading slots in place (byte offset = slot * SLOT_BYTES); valid until the next note. */
  get slabView(): DataView {
    return this.view;
  }
  get slabBytes(): Uint8Array {
    return this.slab;
  }

  /** Current state of the connection `rec` identifies (zone, protocol, original tuple). */
  get(rec: StateRecord): StateRecord | undefined {
    const v = this.scratchView;
    const b = this.scratch;
    writeSlot(v, b, 0, rec);
    for (let s = this.heads.get(this.hashAt(v, b, 0)) ?? NONE; s !== NONE; s = this.chain[s]!) {
      if (this.sameAt(s, b, 0)) return readSlot(this.view, this.slab, s * SLOT_BYTES);
    }
    return undefined;
  }

  entries(): Iterator<StateRecord> {
    const walk = this.walkSlots();
    return {
      next: (): IteratorResult<StateRecord> => {
        const s = walk.next();
        return s < 0 ? { done: true, value: undefined } : { done: false, value: readSlot(this.view, this.slab, s * SLOT_BYTES) };
      },
    };
  }

  /**
   * The walk of entries(), by slot number (-1 at the end): the resync reads each connection
   * where it lies in the slab (slabView / slabBytes), no record made. A slot number is good
   * until the next note(); one kept longer (the chunk that did not fit) is checked with
   * isLive() first: destroyed since, it is not sent, and reused by another connection, that
   * one is current state too.
   */
  walkSlots(): { next(): number } {
    const heads = this.heads.values();
    // The chain of the hash being visited, copied when the walk reaches it: a slot freed
    // and reused meanwhile must not lead the walk into another chain.
    const pend: number[] = [];
    let pi = 0;
    return {
      next: (): number => {
        for (;;) {
          while (pi < pend.length) {
            const s = pend[pi++]!;
            // Destroyed since the chain was copied: not sent. Reused by another connection:
            // that one is current state too (a walk may send a connection twice).
            if (this.live[s] === 1) return s;
          }
          const r = heads.next();
          if (r.done) return NONE;
          pend.length = 0;
          pi = 0;
          for (let s = r.value; s !== NONE; s = this.chain[s]!) pend.push(s);
        }
      },
    };
  }

  /** Slot `s` holds a connection (walkSlots). */
  isLive(s: number): boolean {
    return this.live[s] === 1;
  }

  /** Forgets everything (nothing may be pinned: flush the coalescer first). */
  clear(): void {
    this.heads.clear();
    this.live.fill(0);
    this.pinned.fill(0);
    this.dead.fill(0);
    this.free.length = 0;
    this.highWater = 0;
    this.count = 0;
  }

  /** Takes slot `m` out of its hash chain (its identity is read from the slab). */
  private unlink(m: number): void {
    const h = this.hashAt(this.view, this.slab, m * SLOT_BYTES);
    let prev = NONE;
    let s = this.heads.get(h) ?? NONE;
    while (s !== NONE && s !== m) {
      prev = s;
      s = this.chain[s]!;
    }
    if (s === NONE) return;
    const next = this.chain[m]!;
    if (prev !== NONE) this.chain[prev] = next;
    else if (next !== NONE) this.heads.set(h, next);
    else this.heads.delete(h);
  }

  /** Identity hash in 30 bits (a small integer for the Map) of the connection in the ring-layout slot at `o` of `b`: zone, protocol, family, ports, addresses. */
  private hashAt(v: DataView, b: Uint8Array, o: number): number {
    const family = b[o + SLOT.family]!;
    let h = this.seed ^ Math.imul(v.getUint16(o + SLOT.zone, true) | (b[o + SLOT.proto]! << 16) | (family << 24), 0x9e3779b1);
    h = mix(h, (v.getUint16(o + SLOT.origSport, true) << 16) | v.getUint16(o + SLOT.origDport, true));
    const alen = family === 4 ? 4 : 16;
    for (let i = 0; i < alen; i += 4) h = mix(h, v.getUint32(o + SLOT.origSrc + i));
    for (let i = 0; i < alen; i += 4) h = mix(h, v.getUint32(o + SLOT.origDst + i));
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    return h & this.hashMask;
  }

  /** Slot `s` holds the connection of the ring-layout slot at `o` of `b`. */
  private sameAt(s: number, b: Uint8Array, o: number): boolean {
    const m = s * SLOT_BYTES;
    const a = this.slab;
    // Family, protocol, then zone and both ports (2 bytes each), then the addresses.
    if (a[m + SLOT.family] !== b[o + SLOT.family] || a[m + SLOT.proto] !== b[o + SLOT.proto]) return false;
    if (a[m + SLOT.zone] !== b[o + SLOT.zone] || a[m + SLOT.zone + 1] !== b[o + SLOT.zone + 1]) return false;
    if (a[m + SLOT.origSport] !== b[o + SLOT.origSport] || a[m + SLOT.origSport + 1] !== b[o + SLOT.origSport + 1]) return false;
    if (a[m + SLOT.origDport] !== b[o + SLOT.origDport] || a[m + SLOT.origDport + 1] !== b[o + SLOT.origDport + 1]) return false;
    const alen = b[o + SLOT.family] === 4 ? 4 : 16;
    for (let i = 0; i < alen; i++) if (a[m + SLOT.origSrc + i] !== b[o + SLOT.origSrc + i] || a[m + SLOT.origDst + i] !== b[o + SLOT.origDst + i]) return false;
    return true;
  }

  private take(): number {
    const f = this.free.pop();
    if (f !== undefined) return f;
    if (this.highWater >= this.chain.length) this.grow();
    return this.highWater++;
  }

  private grow(): void {
    const n = this.chain.length * 2;
    const slab = new Uint8Array(n * SLOT_BYTES);
    slab.set(this.slab);
    this.slab = slab;
    this.view = new DataView(slab.buffer);
    const chain = new Int32Array(n);
    chain.set(this.chain);
    this.chain = chain;
    this.live = grown(this.live, n);
    this.pinned = grown(this.pinned, n);
    this.dead = grown(this.dead, n);
  }
}

function grown(a: Uint8Array, n: number): Uint8Array {
  const g = new Uint8Array(n);
  g.set(a);
  return g;
}

function mix(h: number, w: number): number {
  h ^= Math.imul(w, 0xcc9e2d51);
  h = (h << 15) | (h >>> 17);
  return Math.imul(h, 0x1b873593) + 0xe6546b64;
}
