/**
 * The record compatibility rule (record-fields.ts): a reader takes records longer than the
 * fields it knows (a newer writer's), skipping the unknown trailing values, and refuses
 * records shorter than the required fields or beyond the bound, counted as `fields`; a
 * writer leaves out optional fields at their defaults, and writes only the required ones for
 * peers that read no more.
 */
import assert from 'node:assert/strict';
import { Encoder } from 'cbor-x';
import { EventKind } from './state-record.js';
import { ReplicaTable, makeRecord } from './testing/fixtures.js';
import { SyncEndpoint } from './endpoint.js';
import { V1_DATA_HEX, V1_HEADER, V1_KEY, V1_RECORDS } from './testing/wire-v1.js';
import { MAX_RECORD_FIELDS, RECORD_FIELDS, RECORD_TABLE, REQUIRED_FIELDS, optionalDefaults, type StateRecord } from './record-fields.js';
import { HEADER_LEN, MAC_LEN, MessageType, decodeMessage, encodeMessage, recordFieldsFor, recordSize } from './wire.js';
import { SLOT_BYTES, readSlot } from './record-codec.js';
import { RecordWriter } from './record-writer.js';
import { SlotBatch, readRecords } from './record-reader.js';
import { createHmac } from 'node:crypto';

const key = Buffer.alloc(32, 7);

function frame(payload: Uint8Array): Buffer {
  const out = Buffer.alloc(HEADER_LEN + payload.length + MAC_LEN);
  out.writeUInt16BE(0x4846, 0);
  out.writeUInt8(1, 2);
  out.writeUInt8(MessageType.Data, 3);
  Buffer.from([0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 5]).copy(out, 8);
  out.writeUInt32BE(payload.length, 20);
  out.writeDoubleBE(100, 24);
  out.set(payload, HEADER_LEN);
  createHmac('sha256', key).update(out.subarray(0, HEADER_LEN + payload.length)).digest().copy(out, HEADER_LEN + payload.length);
  return out;
}

/** A record with every optional field set: a helper, its expectation, sequence offsets. */
function fullRecord(i: number): StateRecord {
  return {
    ...makeRecord(i, EventKind.Update, 10 + i),
    helper: 1, expectPort: 20000 + i, expectMs: 299_000, expectSrc: Uint8Array.of(192, 0, 2, 100), expectDst: Uint8Array.of(10, 0, 0, i),
    origSeqPos: 0x80000000 + i, origSeqBefore: 0, origSeqAfter: 0xfffffffe, replySeqPos: 7, replySeqBefore: 3, replySeqAfter: 0xffffffff,
    expectNatPort: 40000 + i, expectNatFlags: 7, expectNatDst: Uint8Array.of(10, 0, 0, 100 + i), expectNatDport: 50000 + i, expectNatSrc: Uint8Array.of(198, 51, 100, i),
  };
}

/** One record's CBOR as `fields` values of this writer, then `extra` (raw CBOR values) appended, its head counting them. */
function recordBytes(r: StateRecord, extra: number[][] = [], fields: number = RECORD_TABLE.length): Buffer {
  const w = new RecordWriter();
  w.fields = fields;
  const one = Buffer.from(w.write([r])).subarray(1); // without the array head (0x81)
  assert.equal(one[3], 0x98); // tag d9 e0 00, then the record's head: 0x98 and its count
  if (extra.length === 0) return one;
  // Values after the known ones: the writer's left-out optional fields first, as 0 (the
  // newer writer knows them, and its own come after them), then `extra`.
  const pad: number[][] = [];
  for (let i = one[4]!; i < fields; i++) pad.push(RECORD_TABLE[i]!.type === 'addr' ? [0x40 + (r.family === 4 ? 4 : 16), ...new Array(r.family === 4 ? 4 : 16).fill(0)] : [0]);
  const out = Buffer.concat([one, ...[...pad, ...extra].map((e) => Buffer.from(e))]);
  out[4] = one[4]! + pad.length + extra.length;
  return out;
}

const payload = (records: Buffer[]): Buffer => Buffer.concat([Buffer.from([0x80 + records.length]), ...records]);

function decodeBoth(p: Buffer): { objects: ReturnType<typeof decodeMessage>; slots: ReturnType<typeof decodeMessage>; batch: SlotBatch } {
  const batch = new SlotBatch();
  return { objects: decodeMessage(frame(p), key), slots: decodeMessage(frame(p), key, batch), batch };
}

