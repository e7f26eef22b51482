import { optionalDefaults } from './record-fields.js';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { Encoder } from 'cbor-x';
import {
  HEADER_LEN, MAC_LEN, MAGIC, MessageType, VERSION, decodeMessage, decodeRecordsWithCborX, encodeMessage, encodeRecordsWithCborX, encodeSlotsMessage, slotRecordSize, peekSender, recordSize, type Message,
} from './wire.js';
import { EventKind, RECORD_FIELDS, type StateRecord } from './state-record.js';
import { makeRecord } from './testing/fixtures.js';
import { Rng } from '../inet/index.js';
import { SlotBatch, readRecords } from './record-reader.js';
import { SLOT_BYTES, readSlot, writeSlot } from './ring.js';

const key = Buffer.alloc(32, 7);
const hdr = { flags: 0, node: 0x01020304, epoch: 1700000000, seq: 0xfffffffe, time: 12345.678 };

/** A frame with a valid MAC around an arbitrary payload (what a buggy peer could send). */
function frame(type: number, payload: Uint8Array, k: Uint8Array = key): Buffer {
  const b = Buffer.alloc(HEADER_LEN + payload.length + MAC_LEN);
  b.writeUInt16BE(MAGIC, 0); b.writeUInt8(VERSION, 2); b.writeUInt8(type, 3);
  b.writeUInt32BE(1, 8); b.writeUInt32BE(1, 12); b.writeUInt32BE(1, 16); b.writeUInt32BE(payload.length, 20);
  b.writeDoubleBE(1, 24);
  b.set(payload, HEADER_LEN);
  createHmac('sha256', k).update(b.subarray(0, HEADER_LEN + payload.length)).digest().copy(b, HEADER_LEN + payload.length);
  return b;
}

function v6Record(): StateRecord {
  const a = new Uint8Array(16).fill(0x20); const z = new Uint8Array(16).fill(0x30);
  return {
    ...makeRecord(5, EventKind.Update, 99.5), family: 6, ...optionalDefaults(6), proto: 17, zone: 3,
    origSrc: a, origDst: z, replySrc: z, replyDst: new Uint8Array(16).fill(0x40),
    nat: { kind: 1, addr: new Uint8Array(16).fill(0x40), port: 40000 },
  };
}

