/**
 * The sync wire format (spec: docs/sync-protocol.md). Pure functions over bytes, no sockets.
 *
 *   0  u16 magic 0x4846 ("HF")      2 u8 version (1)     3 u8 message type
 *   4  u16 flags                    6 u16 reserved (0)
 *   8  u32 sender node id          12 u32 sender boot epoch
 *  16  u32 sequence number         20 u32 payload length
 *  24  f64 sender time (ms, sender's monotonic clock; only ever compared with itself)
 *  32  payload (payload length bytes)
 *  ..  HMAC-SHA256 over bytes [0, 32 + payload length) with the cluster key (32 bytes)
 *
 * All integers big-endian (network order). State records are CBOR (cbor-x) with the record
 * structures declared up front in both encoder and decoder, so every message decodes on its
 * own: no `sequential` mode and no structure learnt from an earlier message, which over a
 * lossy link turns later messages into garbage (DESIGN §8).
 */
import { KEYED_MAC_LEN, keyedMacValid, writeKeyedMac } from '../inet/index.js';
import { Decoder, Encoder } from 'cbor-x';
import { RecordWriter } from './record-writer.js';
import { readRecords, readRecordsIntoSlots, type SlotBatch } from './record-reader.js';
import {
  MAX_RECORD_FIELDS, MAX_UNKNOWN_BYTES, NAT_FIELDS, NAT_TABLE, RECORD_FIELDS, RECORD_TABLE, REQUIRED_FIELDS, type FieldSpec, type StateRecord,
} from './record-fields.js';
import { SLOT_BYTES, checkObject, cborSize, writeSlot } from './record-codec.js';

export const MAGIC = 0x4846;
export const VERSION = 1;
export const HEADER_LEN = 32;
export const MAC_LEN = KEYED_MAC_LEN;
/** Bytes of IPv6 + UDP headers under a sync datagram (the worst case of the two families). */
const IP_UDP_OVERHEAD = 48;

export const enum MessageType {
  Data = 1,
  Ack = 2,
  Nack = 3,
  Alive = 4,
  ResyncRequest = 5,
  ResyncChunk = 6,
  ResyncDone = 7,
  /** Answer to a NACK for sequences no longer held: "cannot repair, resync". */
  Lost = 8,
}

export const enum MessageFlag {
  /** A resent sequence number (its records are the sender's current state). */
  Retransmit = 1,
  /**
   * The sender reads records longer than REQUIRED_FIELDS (record-fields.ts: the
   * compatibility rule). Set on every message of this version; a node sends the optional
   * fields only when every peer it knows has it (an older node reads 30 values and no more:
   * it would drop the whole datagram).
   */
  LongRecords = 2,
  /**
   * On an ALIVE: the sender is shutting down and sends nothing more in this epoch (a clean
   * leave). Peers forget it at once instead of after their peer timeout, and report it as
   * left rather than lost. An older node ignores the flag: to it this is an ALIVE.
   */
  Leaving = 4,
}

/** Most values a record is written with for peers that all read long records, or not (MessageFlag.LongRecords). */
export function recordFieldsFor(allPeersReadLong: boolean): number {
  return allPeersReadLong ? RECORD_TABLE.length : REQUIRED_FIELDS;
}

/** Types that consume a data sequence number (reliable, NACKable); the others use the control sequence. */
export function isSequenced(type: MessageType): boolean {
  return type === MessageType.Data || type === MessageType.ResyncChunk || type === MessageType.ResyncDone;
}

export interface Header {
  flags: number;
  node: number;
  epoch: number;
  seq: number;
  time: number;
}

