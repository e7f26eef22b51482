/**
 * Single-producer / single-consumer ring of fixed-size binary state events in a
 * SharedArrayBuffer: the datapath thread pushes, the sync worker pops. The producer never
 * blocks and never allocates: when the ring is full the event is counted as dropped and the
 * "resync needed" flag is raised, so the worker rebuilds its view of the local table with a
 * full dump instead of losing the event silently (issue 5: never silently lost).
 *
 * Control words (Int32Array over the first 16 bytes): write count, read count, drops, resync
 * flag. Counts run freely modulo 2^32; slot = count & (capacity - 1). Each side publishes its
 * count with Atomics.store after touching the slot (sequentially consistent, so the payload
 * is visible before the count).
 *
 * Slot layout (SLOT_BYTES, little-endian):
 *   0 u8 kind   1 u8 family   2 u8 proto   3 u8 tcpState   4 u16 zone   6 u8 has-nat  7 u8 nat kind
 *   8 u16 origSport  10 u16 origDport  12 u16 replySport  14 u16 replyDport  16 u16 natPort
 *  18 u8 origTdScale 19 u8 origTdFlags 20 u8 replyTdScale 21 u8 replyTdFlags 22 u16 pad
 *  24 u32 origTdEnd 28 origTdMaxEnd 32 origTdMaxWin 36 replyTdEnd 40 replyTdMaxEnd 44 replyTdMaxWin
 *  48 u32 status 52 u32 mark 56 f64 timeoutMs 64 f64 stamp
 *  72 origSrc[16] 88 origDst[16] 104 replySrc[16] 120 replyDst[16] 136 natAddr[16]
 * 152 u32 origTdMaxAck 156 u32 replyTdMaxAck  -> 160
 */
import { EventKind, type StateRecord } from './state-record.js';

export const SLOT_BYTES = 160;

/** Byte offsets of the slot layout above: every reader and writer of slots names them from here. */
export const enum SlotAt {
  Kind = 0,
  Family = 1,
  Proto = 2,
  TcpState = 3,
  Zone = 4,
  HasNat = 6,
  NatKind = 7,
  OrigSport = 8,
  OrigDport = 10,
  ReplySport = 12,
  ReplyDport = 14,
  NatPort = 16,
  OrigTdScale = 18,
  OrigTdFlags = 19,
  ReplyTdScale = 20,
  ReplyTdFlags = 21,
  OrigTdEnd = 24,
  OrigTdMaxEnd = 28,
  OrigTdMaxWin = 32,
  ReplyTdEnd = 36,
  ReplyTdMaxEnd = 40,
  ReplyTdMaxWin = 44,
  Status = 48,
  Mark = 52,
  TimeoutMs = 56,
  Stamp = 64,
  OrigSrc = 72,
  OrigDst = 88,
  ReplySrc = 104,
  ReplyDst = 120,
  NatAddr = 136,
  OrigTdMaxAck = 152,
  ReplyTdMaxAck = 156,
}