describe('wire format', () => {
  it('round-trips every message type with header fields intact', () => {
    const recs = [makeRecord(1, EventKind.New, 1.25), v6Record(), makeRecord(70000, EventKind.Destroy, 3)];
    const msgs: Message[] = [
      { ...hdr, type: MessageType.Data, records: recs },
      { ...hdr, type: MessageType.ResyncChunk, bulkId: 9, records: recs },
      { ...hdr, type: MessageType.ResyncDone, bulkId: 9, firstSeq: 0xffffff00, count: 100000 },
      { ...hdr, type: MessageType.Ack, target: 2, targetEpoch: 77, cumAck: 5, echoTime: 1.5, echoHold: 0.25, echoStamp: 1 },
      { ...hdr, type: MessageType.Ack, target: 2, targetEpoch: 77, cumAck: 5, echoTime: NaN, echoHold: NaN, echoStamp: NaN },
      { ...hdr, type: MessageType.Nack, target: 2, targetEpoch: 77, ranges: [0xfffffff0, 0xffffffff, 0, 4] },
      { ...hdr, type: MessageType.Alive, lastSeq: 0xffffffff },
      { ...hdr, type: MessageType.ResyncRequest, target: 0 },
      { ...hdr, type: MessageType.Lost, target: 2, targetEpoch: 77, from: 10, to: 20 },
    ];
    for (const m of msgs) {
      const r = decodeMessage(encodeMessage(m, key), key);
      assert.ok(r.ok, `type ${m.type}`);
      const got = r.msg as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(m)) {
        if (k === 'records') continue;
        assert.deepEqual(got[k], v, `type ${m.type} field ${k}`);
      }
      if ('records' in m) {
        const rr = (r.msg as { records: StateRecord[] }).records;
        assert.equal(rr.length, 3);
        for (let i = 0; i < 3; i++) {
          const want = recs[i]!;
          const have = rr[i]!;
          for (const f of Object.keys(want) as (keyof StateRecord)[]) {
            if (f === 'nat') continue;
            const w = want[f];
            assert.deepEqual(w instanceof Uint8Array ? [...w] : w, have[f] instanceof Uint8Array ? [...(have[f] as Uint8Array)] : have[f], `field ${f}`);
          }
          assert.deepEqual(have.nat === null ? null : { ...have.nat, addr: [...have.nat.addr] }, want.nat === null ? null : { ...want.nat, addr: [...want.nat.addr] });
        }
      }
    }
  });

  it('decodes each message on its own, in any order, even after others were lost', () => {
    const a = encodeMessage({ ...hdr, type: MessageType.Data, records: [makeRecord(1, EventKind.New, 1)] }, key);
    const b = encodeMessage({ ...hdr, type: MessageType.Data, records: [makeRecord(2, EventKind.Update, 2), v6Record()] }, key);
    // b first, a never, b again: no structure state carried between messages.
    for (const m of [b, b, a]) assert.ok(decodeMessage(m, key).ok);
    const rb = decodeMessage(b, key);
    assert.ok(rb.ok && rb.msg.type === MessageType.Data && rb.msg.records[1]!.family === 6);
  });

  it('rejects a message authenticated with another key', () => {
    const m = encodeMessage({ ...hdr, type: MessageType.Alive, lastSeq: 1 }, Buffer.alloc(32, 8));
    assert.deepEqual(decodeMessage(m, key), { ok: false, reason: 'auth' });
  });

  it('rejects any single flipped bit as auth, magic, version or length', () => {
    const m = encodeMessage({ ...hdr, type: MessageType.Data, records: [makeRecord(1, EventKind.New, 1)] }, key);
    for (let bit = 0; bit < m.length * 8; bit += 7) {
      const c = Buffer.from(m);
      c[bit >>> 3]! ^= 1 << (bit & 7);
      const r = decodeMessage(c, key);
      assert.equal(r.ok, false);
    }
  });

  it('reports the version of an unknown protocol version', () => {
    const m = encodeMessage({ ...hdr, type: MessageType.Alive, lastSeq: 1 }, key);
    m[2] = 2;
    assert.deepEqual(decodeMessage(m, key), { ok: false, reason: 'version' });
  });

  it('reports authenticated but malformed payloads as malformed', () => {
    const enc = new Encoder({ useRecords: false });
    const bad = [
      frame(MessageType.Data, enc.encode({ not: 'an array' })),
      frame(MessageType.Data, enc.encode([{ ...makeRecord(1, EventKind.New, 1), family: 5 }])),
      frame(MessageType.Data, new Uint8Array([0xff, 0xff, 0x00])),
      frame(MessageType.Ack, new Uint8Array(35)),
      frame(MessageType.Nack, Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0, 1])),
      frame(99, new Uint8Array(4)),
    ];
    for (const b of bad) assert.deepEqual(decodeMessage(b, key), { ok: false, reason: 'malformed' });
  });

  it('never throws on random bytes, truncations or authenticated random payloads (bounded fuzz)', () => {
    const rng = new Rng(42);
    const valid = encodeMessage({ ...hdr, type: MessageType.Data, records: [makeRecord(1, EventKind.New, 1), v6Record()] }, key);
    const deadline = Date.now() + 2000;
    let n = 0;
    for (; n < 3000 && Date.now() < deadline; n++) {
      const len = rng.int(200);
      const junk = new Uint8Array(len);
      for (let i = 0; i < len; i++) junk[i] = rng.int(256);
      const cases = [junk, valid.subarray(0, rng.int(valid.length)), frame(rng.int(10), junk)];
      // Authenticated payload: a valid CBOR payload with random bytes overwritten.
      const p = Buffer.from(valid.subarray(HEADER_LEN, valid.length - MAC_LEN));
      for (let k = 0; k < 3; k++) p[rng.int(p.length)] = rng.int(256);
      cases.push(frame(MessageType.Data, p));
      for (const c of cases) {
        const r = decodeMessage(c, key);
        if (r.ok) assert.ok(r.msg.type >= 1 && r.msg.type <= 8);
      }
    }
    assert.ok(n >= 100);
  });

  it('reads records directly exactly as cbor-x and the field checks do, on valid and damaged payloads', () => {
    const rng = new Rng(77);
    const records = [makeRecord(1, EventKind.New, 1), v6Record(), { ...makeRecord(2, EventKind.Destroy, -5), timeoutMs: 2 ** 40, mark: 0xffffffff }];
    const valid = Buffer.from(encodeRecordsWithCborX(records));
    assert.deepEqual(readRecords(valid), decodeRecordsWithCborX(valid));
    let fast = 0;
    for (let n = 0; n < 5000; n++) {
      const p = Buffer.from(valid);
      for (let k = 1 + rng.int(2); k > 0; k--) p[rng.int(p.length)] = rng.int(256);
      const direct = readRecords(p);
      if (direct === undefined) continue; // not the writer's layout: cbor-x decides
      fast++;
      assert.deepEqual(direct, decodeRecordsWithCborX(p), `payload ${p.toString('hex')}`);
    }
    assert.ok(fast > 1000, `${fast} damaged payloads were still read directly`);
    // Another valid spelling (a small integer as float64) is left to cbor-x, which accepts it.
    const other = Buffer.from(valid);
    const at = other.indexOf(Buffer.from([0x98, 0x1e])) + 2; // kind of the first record
    const spelled = Buffer.concat([other.subarray(0, at), Buffer.from([0xfb, 0, 0, 0, 0, 0, 0, 0, 0]), other.subarray(at + 1)]);
    assert.equal(readRecords(spelled), undefined);
    assert.equal(decodeRecordsWithCborX(spelled)?.[0]?.kind, 0);
  });

  it('decodes records into slots with the same verdict and the same records as into objects, on valid and damaged payloads of either reading', () => {
    const rng = new Rng(78);
    const records = [makeRecord(1, EventKind.New, 1), v6Record(), { ...makeRecord(2, EventKind.Destroy, -5), timeoutMs: 2 ** 40, mark: 0xffffffff }];
    const valid = Buffer.from(encodeRecordsWithCborX(records));
    const at = valid.indexOf(Buffer.from([0x98, 0x1e])) + 2;
    // The writer's layout, and another spelling only cbor-x reads (the kind as float64).
    const spelled = Buffer.concat([valid.subarray(0, at), Buffer.from([0xfb, 0, 0, 0, 0, 0, 0, 0, 0]), valid.subarray(at + 1)]);
    const slots = new SlotBatch();
    let ok = 0;
    let bad = 0;
    for (let n = 0; n < 6000; n++) {
      const p = Buffer.from(n % 2 === 0 ? valid : spelled);
      if (n >= 2) for (let k = 1 + rng.int(2); k > 0; k--) p[rng.int(p.length)] = rng.int(256);
      const type = n % 3 === 0 ? MessageType.ResyncChunk : MessageType.Data;
      const d = frame(type, type === MessageType.ResyncChunk ? Buffer.concat([Buffer.from([0, 0, 0, 9]), p]) : p);
      const asObjects = decodeMessage(d, key);
      const asSlots = decodeMessage(d, key, slots);
      assert.equal(asSlots.ok, asObjects.ok, `payload ${p.toString('hex')}`);
      if (!asObjects.ok || !asSlots.ok) {
        bad++;
        continue;
      }
      ok++;
      const want = (asObjects.msg as { records: StateRecord[] }).records;
      assert.equal(slots.count, want.length);
      for (let i = 0; i < want.length; i++) assert.deepEqual(readSlot(slots.view, slots.bytes, i * SLOT_BYTES), want[i]);
    }
    assert.ok(ok > 2 && bad > 1000, `${ok} decoded, ${bad} refused`);
  });

  it('decodes every message on its own: a record definition in one message does not change how the next decodes', () => {
    // An authenticated message whose one record carries an inline definition (cbor-x record
    // extension, tag 0xdfff) of shared record id 0xe000 with two field names swapped.
    const plain = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: true });
    const swapped = RECORD_FIELDS.slice();
    const i = swapped.indexOf('origSport');
    const j = swapped.indexOf('origDport');
    [swapped[i], swapped[j]] = [swapped[j]!, swapped[i]!];
    const r = makeRecord(3, EventKind.New, 1) as unknown as Record<string, unknown>;
    const n = swapped.length + 2;
    const poison = Buffer.concat([
      Buffer.from([0x81, 0xd9, 0xdf, 0xff, 0x98, n, 0x19, 0xe0, 0x00]),
      plain.encode(swapped),
      ...swapped.map((k) => plain.encode(r[k])),
    ]);
    // The next message: an ordinary record (shared id 0xe000) spelled so that only cbor-x reads it.
    const valid = Buffer.from(encodeRecordsWithCborX([makeRecord(1, EventKind.New, 1)]));
    const at = valid.indexOf(Buffer.from([0x98, 0x1e])) + 2;
    const spelled = Buffer.concat([valid.subarray(0, at), Buffer.from([0xfb, 0, 0, 0, 0, 0, 0, 0, 0]), valid.subarray(at + 1)]);
    const before = decodeMessage(frame(MessageType.Data, spelled), key);
    assert.ok(before.ok && before.msg.type === MessageType.Data);
    assert.equal(before.msg.records[0]!.origSport, 1025);
    decodeMessage(frame(MessageType.Data, poison), key);
    const after = decodeMessage(frame(MessageType.Data, spelled), key);
    assert.ok(after.ok && after.msg.type === MessageType.Data);
    assert.deepEqual(after.msg.records, before.msg.records, 'decoded as before the record definition');
  });

  it('bounds the encoded size of a record from above, closely', () => {
    for (const r of [makeRecord(1, EventKind.New, 1.5), makeRecord(123456, EventKind.Update, 1e9 + 0.5), v6Record()]) {
      const one = encodeMessage({ ...hdr, type: MessageType.Data, records: [r] }, key).length - HEADER_LEN - MAC_LEN - 1;
      assert.ok(recordSize(r) >= one, `estimate ${recordSize(r)} < actual ${one}`);
      assert.ok(recordSize(r) <= one * 1.25, `estimate ${recordSize(r)} far above actual ${one}`);
    }
  });

  it('writes records byte for byte as cbor-x encodes them, for every kind of value', () => {
    const rng = new Rng(21);
    const values = [0, 1, 23, 24, 255, 256, 65535, 65536, 0xffffffff, 2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER, 1.5, 1e9 + 0.25, -1, -24, -25, -70000, -(2 ** 32), -(2 ** 32) - 1];
    const pick = () => values[rng.int(values.length)]!;
    const timeouts = values.filter((v) => Number.isSafeInteger(v) && v >= 0); // what a valid record may carry
    const records: StateRecord[] = [];
    for (let i = 0; i < 300; i++) {
      const r: StateRecord = i % 3 === 0 ? v6Record() : makeRecord(i * 7919, (i % 3) as EventKind, 0);
      records.push({ ...r, timeoutMs: timeouts[rng.int(timeouts.length)]!, stamp: pick(), mark: i % 2 ? 0xffffffff : i, status: i });
    }
    for (const n of [1, 23, 24, 300]) {
      const batch = records.slice(0, n);
      const m = encodeMessage({ ...hdr, type: MessageType.Data, records: batch }, key);
      assert.deepEqual(Buffer.from(m.subarray(HEADER_LEN, m.length - MAC_LEN)), Buffer.from(encodeRecordsWithCborX(batch)));
      const d = decodeMessage(m, key);
      assert.ok(d.ok && d.msg.type === MessageType.Data);
      assert.deepEqual(d.msg.records.map((r) => [r.stamp, r.timeoutMs, r.mark]), batch.map((r) => [r.stamp, r.timeoutMs, r.mark]));
    }
  });

  it('writes records held in ring slots exactly as the same records, with the kind each is sent with, and sizes them alike', () => {
    const rng = new Rng(5);
    const records: StateRecord[] = [];
    for (let i = 0; i < 60; i++) {
      const r = i % 4 === 0 ? v6Record() : makeRecord(i * 104729, EventKind.Update, 0, i);
      records.push({ ...r, stamp: i % 3 ? 1e9 + i / 7 : i, timeoutMs: i % 5 ? 30000 : 2 ** 40, status: 0xffffffff - i });
    }
    const bytes = new Uint8Array(records.length * SLOT_BYTES + 32);
    const view = new DataView(bytes.buffer);
    const at = records.map((_, i) => 16 + i * SLOT_BYTES); // not at 0: offsets are honoured
    records.forEach((r, i) => writeSlot(view, bytes, at[i]!, r));
    const kinds = records.map(() => rng.int(3));
    const h = { ...hdr, flags: 0 };
    const fromSlots = encodeSlotsMessage(h, view, bytes, at, kinds, key);
    const fromRecords = encodeMessage({ ...h, type: MessageType.Data, records: records.map((r, i) => ({ ...r, kind: kinds[i] as EventKind })) }, key);
    assert.deepEqual(fromSlots, fromRecords);
    records.forEach((r, i) => assert.equal(slotRecordSize(view, bytes, at[i]!), recordSize(r)));
  });

  it('peeks the sender id without authenticating', () => {
    const m = encodeMessage({ ...hdr, type: MessageType.Alive, lastSeq: 1 }, key);
    assert.equal(peekSender(m), 0x01020304);
    assert.equal(peekSender(m.subarray(0, 5)), -1);
  });
});
