/**
 * Writes an array of state records as CBOR in the layout cbor-x gives them with the record
 * structures declared in wire.ts: each record is tag 0xE000 (shared structure 0, the fields
 * of RECORD_TABLE in order) around an array of its values, a NAT binding is tag 0xE001
 * (structure 1, NAT_TABLE). cbor-x decodes it (wire.ts); encoding it here instead of
 * through cbor-x's generic object walk is what the sender spends per connection: no copy of
 * each record into field order, no per-value type dispatch. It reads the ring's slot layout:
 * the sender's mirror holds events that way, and a record object is first written into a
 * slot, so one compiled writer (record-codec.ts: writeCbor) serves both. Numbers follow
 * cbor-x's choices (unsigned 32-bit and negative integers as CBOR integers, anything else as
 * float64), so the bytes are the ones cbor-x would write (wire.test.ts compares them).
 */
import type { StateRecord } from './record-fields.js';
import { RECORD_TABLE } from './record-fields.js';
import { SLOT_BYTES, writeCbor, writeSlot, type CborOut } from './record-codec.js';

export class RecordWriter implements CborOut {
  /**
   * Most values a record is written with: every field (the default), or REQUIRED_FIELDS for
   * peers that read no more (record-fields.ts: the compatibility rule).
   */
  fields: number = RECORD_TABLE.length;
  private buf: Uint8Array;
  private view: DataView;
  private at = 0;
  private readonly scratch = new Uint8Array(SLOT_BYTES);
  private readonly scratchView = new DataView(this.scratch.buffer);

  constructor(initialBytes = 65536) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  /**
   * The CBOR array of `records`, as a view of this writer's buffer that the next call
   * overwrites: copy it out at once.
   */
  write(records: readonly StateRecord[]): Uint8Array {
    this.at = 0;
    this.head(4, records.length);
    // Through a slot, so one compiled writer serves both.
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      writeSlot(this.scratchView, this.scratch, 0, r);
      writeCbor(this, this.scratchView, this.scratch, 0, r.kind, this.fields);
    }
    return this.buf.subarray(0, this.at);
  }

  /**
   * The CBOR array of the records stored in ring-layout slots (ring.ts) at byte offsets
   * `at` of `bytes`, each sent with kind `kinds[i]`: the same bytes as write() of the
   * records those slots hold, without making the records. Same lifetime as write().
   */
  writeSlots(view: DataView, bytes: Uint8Array, at: readonly number[], kinds: readonly number[]): Uint8Array {
    this.at = 0;
    this.head(4, at.length);
    for (let i = 0; i < at.length; i++) writeCbor(this, view, bytes, at[i]!, kinds[i]!, this.fields);
    return this.buf.subarray(0, this.at);
  }

  byte(x: number): void {
    this.buf[this.at++] = x;
  }

  bstrAt(src: Uint8Array, from: number, len: number): void {
    this.head(2, len);
    for (let i = 0; i < len; i++) this.buf[this.at + i] = src[from + i]!;
    this.at += len;
  }

  /** A number as cbor-x writes it. */
  num(v: number): void {
    if (v >>> 0 === v) this.head(0, v);
    else if (Number.isInteger(v) && v < 0 && v >= -4294967296) this.head(1, -1 - v);
    else {
      this.buf[this.at] = 0xfb;
      this.view.setFloat64(this.at + 1, v);
      this.at += 9;
    }
  }

  /** CBOR initial byte(s): major type `major`, argument `n` (0 <= n < 2^32). */
  head(major: number, n: number): void {
    const m = major << 5;
    const b = this.buf;
    if (n < 24) b[this.at++] = m | n;
    else if (n < 0x100) {
      b[this.at++] = m | 24;
      b[this.at++] = n;
    } else if (n < 0x10000) {
      b[this.at++] = m | 25;
      b[this.at++] = n >>> 8;
      b[this.at++] = n & 0xff;
    } else {
      b[this.at++] = m | 26;
      this.view.setUint32(this.at, n);
      this.at += 4;
    }
  }

  /** Grows the buffer so `n` more bytes fit (a datagram's records never need it; a test might). */
  room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.at + n));
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}