const CTRL_BYTES = 16;
const W = 0;
const R = 1;
const DROPS = 2;
const RESYNC = 3;

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
    this.ctrl = new Int32Array(this.sab, 0, 4);
    this.view = new DataView(this.sab, CTRL_BYTES);
    this.bytes = new Uint8Array(this.sab, CTRL_BYTES);
    this.mask = this.capacity - 1;
  }

  /** Events waiting. */
  get depth(): number {
    return (Atomics.load(this.ctrl, W) - Atomics.load(this.ctrl, R)) >>> 0;
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

/** Writes a record into the slot at byte offset `o` (layout in the file header); no allocation. */
export function writeSlot(v: DataView, b: Uint8Array, o: number, r: StateRecord): void {
  v.setUint8(o + SlotAt.Kind, r.kind); v.setUint8(o + SlotAt.Family, r.family); v.setUint8(o + SlotAt.Proto, r.proto); v.setUint8(o + SlotAt.TcpState, r.tcpState);
  v.setUint16(o + SlotAt.Zone, r.zone, true);
  v.setUint8(o + SlotAt.HasNat, r.nat === null ? 0 : 1); v.setUint8(o + SlotAt.NatKind, r.nat === null ? 0 : r.nat.kind);
  v.setUint16(o + SlotAt.OrigSport, r.origSport, true); v.setUint16(o + SlotAt.OrigDport, r.origDport, true);
  v.setUint16(o + SlotAt.ReplySport, r.replySport, true); v.setUint16(o + SlotAt.ReplyDport, r.replyDport, true);
  v.setUint16(o + SlotAt.NatPort, r.nat === null ? 0 : r.nat.port, true);
  v.setUint8(o + SlotAt.OrigTdScale, r.origTdScale); v.setUint8(o + SlotAt.OrigTdFlags, r.origTdFlags); v.setUint8(o + SlotAt.ReplyTdScale, r.replyTdScale); v.setUint8(o + SlotAt.ReplyTdFlags, r.replyTdFlags);
  v.setUint32(o + SlotAt.OrigTdEnd, r.origTdEnd, true); v.setUint32(o + SlotAt.OrigTdMaxEnd, r.origTdMaxEnd, true); v.setUint32(o + SlotAt.OrigTdMaxWin, r.origTdMaxWin, true);
  v.setUint32(o + SlotAt.ReplyTdEnd, r.replyTdEnd, true); v.setUint32(o + SlotAt.ReplyTdMaxEnd, r.replyTdMaxEnd, true); v.setUint32(o + SlotAt.ReplyTdMaxWin, r.replyTdMaxWin, true);
  v.setUint32(o + SlotAt.Status, r.status, true); v.setUint32(o + SlotAt.Mark, r.mark, true);
  v.setFloat64(o + SlotAt.TimeoutMs, r.timeoutMs, true); v.setFloat64(o + SlotAt.Stamp, r.stamp, true);
  b.set(r.origSrc, o + SlotAt.OrigSrc); b.set(r.origDst, o + SlotAt.OrigDst); b.set(r.replySrc, o + SlotAt.ReplySrc); b.set(r.replyDst, o + SlotAt.ReplyDst);
  if (r.nat !== null) b.set(r.nat.addr, o + SlotAt.NatAddr);
  v.setUint32(o + SlotAt.OrigTdMaxAck, r.origTdMaxAck, true); v.setUint32(o + SlotAt.ReplyTdMaxAck, r.replyTdMaxAck, true);
}

/** A new record from the slot at byte offset `o`. */
export function readSlot(v: DataView, b: Uint8Array, o: number): StateRecord {
  const family = v.getUint8(o + SlotAt.Family);
  const alen = family === 4 ? 4 : 16;
  // One small array per address: typed arrays of at most 64 bytes live on V8's heap, where
  // the young generation frees them for nothing; a slice of the slot (80 bytes) would be a
  // malloc'd buffer for the collector to sweep, per event.
  const addr = (at: number): Uint8Array => {
    const a = new Uint8Array(alen);
    for (let i = 0; i < alen; i++) a[i] = b[o + at + i]!;
    return a;
  };
  return {
    kind: v.getUint8(o + SlotAt.Kind) as EventKind, family, proto: v.getUint8(o + SlotAt.Proto), zone: v.getUint16(o + SlotAt.Zone, true),
    origSrc: addr(SlotAt.OrigSrc), origDst: addr(SlotAt.OrigDst), origSport: v.getUint16(o + SlotAt.OrigSport, true), origDport: v.getUint16(o + SlotAt.OrigDport, true),
    replySrc: addr(SlotAt.ReplySrc), replyDst: addr(SlotAt.ReplyDst), replySport: v.getUint16(o + SlotAt.ReplySport, true), replyDport: v.getUint16(o + SlotAt.ReplyDport, true),
    tcpState: v.getUint8(o + SlotAt.TcpState),
    origTdEnd: v.getUint32(o + SlotAt.OrigTdEnd, true), origTdMaxEnd: v.getUint32(o + SlotAt.OrigTdMaxEnd, true), origTdMaxWin: v.getUint32(o + SlotAt.OrigTdMaxWin, true),
    origTdMaxAck: v.getUint32(o + SlotAt.OrigTdMaxAck, true), origTdScale: v.getUint8(o + SlotAt.OrigTdScale), origTdFlags: v.getUint8(o + SlotAt.OrigTdFlags),
    replyTdEnd: v.getUint32(o + SlotAt.ReplyTdEnd, true), replyTdMaxEnd: v.getUint32(o + SlotAt.ReplyTdMaxEnd, true), replyTdMaxWin: v.getUint32(o + SlotAt.ReplyTdMaxWin, true),
    replyTdMaxAck: v.getUint32(o + SlotAt.ReplyTdMaxAck, true), replyTdScale: v.getUint8(o + SlotAt.ReplyTdScale), replyTdFlags: v.getUint8(o + SlotAt.ReplyTdFlags),
    status: v.getUint32(o + SlotAt.Status, true), mark: v.getUint32(o + SlotAt.Mark, true),
    timeoutMs: v.getFloat64(o + SlotAt.TimeoutMs, true), stamp: v.getFloat64(o + SlotAt.Stamp, true),
    nat: v.getUint8(o + SlotAt.HasNat) === 0 ? null : { kind: v.getUint8(o + SlotAt.NatKind), addr: addr(SlotAt.NatAddr), port: v.getUint16(o + SlotAt.NatPort, true) },
  };
}

/**
 * Reads slots into one reused record (no allocation: for the thread that owns the table).
 * Address fields are views of fixed arrays, 4 or 16 bytes by family; valid until the next read.
 */
export class SlotReader {
  private readonly a16 = [new Uint8Array(16), new Uint8Array(16), new Uint8Array(16), new Uint8Array(16), new Uint8Array(16)];
  private readonly a4 = this.a16.map((a) => a.subarray(0, 4));
  private readonly nat = { kind: 0, addr: this.a16[4]!, port: 0 };
  readonly rec: StateRecord = readSlot(new DataView(new ArrayBuffer(SLOT_BYTES)), new Uint8Array(SLOT_BYTES), 0);

  read(v: DataView, b: Uint8Array, o: number): StateRecord {
    const r = this.rec;
    const family = v.getUint8(o + SlotAt.Family);
    const a = family === 4 ? this.a4 : this.a16;
    const n = family === 4 ? 4 : 16;
    r.kind = v.getUint8(o + SlotAt.Kind) as EventKind; r.family = family; r.proto = v.getUint8(o + SlotAt.Proto); r.zone = v.getUint16(o + SlotAt.Zone, true);
    r.origSrc = a[0]!; r.origDst = a[1]!; r.replySrc = a[2]!; r.replyDst = a[3]!;
    for (let i = 0; i < n; i++) {
      a[0]![i] = b[o + SlotAt.OrigSrc + i]!; a[1]![i] = b[o + SlotAt.OrigDst + i]!; a[2]![i] = b[o + SlotAt.ReplySrc + i]!; a[3]![i] = b[o + SlotAt.ReplyDst + i]!;
    }
    r.origSport = v.getUint16(o + SlotAt.OrigSport, true); r.origDport = v.getUint16(o + SlotAt.OrigDport, true);
    r.replySport = v.getUint16(o + SlotAt.ReplySport, true); r.replyDport = v.getUint16(o + SlotAt.ReplyDport, true);
    r.tcpState = v.getUint8(o + SlotAt.TcpState);
    r.origTdEnd = v.getUint32(o + SlotAt.OrigTdEnd, true); r.origTdMaxEnd = v.getUint32(o + SlotAt.OrigTdMaxEnd, true); r.origTdMaxWin = v.getUint32(o + SlotAt.OrigTdMaxWin, true);
    r.origTdMaxAck = v.getUint32(o + SlotAt.OrigTdMaxAck, true); r.origTdScale = v.getUint8(o + SlotAt.OrigTdScale); r.origTdFlags = v.getUint8(o + SlotAt.OrigTdFlags);
    r.replyTdEnd = v.getUint32(o + SlotAt.ReplyTdEnd, true); r.replyTdMaxEnd = v.getUint32(o + SlotAt.ReplyTdMaxEnd, true); r.replyTdMaxWin = v.getUint32(o + SlotAt.ReplyTdMaxWin, true);
    r.replyTdMaxAck = v.getUint32(o + SlotAt.ReplyTdMaxAck, true); r.replyTdScale = v.getUint8(o + SlotAt.ReplyTdScale); r.replyTdFlags = v.getUint8(o + SlotAt.ReplyTdFlags);
    r.status = v.getUint32(o + SlotAt.Status, true); r.mark = v.getUint32(o + SlotAt.Mark, true);
    r.timeoutMs = v.getFloat64(o + SlotAt.TimeoutMs, true); r.stamp = v.getFloat64(o + SlotAt.Stamp, true);
    if (v.getUint8(o + SlotAt.HasNat) === 0) r.nat = null;
    else {
      const na = family === 4 ? this.a4[4]! : this.a16[4]!;
      for (let i = 0; i < n; i++) na[i] = b[o + SlotAt.NatAddr + i]!;
      this.nat.kind = v.getUint8(o + SlotAt.NatKind);
      this.nat.addr = na;
      this.nat.port = v.getUint16(o + SlotAt.NatPort, true);
      r.nat = this.nat;
    }
    return r;
  }
}