export type Body =
  | { type: MessageType.Data; records: StateRecord[] }
  | { type: MessageType.ResyncChunk; bulkId: number; records: StateRecord[] }
  | { type: MessageType.ResyncDone; bulkId: number; firstSeq: number; count: number }
  | {
      type: MessageType.Ack;
      target: number;
      targetEpoch: number;
      /** Every data sequence up to and including this one has been received. */
      cumAck: number;
      /** Sender time of the newest DATA message in the receiver's table (NaN when none), echoed for lag (lag.ts). */
      echoTime: number;
      /** Receiver-side ms between that message's arrival and sending this ACK. */
      echoHold: number;
      /**
       * Oldest record stamp in that message (sender clock), moved earlier by the receiver-side
       * ms its records took from arrival into the table (lag.ts); sent once they are there.
       */
      echoStamp: number;
    }
  | { type: MessageType.Nack; target: number; targetEpoch: number; /** flat [from, to, from, to, ...] inclusive */ ranges: number[] }
  | { type: MessageType.Alive; /** last data sequence sent (first - 1 when none yet) */ lastSeq: number }
  | { type: MessageType.ResyncRequest; /** node asked for its table; 0 = every peer */ target: number }
  | { type: MessageType.Lost; target: number; targetEpoch: number; from: number; to: number };

export type Message = Header & Body;

/**
 * Why a datagram was dropped. `fields`: a state record with fewer values than every record
 * has, more than the bound, or an unknown trailing value that is not a small scalar
 * (record-fields.ts: the compatibility rule).
 */
export type DecodeError = 'short' | 'magic' | 'version' | 'length' | 'auth' | 'malformed' | 'fields' | 'replay';
export type DecodeResult = { ok: true; msg: Message } | { ok: false; reason: DecodeError };

/** Most NACK ranges in one message (keeps a NACK far below any MTU). */
export const MAX_NACK_RANGES = 64;

/**
 * Structure 0 as the decoder reads it: the fields this version knows, then a placeholder
 * name for each value a newer version may append, up to one past MAX_RECORD_FIELDS (so a
 * longer record shows as that placeholder and is refused, not misread: cbor-x reads a
 * record's values by its structure's names).
 */
const DECODE_FIELDS: readonly string[] = [
  ...RECORD_FIELDS,
  ...Array.from({ length: MAX_RECORD_FIELDS + 1 - RECORD_FIELDS.length }, (_, i) => `_${RECORD_FIELDS.length + i}`),
];
const TOO_LONG = `_${MAX_RECORD_FIELDS}`;
/** The names of the fields every record has: what an encoder's structure 0 matches a record of its defaults with. */
const REQUIRED_NAMES: readonly string[] = RECORD_FIELDS.slice(0, REQUIRED_FIELDS);
const KNOWN = new Set<string>(RECORD_FIELDS);

const cborOptions = {
  // Only the two declared structures are shared; any other object shape is defined inline
  // in the message that uses it, so no message depends on another.
  maxSharedStructures: 2,
  tagUint8Array: false,
  useRecords: true,
  mapsAsObjects: true,
};
const encoder = new Encoder({ ...cborOptions, structures: [REQUIRED_NAMES.slice(), NAT_FIELDS.slice()] });
/** The structures every message is decoded with: the two declared ones, nothing learnt. */
const DECLARED_STRUCTURES = [DECODE_FIELDS.slice(), NAT_FIELDS.slice()];
// Its own options object: cbor-x keeps the options' structures array as its table, and the
// encoder's must not be the decoder's.
const decoder = new Decoder({ ...cborOptions, structures: DECLARED_STRUCTURES.slice() });

/** Room for records in one datagram of `mtu` bytes (`extra` for fields before the records). */
export function recordBudget(mtu: number, extra = 0): number {
  return mtu - IP_UDP_OVERHEAD - HEADER_LEN - MAC_LEN - extra - 5;
}

/** recordSize() of the record held in a ring-layout slot (ring.ts) at byte offset `o`. */
export const slotRecordSize: (v: DataView, b: Uint8Array, o: number) => number = cborSize;

const sizeSlot = new Uint8Array(SLOT_BYTES);
const sizeSlotView = new DataView(sizeSlot.buffer);

/** The CBOR bytes of one record (packing into datagrams without encoding twice). */
export function recordSize(r: StateRecord): number {
  writeSlot(sizeSlotView, sizeSlot, 0, r);
  return slotRecordSize(sizeSlotView, sizeSlot, 0);
}