describe('record compatibility rule (longer and shorter records)', () => {
  it('writes a record whose optional fields are 0 exactly as version 1 did, and one with a helper as long as it needs', () => {
    // The frozen version-1 message: the same bytes from this writer (its records have no optional fields).
    const m = encodeMessage({ ...V1_HEADER, type: MessageType.Data, records: V1_RECORDS }, V1_KEY);
    assert.equal(m.toString('hex'), V1_DATA_HEX);
    assert.equal(recordBytes(makeRecord(1, EventKind.New, 1))[4], REQUIRED_FIELDS);
    assert.equal(recordBytes({ ...makeRecord(1, EventKind.New, 1), helper: 1 })[4], REQUIRED_FIELDS + 1);
    assert.equal(recordBytes({ ...makeRecord(1, EventKind.New, 1), helper: 1, expectPort: 2000, expectMs: 5, expectSrc: Uint8Array.of(1, 2, 3, 4), expectDst: Uint8Array.of(5, 6, 7, 8) })[4], REQUIRED_FIELDS + 5);
    assert.equal(recordBytes(fullRecord(1))[4], RECORD_TABLE.length);
    // For peers that read only the required fields: version 1's bytes, whatever the record holds.
    assert.deepEqual(recordBytes(fullRecord(1), [], recordFieldsFor(false)), recordBytes({ ...fullRecord(1), ...optionalDefaults(4) }));
    for (const r of [makeRecord(1, EventKind.New, 1), fullRecord(2)]) assert.ok(recordSize(r) >= recordBytes(r).length, 'size estimate bounds the record');
  });

  it('round-trips the optional fields (helper, expectation, sequence offsets, an expectation made through NAT), into objects and into slots, IPv4 and IPv6', () => {
    const v6: StateRecord = {
      ...fullRecord(3), family: 6, origSrc: new Uint8Array(16).fill(0x20), origDst: new Uint8Array(16).fill(0x30), replySrc: new Uint8Array(16).fill(0x30), replyDst: new Uint8Array(16).fill(0x20),
      expectSrc: new Uint8Array(16).fill(0x30), expectDst: new Uint8Array(16).fill(0x20),
      expectNatDst: new Uint8Array(16).fill(0x20), expectNatSrc: new Uint8Array(16).fill(0x30),
    };
    const records = [fullRecord(1), { ...makeRecord(2, EventKind.New, 2), helper: 1 }, v6, { ...makeRecord(4, EventKind.New, 4), replySeqAfter: 12 }];
    const { objects, slots, batch } = decodeBoth(payload(records.map((r) => recordBytes(r))));
    assert.ok(objects.ok && objects.msg.type === MessageType.Data, JSON.stringify(objects));
    assert.deepEqual(objects.msg.records, records);
    assert.ok(slots.ok);
    assert.equal(batch.count, records.length);
    for (let i = 0; i < records.length; i++) assert.deepEqual(readSlot(batch.view, batch.bytes, i * SLOT_BYTES), records[i]);
  });

  it('applies a newer writer\'s records: values after the known fields are skipped, whichever scalars they are', () => {
    // A newer version appended fields (an integer, a byte string, true, a float64, null) to
    // every record; this reader knows none of them. Several records, so no reader path is
    // only tried once.
    const extra = [[0x18, 0xff], [0x43, 1, 2, 3], [0xf5], [0xfb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18], [0xf6]];
    const records = [fullRecord(1), makeRecord(2, EventKind.New, 2), fullRecord(3), makeRecord(4, EventKind.Destroy, 4)];
    const want = records;
    // A newer writer writes every field this version knows (its optional ones too, as 0 where
    // they are 0, since its own come after them), then its own.
    const sent = records.map((r) => recordBytes(r, extra));
    const { objects, slots, batch } = decodeBoth(payload(sent));
    assert.ok(objects.ok && objects.msg.type === MessageType.Data, JSON.stringify(objects));
    assert.deepEqual(objects.msg.records, want);
    assert.ok(slots.ok);
    for (let i = 0; i < want.length; i++) assert.deepEqual(readSlot(batch.view, batch.bytes, i * SLOT_BYTES), want[i]);
    // The same records spelled otherwise (a map per record, as a generic CBOR writer would):
    // read by the cbor-x path with the same rule.
    const plain = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: true });
    const maps = records.map((r) => ({ ...r, nat: r.nat, futureA: 7, futureB: Uint8Array.of(1) }));
    const viaCborX = decodeMessage(frame(plain.encode(maps)), key);
    assert.ok(viaCborX.ok && viaCborX.msg.type === MessageType.Data, JSON.stringify(viaCborX));
    assert.deepEqual(viaCborX.msg.records, want);
  });

  it('refuses a record shorter than the required fields, or beyond the bound, or with an unknown value that is not a small scalar, as `fields`', () => {
    const ok = recordBytes(makeRecord(1, EventKind.New, 1.5));
    // Truncated: the last required value (the stamp) left out.
    const short = Buffer.from(ok.subarray(0, ok.length - 9));
    short[4] = REQUIRED_FIELDS - 1;
    assert.equal(ok[ok.length - 9], 0xfb, 'the stamp is a float64 at the end');
    const cases: [string, Buffer][] = [
      ['truncated', payload([recordBytes(makeRecord(0, EventKind.New, 0)), short])],
      ['too long', payload([recordBytes(fullRecord(1), Array.from({ length: MAX_RECORD_FIELDS + 1 - RECORD_TABLE.length }, () => [0x01]))])],
      ['an array', payload([recordBytes(fullRecord(1), [[0x82, 1, 2]])])],
      ['a map', payload([recordBytes(fullRecord(1), [[0xa1, 1, 2]])])],
      ['text', payload([recordBytes(fullRecord(1), [[0x61, 0x41]])])],
      ['a tag', payload([recordBytes(fullRecord(1), [[0xc1, 1]])])],
      ['long bytes', payload([recordBytes(fullRecord(1), [[0x58, 65, ...new Array(65).fill(0)]])])],
    ];
    for (const [what, p] of cases) {
      const { objects, slots } = decodeBoth(p);
      assert.deepEqual(objects, { ok: false, reason: 'fields' }, what);
      assert.deepEqual(slots, { ok: false, reason: 'fields' }, what);
      assert.equal(readRecords(p), null, what);
    }
    // Exactly at the bound: read.
    const atBound = payload([recordBytes(fullRecord(1), Array.from({ length: MAX_RECORD_FIELDS - RECORD_TABLE.length }, () => [0x01]))]);
    assert.ok(decodeBoth(atBound).objects.ok);
    // Spelled as maps (the cbor-x path): too few values, or an unknown one that is an array.
    const plain = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: true });
    const r = makeRecord(1, EventKind.New, 1) as unknown as Record<string, unknown>;
    const fewer = Object.fromEntries(RECORD_FIELDS.slice(0, REQUIRED_FIELDS - 1).map((k) => [k, r[k]]));
    assert.deepEqual(decodeMessage(frame(plain.encode([fewer])), key), { ok: false, reason: 'fields' });
    assert.deepEqual(decodeMessage(frame(plain.encode([{ ...r, future: [1, 2] }])), key), { ok: false, reason: 'fields' });
  });
});

