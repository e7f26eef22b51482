/**
 * Reads the CBOR array of state records in the layout RecordWriter (and cbor-x with the
 * declared record structures) writes, straight from the bytes: no generic CBOR objects, and
 * addresses are views of the datagram, not copies (a StateSink copies what it keeps). It
 * validates as it goes, with the same rules as wire.ts's checked cbor-x path. Anything it
 * does not expect (another valid CBOR spelling of a value, trailing bytes) makes it answer
 * `undefined`, and the caller decodes that payload with cbor-x instead; `null` means the
 * payload is malformed by any reading. The per-record part is compiled from the field
 * tables (record-codec.ts: readCbor); this file holds the CBOR primitives it reads with.
 */
import type { StateRecord } from './record-fields.js';
import { readCbor, type CborIn } from './record-codec.js';

/** Thrown inside the reader only: "not the layout I know" (caught in readRecords). */
const OTHER = Symbol('other layout');

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

  private need(n: number): void {
    if (this.at + n > this.b.length) throw OTHER;
  }
}

/** The records of `bytes`, or undefined when they are not in the writer's layout (use cbor-x). */
export function readRecords(bytes: Uint8Array): StateRecord[] | undefined {
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
    throw e;
  }
}