const recordWriter = new RecordWriter();

/** The records' CBOR, `fields` values at most each (a view of the writer's buffer: the caller copies it out at once). */
function encodeRecords(records: readonly StateRecord[], fields: number): Uint8Array {
  recordWriter.fields = fields;
  return recordWriter.write(records);
}

/**
 * The same records through cbor-x's own encoder (object walk, record structures): what
 * RecordWriter must match byte for byte (wire.test.ts) for records whose optional fields
 * are all 0 (cbor-x writes any other record with an inline structure of its own).
 */
export function encodeRecordsWithCborX(records: readonly StateRecord[]): Uint8Array {
  // Fresh objects with the fields in table order: cbor-x matches the key order to a structure.
  const isDefault = (v: unknown): boolean => (v instanceof Uint8Array ? v.every((x) => x === 0) : v === 0);
  const inOrder = (table: readonly FieldSpec[], x: Record<string, unknown>): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    let last = table.length;
    while (last > 0 && table[last - 1]!.optional === true && isDefault(x[table[last - 1]!.name])) last--;
    for (const f of table.slice(0, last)) o[f.name] = f.type === 'nat' && x[f.name] !== null ? inOrder(NAT_TABLE, x[f.name] as Record<string, unknown>) : x[f.name];
    return o;
  };
  const arr = records.map((r) => inOrder(RECORD_TABLE, r));
  return Uint8Array.from(encoder.encode(arr));
}

function fixedPayload(msg: Message): Uint8Array {
  let b: Buffer;
  switch (msg.type) {
    case MessageType.ResyncDone:
      b = Buffer.allocUnsafe(12);
      b.writeUInt32BE(msg.bulkId >>> 0, 0); b.writeUInt32BE(msg.firstSeq >>> 0, 4); b.writeUInt32BE(msg.count >>> 0, 8);
      return b;
    case MessageType.Ack:
      b = Buffer.allocUnsafe(36);
      b.writeUInt32BE(msg.target >>> 0, 0); b.writeUInt32BE(msg.targetEpoch >>> 0, 4); b.writeUInt32BE(msg.cumAck >>> 0, 8);
      b.writeDoubleBE(msg.echoTime, 12); b.writeDoubleBE(msg.echoHold, 20); b.writeDoubleBE(msg.echoStamp, 28);
      return b;
    case MessageType.Nack: {
      const n = msg.ranges.length >>> 1;
      if (n > MAX_NACK_RANGES || (msg.ranges.length & 1) !== 0) throw new RangeError('bad NACK ranges');
      b = Buffer.allocUnsafe(10 + 8 * n);
      b.writeUInt32BE(msg.target >>> 0, 0); b.writeUInt32BE(msg.targetEpoch >>> 0, 4); b.writeUInt16BE(n, 8);
      for (let i = 0; i < n * 2; i++) b.writeUInt32BE(msg.ranges[i]! >>> 0, 10 + 4 * i);
      return b;
    }
    case MessageType.Alive:
      b = Buffer.allocUnsafe(4);
      b.writeUInt32BE(msg.lastSeq >>> 0, 0);
      return b;
    case MessageType.ResyncRequest:
      b = Buffer.allocUnsafe(4);
      b.writeUInt32BE(msg.target >>> 0, 0);
      return b;
    case MessageType.Lost:
      b = Buffer.allocUnsafe(16);
      b.writeUInt32BE(msg.target >>> 0, 0); b.writeUInt32BE(msg.targetEpoch >>> 0, 4);
      b.writeUInt32BE(msg.from >>> 0, 8); b.writeUInt32BE(msg.to >>> 0, 12);
      return b;
    default:
      throw new TypeError('not a fixed-layout message');
  }
}

/**
 * Encodes and authenticates one message; its records with `fields` values at most each
 * (recordFieldsFor: all by default).
 */
