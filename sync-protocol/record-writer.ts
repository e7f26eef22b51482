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
import { SLOT_BYTES, SlotAt, writeSlot } from './ring.js';

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
    const family = b[o + SlotAt.Family]!;
    const alen = family === 4 ? 4 : 16;
    this.bytes3(RECORD_TAG);
    this.head(4, FIELD_COUNT);
    this.num(kind); this.num(family); this.num(b[o + SlotAt.Proto]!); this.num(v.getUint16(o + SlotAt.Zone, true));
    this.bstrAt(b, o + SlotAt.OrigSrc, alen); this.bstrAt(b, o + SlotAt.OrigDst, alen); this.num(v.getUint16(o + SlotAt.OrigSport, true)); this.num(v.getUint16(o + SlotAt.OrigDport, true));
    this.bstrAt(b, o + SlotAt.ReplySrc, alen); this.bstrAt(b, o + SlotAt.ReplyDst, alen); this.num(v.getUint16(o + SlotAt.ReplySport, true)); this.num(v.getUint16(o + SlotAt.ReplyDport, true));
    this.num(b[o + SlotAt.TcpState]!);
    this.num(v.getUint32(o + SlotAt.OrigTdEnd, true)); this.num(v.getUint32(o + SlotAt.OrigTdMaxEnd, true)); this.num(v.getUint32(o + SlotAt.OrigTdMaxWin, true)); this.num(v.getUint32(o + SlotAt.OrigTdMaxAck, true)); this.num(b[o + SlotAt.OrigTdScale]!); this.num(b[o + SlotAt.OrigTdFlags]!);
    this.num(v.getUint32(o + SlotAt.ReplyTdEnd, true)); this.num(v.getUint32(o + SlotAt.ReplyTdMaxEnd, true)); this.num(v.getUint32(o + SlotAt.ReplyTdMaxWin, true)); this.num(v.getUint32(o + SlotAt.ReplyTdMaxAck, true)); this.num(b[o + SlotAt.ReplyTdScale]!); this.num(b[o + SlotAt.ReplyTdFlags]!);
    this.num(v.getUint32(o + SlotAt.Status, true)); this.num(v.getUint32(o + SlotAt.Mark, true)); this.num(v.getFloat64(o + SlotAt.TimeoutMs, true));
    if (b[o + SlotAt.HasNat] === 0) this.buf[this.at++] = 0xf6;
    else {
      this.bytes3(NAT_TAG);
      this.head(4, 3);
      this.num(b[o + SlotAt.NatKind]!);
      this.bstrAt(b, o + SlotAt.NatAddr, alen);
      this.num(v.getUint16(o + SlotAt.NatPort, true));
    }
    this.num(v.getFloat64(o + SlotAt.Stamp, true));
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
