import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NAT_TABLE, RECORD_TABLE, SLOT, SLOT_BYTES, SLOT_PLACES, type FieldSpec, type StateRecord } from './record-fields.js';
import { codecSource, emptyRecord, readSlot, writeSlot } from './record-codec.js';
import { MessageType, decodeMessage, decodeRecordsWithCborX, encodeMessage, HEADER_LEN, MAC_LEN } from './wire.js';
import { readRecords } from './record-reader.js';
import { SlotReader } from './ring.js';
import { V1_DATA_HEX, V1_HEADER, V1_KEY, V1_RECORDS } from './testing/wire-v1.js';
import { DOC_PATH, withGeneratedSections } from './testing/record-docs.js';

/** A record whose every field holds a value no other field holds (so a swap or a shift shows). */
function distinctRecord(family: 4 | 6, withNat: boolean): StateRecord {
  const r = emptyRecord() as unknown as Record<string, unknown>;
  const alen = family === 4 ? 4 : 16;
  let n = 1;
  const value = (type: string): unknown => {
    n++;
    switch (type) {
      case 'event': return n % 3;
      case 'family': return family;
      case 'u8': return (n * 37) & 0xff;
      case 'u16': return (n * 4099) & 0xffff;
      case 'u32': return (n * 0x9e3779b1) >>> 0;
      case 'addr': return Uint8Array.from({ length: alen }, (_, i) => n * 16 + i);
      case 'ms': return n * 1000 + 2 ** 33;
      case 'time': return n + 0.125;
      default: return null;
    }
  };
  for (const f of RECORD_TABLE as readonly FieldSpec[]) {
    const v = value(f.type);
    // Within a field's own bound (a receiver refuses a record past it).
    r[f.name] = f.max !== undefined && typeof v === 'number' ? v % (f.max + 1) : v;
  }
  if (withNat) {
    const nat: Record<string, unknown> = {};
    for (const g of NAT_TABLE) nat[g.name] = value(g.type);
    nat.kind = 3;
    r.nat = nat;
  }
  return r as unknown as StateRecord;
}

describe('record field table', () => {
  it('a DATA message is byte for byte the one the version before the table wrote (rolling upgrade, this way)', () => {
    const m = encodeMessage({ ...V1_HEADER, type: MessageType.Data, records: V1_RECORDS }, V1_KEY);
    assert.equal(m.toString('hex'), V1_DATA_HEX);
  });

  it('reads the frozen message of the version before the table into the same records (and the other way)', () => {
    const frozen = Buffer.from(V1_DATA_HEX, 'hex');
    const d = decodeMessage(frozen, V1_KEY);
    assert.ok(d.ok && d.msg.type === MessageType.Data);
    assert.deepEqual(d.msg.records.map(plain), V1_RECORDS.map(plain));
    // The generic path (cbor-x with the declared structures) reads them alike.
    const payload = frozen.subarray(HEADER_LEN, frozen.length - MAC_LEN);
    assert.deepEqual(decodeRecordsWithCborX(payload)?.map(plain), V1_RECORDS.map(plain));
    assert.deepEqual(readRecords(payload)?.map(plain), V1_RECORDS.map(plain));
  });

  it('every field of the table survives the ring slot, both slot readers, the CBOR writer and both readers', () => {
    const reader = new SlotReader();
    const slot = new Uint8Array(SLOT_BYTES + 8);
    const view = new DataView(slot.buffer);
    for (const family of [4, 6] as const) {
      for (const withNat of [false, true]) {
        const r = distinctRecord(family, withNat);
        writeSlot(view, slot, 8, r);
        assert.deepEqual(plain(readSlot(view, slot, 8)), plain(r), `readSlot, family ${family}, nat ${withNat}`);
        assert.deepEqual(plain(reader.read(view, slot, 8)), plain(r), `SlotReader, family ${family}, nat ${withNat}`);
        const m = encodeMessage({ ...V1_HEADER, type: MessageType.Data, records: [r] }, V1_KEY);
        const d = decodeMessage(m, V1_KEY);
        assert.ok(d.ok && d.msg.type === MessageType.Data);
        assert.deepEqual(plain(d.msg.records[0]!), plain(r), `wire, family ${family}, nat ${withNat}`);
        assert.deepEqual(decodeRecordsWithCborX(m.subarray(HEADER_LEN, m.length - MAC_LEN))?.map(plain), [plain(r)]);
      }
    }
  });

  it('places every field of the slot inside it, aligned to its size, without overlap', () => {
    const width = (t: string): number => (t === 'ms' || t === 'time' ? 8 : t === 'addr' ? 16 : t === 'u32' ? 4 : t === 'u16' ? 2 : 1);
    const used = new Uint8Array(SLOT_BYTES);
    for (const p of SLOT_PLACES) {
      const w = width(p.type);
      assert.equal(p.at % Math.min(w, 8), 0, `${p.name} at ${p.at} is aligned`);
      for (let i = p.at; i < p.at + w; i++) {
        assert.ok(i < SLOT_BYTES && used[i] === 0, `${p.name} overlaps or overflows at ${i}`);
        used[i] = 1;
      }
      assert.equal(SLOT[p.name], p.at);
    }
    const fields = RECORD_TABLE.filter((f) => f.type !== 'nat').length + NAT_TABLE.length + 1;
    assert.equal(SLOT_PLACES.length, fields, 'every field (and the NAT flag) has its place');
  });

  it('compiles straight-line code: no loop over the table and no closure per field in the per-connection paths', () => {
    for (const [name, src] of Object.entries(codecSource())) {
      assert.doesNotMatch(src, /=>|function/, `${name} makes no closure`);
      const loops = src.match(/for \(/g)?.length ?? 0;
      const addressCopies = src.match(/for \(let i = 0; i < (alen|s\.length); i\+\+\)/g)?.length ?? 0;
      // And the one that skips the values of fields a newer version appended (none in its records).
      const skips = src.match(/for \(let i = \d+; i < n; i\+\+\) c\.skip\(\);/g)?.length ?? 0;
      assert.equal(loops, addressCopies + skips, `${name}: the only loops copy address bytes or skip unknown fields`);
    }
  });

  it('docs/sync-protocol.md shows the wire tables and the slot layout of the field table', () => {
    const doc = readFileSync(DOC_PATH, 'utf8');
    assert.equal(doc, withGeneratedSections(doc), 'regenerate with: node dist/sync-protocol/testing/record-docs.js --write');
  });
});

/** A record with its byte arrays as plain arrays (Buffer views and Uint8Arrays compare alike). */
function plain(r: object): unknown {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (v instanceof Uint8Array) o[k] = [...v];
    else if (v !== null && typeof v === 'object') o[k] = plain(v as object);
    else o[k] = v;
  }
  return o;
}
