/**
 * Reads the CBOR array of state records in the layout RecordWriter (and cbor-x with the
 * declared record structures) writes, straight from the bytes: no generic CBOR objects, and
 * addresses are views of the datagram, not copies (a StateSink copies what it keeps). It
 * validates as it goes, with the same rules as wire.ts's checked cbor-x path. Anything it
 * does not expect (another valid CBOR spelling of a value, trailing bytes) makes it answer
 * `undefined`, and the caller decodes that payload with cbor-x instead; `null` means the
 * payload is malformed by any reading. The per-record part is compiled from the field
 * tables (record-codec.ts: readCbor); this file holds the CBOR primitives it reads with.
 *
 * A record may be longer than the fields this version knows (record-fields.ts, the
 * compatibility rule): the values after them are skipped, each a scalar of bounded size. A
 * record with fewer values than REQUIRED_FIELDS or more than MAX_RECORD_FIELDS, or an
 * unknown value that is not a scalar, refuses the whole payload, whichever way it is spelled
 * (answer `null`; wire.ts counts it as the drop reason `fields`).
 */
import { MAX_UNKNOWN_BYTES, type StateRecord } from './record-fields.js';
import { SLOT_BYTES, readCbor, readCborSlot, type CborIn } from './record-codec.js';

/** Thrown inside the reader only: "not the layout I know" (caught in readRecords). */
const OTHER = Symbol('other layout');
/** Thrown inside the reader only: "a record out of the bounds of the compatibility rule": refused. */
const REFUSED = Symbol('refused');