export function encodeMessage(msg: Message, key: Uint8Array, fields: number = RECORD_TABLE.length): Buffer {
  let payload: Uint8Array;
  if (msg.type === MessageType.Data || msg.type === MessageType.ResyncChunk) payload = encodeRecords(msg.records, fields);
  else payload = fixedPayload(msg);
  return frame(msg, msg.type, msg.type === MessageType.ResyncChunk ? msg.bulkId : -1, payload, key);
}

/**
 * A DATA message whose records are held in ring-layout slots (ring.ts) at byte offsets
 * `at` of `bytes`, each sent with kind `kinds[i]`: what encodeMessage would make of the
 * records those slots hold, without making them (the sender's hot path).
 */
export function encodeSlotsMessage(h: Header, view: DataView, bytes: Uint8Array, at: readonly number[], kinds: readonly number[], key: Uint8Array, fields: number = RECORD_TABLE.length): Buffer {
  recordWriter.fields = fields;
  return frame(h, MessageType.Data, -1, recordWriter.writeSlots(view, bytes, at, kinds), key);
}

/** encodeSlotsMessage for a RESYNC_CHUNK of walk `bulkId` (the resync's path: records read where the mirror holds them). */
export function encodeSlotsChunk(h: Header, bulkId: number, view: DataView, bytes: Uint8Array, at: readonly number[], kinds: readonly number[], key: Uint8Array, fields: number = RECORD_TABLE.length): Buffer {
  recordWriter.fields = fields;
  return frame(h, MessageType.ResyncChunk, bulkId >>> 0, recordWriter.writeSlots(view, bytes, at, kinds), key);
}

/** Header, payload (after the bulk id of a RESYNC_CHUNK when `bulkId` >= 0) and MAC. */
function frame(h: Header, type: MessageType, bulkId: number, payload: Uint8Array, key: Uint8Array): Buffer {
  const prefix = bulkId >= 0 ? 4 : 0;
  const len = prefix + payload.length;
  const out = Buffer.allocUnsafe(HEADER_LEN + len + MAC_LEN);
  out.writeUInt16BE(MAGIC, 0);
  out.writeUInt8(VERSION, 2);
  out.writeUInt8(type, 3);
  out.writeUInt16BE(h.flags & 0xffff, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt32BE(h.node >>> 0, 8);
  out.writeUInt32BE(h.epoch >>> 0, 12);
  out.writeUInt32BE(h.seq >>> 0, 16);
  out.writeUInt32BE(len, 20);
  out.writeDoubleBE(h.time, 24);
  if (prefix > 0) out.writeUInt32BE(bulkId >>> 0, HEADER_LEN);
  out.set(payload, HEADER_LEN + prefix);
  writeKeyedMac(key, out.subarray(0, HEADER_LEN + len), out, HEADER_LEN + len);
  return out;
}

/**
 * The records of a DATA or RESYNC_CHUNK datagram this node encoded itself (its resend queue
 * keeps datagrams, not records). Not for received bytes: nothing is authenticated here.
 */
export function recordsOf(datagram: Uint8Array): StateRecord[] {
  const type = datagram[3];
  const prefix = type === MessageType.ResyncChunk ? 4 : 0;
  const records = type === MessageType.Data || type === MessageType.ResyncChunk
    ? decodeRecords(datagram.subarray(HEADER_LEN + prefix, datagram.length - MAC_LEN))
    : null;
  if (records === null) throw new Error('not a DATA or RESYNC_CHUNK datagram of this node');
  return records;
}

/** Sender node id of a datagram without authenticating it (-1 if too short): drop own messages cheaply. */
export function peekSender(bytes: Uint8Array): number {
  if (bytes.length < HEADER_LEN) return -1;
  return ((bytes[8]! << 24) | (bytes[9]! << 16) | (bytes[10]! << 8) | bytes[11]!) >>> 0;
}

function isUint(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}
function isAddr(v: unknown, family: number): v is Uint8Array {
  return v instanceof Uint8Array && v.length === (family === 4 ? 4 : 16);
}

function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b); // decoded byte strings are views into the datagram buffer
}

