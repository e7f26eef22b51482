/**
 * Writes an array of state records as CBOR in the layout cbor-x gives them with the record
 * structures declared in wire.ts: each record is tag 0xE000 (shared structure 0, the fields
 * of RECORD_FIELDS in order) around an array of its values, a NAT binding is tag 0xE001
 * (structure 1, NAT_FIELDS). cbor-x decodes it (wire.ts); encoding it here instead of
 * through cbor-x's generic object walk is what the sender spends per connection: no copy of
 * each record into field order, no per-value type dispatch. It reads the ring's slot layout
 * (ring.ts): the sender's mirror holds events that way, and a record object is first written
 * into a slot, so the field order is spelled out once. Numbers follow cbor-x's choices
 * (unsigned 32-bit and negative integers as CBOR integers, anything else as float64), so
 * the bytes are the ones cbor-x would write (wire.test.ts compares them).
 */
import { RECORD_FIELDS, type StateRecord } from './state-record.js';
import { SLOT_BYTES, writeSlot } from './ring.js';

const RECORD_TAG = [0xd9, 0xe0, 0x00];
const NAT_TAG = [0xd9, 0xe0, 0x01];
const FIELD_COUNT = RECORD_FIELDS.length;

export class RecordWriter {
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
    // Through a slot, so the field order lives in one place (slotRecord).
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      writeSlot(this.scratchView, this.scratch, 0, r);
      this.slotRecord(this.scratchView, this.scratch, 0, r.kind);
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
    for (let i = 0; i < at.length; i++) this.slotRecord(view, bytes, at[i]!, kinds[i]!);
    return this.buf.subarray(0, this.at);
  }

  private slotRecord(v: DataView, b: Uint8Array, o: number, kind: number): void {
    this.room(64 + 4 * 17 + 8 * 13 + 32);
    const family = b[o + 1]!;
    const alen = family === 4 ? 4 : 16;
    this.bytes3(RECORD_TAG);
    this.head(4, FIELD_COUNT);
    this.num(kind); this.num(family); this.num(b[o + 2]!); this.num(v.getUint16(o + 4, true));
    this.bstrAt(b, o + 72, alen); this.bstrAt(b, o + 88, alen); this.num(v.getUint16(o + 8, true)); this.num(v.getUint16(o + 10, true));
    this.bstrAt(b, o + 104, alen); this.bstrAt(b, o + 120, alen); this.num(v.getUint16(o + 12, true)); this.num(v.getUint16(o + 14, true));
    this.num(b[o + 3]!);
    this.num(v.getUint32(o + 24, true)); this.num(v.getUint32(o + 28, true)); this.num(v.getUint32(o + 32, true)); this.num(v.getUint32(o + 152, true)); this.num(b[o + 18]!); this.num(b[o + 19]!);
    this.num(v.getUint32(o + 36, true)); this.num(v.getUint32(o + 40, true)); this.num(v.getUint32(o + 44, true)); this.num(v.getUint32(o + 156, true)); this.num(b[o + 20]!); this.num(b[o + 21]!);
    this.num(v.getUint32(o + 48, true)); this.num(v.getUint32(o + 52, true)); this.num(v.getFloat64(o + 56, true));
    if (b[o + 6] === 0) this.buf[this.at++] = 0xf6;
    else {
      this.bytes3(NAT_TAG);
      this.head(4, 3);
      this.num(b[o + 7]!);
      this.bstrAt(b, o + 136, alen);
      this.num(v.getUint16(o + 16, true));
    }
    this.num(v.getFloat64(o + 64, true));
  }

  private bstrAt(src: Uint8Array, from: number, len: number): void {
    this.head(2, len);
    for (let i = 0; i < len; i++) this.buf[this.at + i] = src[from + i]!;
    this.at += len;
  }

  /** A number as cbor-x writes it. */
  private num(v: number): void {
    if (v >>> 0 === v) this.head(0, v);
    else if (Number.isInteger(v) && v < 0 && v >= -4294967296) this.head(1, -1 - v);
    else {
      this.buf[this.at] = 0xfb;
      this.view.setFloat64(this.at + 1, v);
      this.at += 9;
    }
  }

  /** CBOR initial byte(s): major type `major`, argument `n` (0 <= n < 2^32). */
  private head(major: number, n: number): void {
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

  private bytes3(t: number[]): void {
    this.buf[this.at++] = t[0]!;
    this.buf[this.at++] = t[1]!;
    this.buf[this.at++] = t[2]!;
  }

  /** Grows the buffer so `n` more bytes fit (a datagram's records never need it; a test might). */
  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.at + n));
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}