class Cursor implements CborIn {
  at = 0;
  private readonly view: DataView;
  constructor(readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** An unsigned integer (major type 0) of at most 32 bits. */
  uint(): number {
    if (this.at >= this.b.length) throw OTHER;
    const ib = this.b[this.at]!;
    if (ib > 26) throw OTHER;
    this.at++;
    return this.arg(ib);
  }

  /** A number as the writer spells it: uint32, negative integer (to -2^32) or float64. */
  num(): number {
    if (this.at >= this.b.length) throw OTHER;
    const ib = this.b[this.at]!;
    if (ib <= 26) return this.uint();
    if (ib >= 0x20 && ib <= 0x3a) {
      this.at++;
      return -1 - this.arg(ib - 0x20);
    }
    if (ib !== 0xfb) throw OTHER;
    this.need(9);
    const v = this.view.getFloat64(this.at + 1);
    this.at += 9;
    return v;
  }

  /** The argument of an initial byte whose low five bits are `low` (< 27), after it. */
  private arg(low: number): number {
    const b = this.b;
    if (low < 24) return low;
    if (low === 24) {
      this.need(1);
      return b[this.at++]!;
    }
    if (low === 25) {
      this.need(2);
      const v = (b[this.at]! << 8) | b[this.at + 1]!;
      this.at += 2;
      return v;
    }
    if (low === 26) {
      this.need(4);
      const v = this.view.getUint32(this.at);
      this.at += 4;
      return v;
    }
    throw OTHER;
  }

  /** A byte string of exactly `len` bytes, as a view. */
  bytes(len: number): Uint8Array {
    const b = this.b;
    if (this.at >= b.length || b[this.at] !== 0x40 + len) throw OTHER;
    this.at++;
    this.need(len);
    const v = new Uint8Array(b.buffer, b.byteOffset + this.at, len); // a Uint8Array even when b is a Buffer
    this.at += len;
    return v;
  }

  bytesInto(len: number, dst: Uint8Array, at: number): void {
    const b = this.b;
    if (this.at >= b.length || b[this.at] !== 0x40 + len) throw OTHER;
    this.at++;
    this.need(len);
    for (let i = 0; i < len; i++) dst[at + i] = b[this.at + i]!;
    this.at += len;
  }

  /** The exact bytes `t` (a tag or header). */
  expect(t0: number, t1: number, t2: number): void {
    const b = this.b;
    this.need(3);
    if (b[this.at] !== t0 || b[this.at + 1] !== t1 || b[this.at + 2] !== t2) throw OTHER;
    this.at += 3;
  }

  byte(): number {
    if (this.at >= this.b.length) throw OTHER;
    return this.b[this.at++]!;
  }

  /** One value of a field this version does not know: a scalar, else the payload is refused. */
  skip(): void {
    if (this.at >= this.b.length) throw OTHER;
    const ib = this.b[this.at]!;
    const major = ib >> 5;
    const low = ib & 0x1f;
    if (major <= 1) {
      // An integer: its argument is 0, 1, 2, 4 or 8 bytes.
      if (low > 27) throw REFUSED;
      this.at++;
      this.need(low < 24 ? 0 : 1 << (low - 24));
      this.at += low < 24 ? 0 : 1 << (low - 24);
      return;
    }
    if (major === 2) {
      if (low > 25) throw REFUSED;
      this.at++;
      const len = this.arg(low);
      if (len > MAX_UNKNOWN_BYTES) throw REFUSED;
      this.need(len);
      this.at += len;
      return;
    }
    // false, true, null, undefined; a float16, float32 or float64.
    if (ib >= 0xf4 && ib <= 0xf7) {
      this.at++;
      return;
    }
    if (ib >= 0xf9 && ib <= 0xfb) {
      const len = 1 << (ib - 0xf8);
      this.need(1 + len);
      this.at += 1 + len;
      return;
    }
    // Text, arrays, maps, tags: not a field a reader may skip unread.
    throw REFUSED;
  }

  refuse(): never {
    throw REFUSED;
  }

  private need(n: number): void {
    if (this.at + n > this.b.length) throw OTHER;
  }
}

/**
 * The records of `bytes`, or undefined when they are not in the writer's layout (use cbor-x),
 * or null when a record is out of the compatibility rule's bounds (refused).
 */
export function readRecords(bytes: Uint8Array): StateRecord[] | undefined | null {
  const c = new Cursor(bytes);
  try {
    const ib = c.byte();
    let n: number;
    if (ib >= 0x80 && ib < 0x98) n = ib - 0x80;
    else if (ib === 0x98) n = c.byte();
    else if (ib === 0x99) n = (c.byte() << 8) | c.byte();
    else return undefined;
    const out: StateRecord[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = readCbor(c, OTHER);
    return c.at === bytes.length ? out : undefined;
  } catch (e) {
    if (e === OTHER) return undefined;
    if (e === REFUSED) return null;
    throw e;
  }
}

/**
 * Received records in ring-layout slots (ring.ts), one after another: what the receiver
 * decodes a message into and hands on slot by slot (StateSink.applySlot), without a record
 * object per connection. Grows to the largest message seen (a datagram holds a few dozen).
 */
export class SlotBatch {
  bytes = new Uint8Array(64 * SLOT_BYTES);
  view = new DataView(this.bytes.buffer);
  count = 0;

  /** Room for `n` slots (the contents are kept). */
  ensure(n: number): void {
    if (n * SLOT_BYTES <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(n, (this.bytes.length / SLOT_BYTES) * 2) * SLOT_BYTES);
    next.set(this.bytes);
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }
}

/**
 * readRecords() into `out`'s slots (its count set): true when read, undefined when not in
 * the writer's layout (use cbor-x), null when refused, with the same checks. `out` is
 * overwritten either way.
 */
export function readRecordsIntoSlots(bytes: Uint8Array, out: SlotBatch): true | undefined | null {
  const c = new Cursor(bytes);
  out.count = 0;
  try {
    const ib = c.byte();
    let n: number;
    if (ib >= 0x80 && ib < 0x98) n = ib - 0x80;
    else if (ib === 0x98) n = c.byte();
    else if (ib === 0x99) n = (c.byte() << 8) | c.byte();
    else return undefined;
    // A record takes more than 40 bytes: a count the payload cannot hold is not read (bounds the slots grown).
    if (n * 40 > bytes.length) return undefined;
    out.ensure(n);
    const v = out.view;
    const b = out.bytes;
    for (let i = 0; i < n; i++) readCborSlot(c, OTHER, v, b, i * SLOT_BYTES);
    if (c.at !== bytes.length) return undefined;
    out.count = n;
    return true;
  } catch (e) {
    if (e === OTHER) return undefined;
    if (e === REFUSED) return null;
    throw e;
  }
}