/** Checks one decoded record (compiled from the field tables); null when any field is missing or of the wrong type. */
function toRecord(x: unknown): StateRecord | null {
  return checkObject(x, isUint, isAddr, copyBytes);
}

function decodeRecords(bytes: Uint8Array): StateRecord[] | null {
  const r = recordsOrReason(bytes);
  return typeof r === 'string' ? null : r;
}

/** The records of a payload, or why it is refused. */
function recordsOrReason(bytes: Uint8Array): StateRecord[] | 'malformed' | 'fields' {
  // The layout every hafw sender writes, read directly; any other spelling through cbor-x.
  const direct = readRecords(bytes);
  if (direct === null) return 'fields';
  return direct ?? recordsWithCborX(bytes);
}

/**
 * The compatibility rule's bounds on a record cbor-x decoded (an object: structure 0 or a
 * map): its count of values, and only small scalars among the values this version does not
 * know. False: refused.
 */
function withinBounds(x: unknown): boolean {
  if (typeof x !== 'object' || x === null || x instanceof Uint8Array || Array.isArray(x)) return true; // not a record: the field checks refuse it
  const o = x as Record<string, unknown>;
  if (o[TOO_LONG] !== undefined) return false;
  let n = 0;
  for (const k in o) {
    n++;
    if (KNOWN.has(k)) continue;
    const v = o[k];
    if (v instanceof Uint8Array ? v.length > MAX_UNKNOWN_BYTES : v !== null && v !== undefined && typeof v !== 'number' && typeof v !== 'boolean') return false;
  }
  return n >= REQUIRED_FIELDS && n <= MAX_RECORD_FIELDS;
}

/** Records through cbor-x's generic decoder and checked field by field (null: malformed or refused). */
export function decodeRecordsWithCborX(bytes: Uint8Array): StateRecord[] | null {
  const r = recordsWithCborX(bytes);
  return typeof r === 'string' ? null : r;
}

function recordsWithCborX(bytes: Uint8Array): StateRecord[] | 'malformed' | 'fields' {
  // A message may define record structures (cbor-x tags 0xdfff / 0xdffe), and cbor-x writes
  // them into the decoder's table, where they stayed: one authenticated message could change
  // how every later one decodes. Each message starts from the declared structures instead;
  // what it defines lives and dies with it.
  (decoder as Decoder & { structures: unknown[] }).structures = DECLARED_STRUCTURES.slice();
  let v: unknown;
  try {
    v = decoder.decode(bytes);
  } catch {
    return 'malformed';
  }
  if (!Array.isArray(v)) return 'malformed';
  const out: StateRecord[] = new Array(v.length);
  for (let i = 0; i < v.length; i++) {
    if (!withinBounds(v[i])) return 'fields';
    const r = toRecord(v[i]);
    if (r === null) return 'malformed';
    out[i] = r;
  }
  return out;
}

/** decodeRecords() into the slots of `out`; the reason when refused. */
function decodeRecordsIntoSlots(bytes: Uint8Array, out: SlotBatch): true | 'malformed' | 'fields' {
  const direct = readRecordsIntoSlots(bytes, out);
  if (direct === true) return true;
  if (direct === null) return 'fields';
  const records = recordsWithCborX(bytes);
  if (typeof records === 'string') return records;
  out.ensure(records.length);
  for (let i = 0; i < records.length; i++) writeSlot(out.view, out.bytes, i * SLOT_BYTES, records[i]!);
  out.count = records.length;
  return true;
}

const NO_RECORDS: StateRecord[] = [];

/**
 * Checks and decodes one datagram. Never throws: every failure is a typed reason. The MAC is
 * verified before anything in the payload is looked at. Replay is not judged here (it needs
 * state: see replay-window.ts and endpoint.ts). With `slots`, the records of a DATA or
 * RESYNC_CHUNK go into its slots (ring layout, `slots.count` of them) and `records` is left
 * empty: the receiver's path, no object per record; the checks are the same.
 */
