/**
 * Capture files: reading classic pcap (both byte orders, micro- and nanosecond) and
 * pcapng (pcapng.ts), writing classic pcap. Pure functions over bytes; the caller reads
 * and writes files. Record data are subarrays of the input (no copy).
 *
 * Formats: draft-ietf-opsawg-pcap (classic) and draft-ietf-opsawg-pcapng.
 */
import { l3OffsetFor, LinkType } from './link-type.js';
import { CaptureFormatError, type CaptureRecord } from './capture-record.js';
import { readPcapng } from './pcapng.js';

export type { CaptureRecord };

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;

/** Reads a classic pcap or pcapng file (told apart by the magic number). */
export function* readCapture(bytes: Uint8Array): Generator<CaptureRecord> {
  if (bytes.length < 4) throw new CaptureFormatError(0, `file too short (${bytes.length} bytes) for a magic number`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) === PCAPNG_SHB) {
    yield* readPcapng(bytes);
    return;
  }
  yield* readPcap(bytes);
}

/** Reads all records into an array (convenience for tests and small files). */
export function readCaptureAll(bytes: Uint8Array): CaptureRecord[] {
  return [...readCapture(bytes)];
}

/** Reads a classic pcap file. */
export function* readPcap(bytes: Uint8Array): Generator<CaptureRecord> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) throw new CaptureFormatError(0, `file too short (${bytes.length} bytes) for a pcap header (24)`);
  const be = dv.getUint32(0, false);
  const le = dv.getUint32(0, true);
  let little: boolean;
  let nanos: boolean;
  if (le === MAGIC_US || le === MAGIC_NS) {
    little = true;
    nanos = le === MAGIC_NS;
  } else if (be === MAGIC_US || be === MAGIC_NS) {
    little = false;
    nanos = be === MAGIC_NS;
  } else {
    throw new CaptureFormatError(0, `unknown magic number 0x${be.toString(16).padStart(8, '0')}`);
  }
  const major = dv.getUint16(4, little);
  if (major !== 2) throw new CaptureFormatError(4, `unsupported pcap major version ${major}`);
  // The link-type field's upper bits carry FCS information (draft-ietf-opsawg-pcap §4).
  const linkType = dv.getUint32(20, little) & 0x0fffffff;
  let off = 24;
  let index = 0;
  while (off < bytes.length) {
    if (off + 16 > bytes.length) {
      throw new CaptureFormatError(off, `record header cut short (${bytes.length - off} of 16 bytes)`);
    }
    const sec = dv.getUint32(off, little);
    const frac = dv.getUint32(off + 4, little);
    const incl = dv.getUint32(off + 8, little);
    const orig = dv.getUint32(off + 12, little);
    if (frac >= (nanos ? 1e9 : 1e6)) {
      throw new CaptureFormatError(off + 4, `sub-second timestamp ${frac} out of range`);
    }
    if (off + 16 + incl > bytes.length) {
      throw new CaptureFormatError(off + 8, `record ${index} claims ${incl} bytes, only ${bytes.length - off - 16} left`);
    }
    const data = bytes.subarray(off + 16, off + 16 + incl);
    const tsNs = BigInt(sec) * 1_000_000_000n + BigInt(nanos ? frac : frac * 1000);
    yield { index, tsNs, data, origLen: orig, linkType, l3Off: l3OffsetFor(linkType, data), interfaceId: 0 };
    off += 16 + incl;
    index++;
  }
}

export interface PcapWriteOptions {
  /** Default LINKTYPE_RAW (101): packets start with the IP header. */
  linkType?: number;
  /** Nanosecond timestamps (magic 0xa1b23c4d); default true. */
  nanos?: boolean;
  snaplen?: number;
}

export interface PcapWriteRecord {
  data: Uint8Array;
  /** Nanoseconds since the epoch (default 0). */
  tsNs?: bigint | number;
  /** Default data.length. */
  origLen?: number;
}

/** The 24-byte classic pcap file header (little-endian). */
export function pcapFileHeader(opts: PcapWriteOptions = {}): Uint8Array {
  const b = new Uint8Array(24);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, opts.nanos === false ? MAGIC_US : MAGIC_NS, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, opts.snaplen ?? 262144, true);
  dv.setUint32(20, opts.linkType ?? LinkType.Raw, true);
  return b;
}

/** One record (16-byte header + data) for a file written with `pcapFileHeader(opts)`. */
export function pcapRecord(rec: PcapWriteRecord, opts: PcapWriteOptions = {}): Uint8Array {
  const b = new Uint8Array(16 + rec.data.length);
  const dv = new DataView(b.buffer);
  const ts = BigInt(rec.tsNs ?? 0);
  if (ts < 0n) throw new Error(`negative timestamp ${ts}`);
  const sec = ts / 1_000_000_000n;
  if (sec > 0xffffffffn) throw new Error(`timestamp ${ts} ns does not fit a pcap record (32-bit seconds)`);
  const ns = Number(ts % 1_000_000_000n);
  dv.setUint32(0, Number(sec), true);
  dv.setUint32(4, opts.nanos === false ? Math.floor(ns / 1000) : ns, true);
  dv.setUint32(8, rec.data.length, true);
  dv.setUint32(12, rec.origLen ?? rec.data.length, true);
  b.set(rec.data, 16);
  return b;
}

/** A whole classic pcap file. */
export function writePcap(records: Iterable<PcapWriteRecord>, opts: PcapWriteOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [pcapFileHeader(opts)];
  for (const r of records) parts.push(pcapRecord(r, opts));
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