describe('record compatibility rule: what a node sends a peer of an older version', () => {
  /** The datagram as a node of version 1 (no MessageFlag.LongRecords) would have sent it. */
  function asVersion1(m: Buffer): Buffer {
    const b = Buffer.from(m);
    b.writeUInt16BE(b.readUInt16BE(4) & ~2, 4);
    const len = b.length - MAC_LEN;
    createHmac('sha256', key).update(b.subarray(0, len)).digest().copy(b, len);
    return b;
  }

  /** Values of the records of the DATA datagrams `a` sends `b` with `rec` published, `b` of version 1 or not. */
  function recordLengthsSent(peerIsVersion1: boolean): number[] {
    const a = new SyncEndpoint({ nodeId: 1, epoch: 1000, key }, new ReplicaTable());
    const bTable = new ReplicaTable();
    const b = new SyncEndpoint({ nodeId: 2, epoch: 1000, key }, bTable);
    a.start(0);
    b.start(0);
    const lengths: number[] = [];
    let published = false;
    for (let now = 0; now < 5000; now += 5) {
      a.tick(now);
      b.tick(now);
      for (let m = a.poll(); m !== undefined; m = a.poll()) {
        if (m[3] === MessageType.Data) {
          for (let i = m.indexOf(Buffer.from([0xd9, 0xe0, 0x00, 0x98])); i >= 0; i = m.indexOf(Buffer.from([0xd9, 0xe0, 0x00, 0x98]), i + 1)) lengths.push(m[i + 4]!);
        }
        b.receive(m, now);
      }
      for (let m = b.poll(); m !== undefined; m = b.poll()) a.receive(peerIsVersion1 ? asVersion1(m) : m, now);
      if (!published && a.inSync && b.inSync) {
        a.localEvent(fullRecord(1), now);
        published = true;
      }
      if (lengths.length > 0) break;
    }
    assert.equal(b.stats.drops.fields + b.stats.drops.malformed, 0);
    return lengths;
  }

  it('sends the optional fields only when every peer says it reads them; to an older peer, the version-1 record', () => {
    assert.deepEqual(recordLengthsSent(false), [RECORD_TABLE.length]);
    assert.deepEqual(recordLengthsSent(true), [REQUIRED_FIELDS]);
  });
});