export function decodeMessage(bytes: Uint8Array, key: Uint8Array, slots?: SlotBatch): DecodeResult {
  if (bytes.length < HEADER_LEN + MAC_LEN) return { ok: false, reason: 'short' };
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.readUInt16BE(0) !== MAGIC) return { ok: false, reason: 'magic' };
  if (b.readUInt8(2) !== VERSION) return { ok: false, reason: 'version' };
  const len = b.readUInt32BE(20);
  if (HEADER_LEN + len + MAC_LEN !== b.length) return { ok: false, reason: 'length' };
  if (!keyedMacValid(key, b.subarray(0, HEADER_LEN + len), b.subarray(HEADER_LEN + len))) return { ok: false, reason: 'auth' };
  const type = b.readUInt8(3);
  const h: Header = {
    flags: b.readUInt16BE(4),
    node: b.readUInt32BE(8),
    epoch: b.readUInt32BE(12),
    seq: b.readUInt32BE(16),
    time: b.readDoubleBE(24),
  };
  const p = b.subarray(HEADER_LEN, HEADER_LEN + len);
  const bad: DecodeResult = { ok: false, reason: 'malformed' };
  if (b.readUInt16BE(6) !== 0 || !Number.isFinite(h.time)) return bad;
  switch (type) {
    case MessageType.Data: {
      if (slots !== undefined) {
        const r = decodeRecordsIntoSlots(p, slots);
        return r === true ? { ok: true, msg: { ...h, type, records: NO_RECORDS } } : { ok: false, reason: r };
      }
      const records = recordsOrReason(p);
      return typeof records === 'string' ? { ok: false, reason: records } : { ok: true, msg: { ...h, type, records } };
    }
    case MessageType.ResyncChunk: {
      if (len < 4) return bad;
      if (slots !== undefined) {
        const r = decodeRecordsIntoSlots(p.subarray(4), slots);
        return r === true ? { ok: true, msg: { ...h, type, bulkId: p.readUInt32BE(0), records: NO_RECORDS } } : { ok: false, reason: r };
      }
      const records = recordsOrReason(p.subarray(4));
      return typeof records === 'string' ? { ok: false, reason: records } : { ok: true, msg: { ...h, type, bulkId: p.readUInt32BE(0), records } };
    }
    case MessageType.ResyncDone:
      if (len !== 12) return bad;
      return { ok: true, msg: { ...h, type, bulkId: p.readUInt32BE(0), firstSeq: p.readUInt32BE(4), count: p.readUInt32BE(8) } };
    case MessageType.Ack:
      if (len !== 36) return bad;
      return {
        ok: true,
        msg: {
          ...h, type, target: p.readUInt32BE(0), targetEpoch: p.readUInt32BE(4), cumAck: p.readUInt32BE(8),
          echoTime: p.readDoubleBE(12), echoHold: p.readDoubleBE(20), echoStamp: p.readDoubleBE(28),
        },
      };
    case MessageType.Nack: {
      if (len < 10) return bad;
      const n = p.readUInt16BE(8);
      if (n > MAX_NACK_RANGES || len !== 10 + 8 * n) return bad;
      const ranges: number[] = new Array(2 * n);
      for (let i = 0; i < 2 * n; i++) ranges[i] = p.readUInt32BE(10 + 4 * i);
      return { ok: true, msg: { ...h, type, target: p.readUInt32BE(0), targetEpoch: p.readUInt32BE(4), ranges } };
    }
    case MessageType.Alive:
      if (len !== 4) return bad;
      return { ok: true, msg: { ...h, type, lastSeq: p.readUInt32BE(0) } };
    case MessageType.ResyncRequest:
      if (len !== 4) return bad;
      return { ok: true, msg: { ...h, type, target: p.readUInt32BE(0) } };
    case MessageType.Lost:
      if (len !== 16) return bad;
      return {
        ok: true,
        msg: { ...h, type, target: p.readUInt32BE(0), targetEpoch: p.readUInt32BE(4), from: p.readUInt32BE(8), to: p.readUInt32BE(12) },
      };
    default:
      return bad;
  }
}
