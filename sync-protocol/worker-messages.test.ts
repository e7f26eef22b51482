import { optionalDefaults } from './record-fields.js';
import assert from 'node:assert/strict';
import { OpBatchWriter, applyOps } from './worker-messages.js';
import { SlotReader } from './ring.js';
import { EventKind, type StateRecord, type StateSink } from './state-record.js';
import { makeRecord } from './testing/fixtures.js';

describe('worker -> table op batches', () => {
  it('carry applies, resync begin and end in order, records field for field through one reused record', () => {
    const a = new Uint8Array(16).fill(0x20);
    const v6: StateRecord = { ...makeRecord(5, EventKind.New, 1.5), family: 6, ...optionalDefaults(6), origSrc: a, origDst: a, replySrc: a, replyDst: a,
      nat: { kind: 2, addr: new Uint8Array(16).fill(9), port: 8080 } };
    const recs = [makeRecord(1, EventKind.New, 10.25, 3), v6, makeRecord(2, EventKind.Destroy, 11)];
    const w = new OpBatchWriter();
    w.begin(7);
    for (let i = 0; i < 200; i++) w.apply(7, recs[i % 3]!, i + 0.5); // beyond the first buffer: it grows
    w.end(7);
    const { buf, count } = w.take();
    assert.equal(count, 202);
    assert.equal(w.count, 0);
    const log: string[] = [];
    const seen: StateRecord[] = [];
    const ages: number[] = [];
    const sink: StateSink = {
      apply: (owner, rec, ageMs) => {
        log.push(`apply ${owner}`);
        seen.push({ ...rec, origSrc: rec.origSrc.slice(), origDst: rec.origDst.slice(), replySrc: rec.replySrc.slice(), replyDst: rec.replyDst.slice(), nat: rec.nat && { ...rec.nat, addr: rec.nat.addr.slice() } });
        ages.push(ageMs);
      },
      resyncBegin: (owner) => log.push(`begin ${owner}`),
      resyncEnd: (owner) => log.push(`end ${owner}`),
    };
    const reader = new SlotReader();
    // In two slices, as the table's thread applies them between event-loop turns.
    applyOps(buf, 0, 100, sink, reader);
    applyOps(buf, 100, count, sink, reader);
    assert.equal(log[0], 'begin 7');
    assert.equal(log[201], 'end 7');
    assert.equal(log.filter((x) => x === 'apply 7').length, 200);
    for (let i = 0; i < 200; i++) {
      assert.deepEqual(seen[i], recs[i % 3], `record ${i}`);
      assert.equal(ages[i], i + 0.5);
    }
  });
});
