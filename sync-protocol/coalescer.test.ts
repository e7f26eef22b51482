import assert from 'node:assert/strict';
import { Coalescer, type Batch } from './coalescer.js';
import { EventKind, recordKey, type StateRecord } from './state-record.js';
import { encodeMessage, MessageType, recordBudget, recordSize } from './wire.js';
import { makeRecord } from './testing/fixtures.js';

/** The rules shown with records as items, keyed by connection. */
class RecordCoalescer extends Coalescer<StateRecord> {
  pushRecord(rec: StateRecord, now: number): void {
    this.push(recordKey(rec), rec.kind, rec, recordSize(rec), now);
  }
}

/** Batches as the records they send (each with the kind it is sent with). */
function records(batches: Batch<StateRecord>[]): StateRecord[][] {
  return batches.map((b) => b.items.map((r, i) => ({ ...r, kind: b.kinds[i]! })));
}

function drainAll(c: RecordCoalescer, now: number): StateRecord[][] {
  const out: Batch<StateRecord>[] = [];
  c.drain(now, out);
  return records(out);
}

describe('Coalescer', () => {
  it('keeps only the latest of several updates', () => {
    const c = new RecordCoalescer({ mtu: 1500, flushDelayMs: 2 });
    c.pushRecord(makeRecord(1, EventKind.Update, 1, 1), 0);
    c.pushRecord(makeRecord(1, EventKind.Update, 2, 2), 0);
    c.pushRecord(makeRecord(1, EventKind.Update, 3, 3), 0);
    const out = drainAll(c, 2);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.length, 1);
    assert.equal(out[0]![0]!.mark, 3);
    assert.equal(out[0]![0]!.kind, EventKind.Update);
  });

  it('cancels new followed by destroy in the same batch', () => {
    const c = new RecordCoalescer({ mtu: 1500, flushDelayMs: 2 });
    c.pushRecord(makeRecord(1, EventKind.New, 1), 0);
    c.pushRecord(makeRecord(2, EventKind.New, 1), 0);
    c.pushRecord(makeRecord(1, EventKind.Update, 1), 0);
    c.pushRecord(makeRecord(1, EventKind.Destroy, 1), 0);
    const out = drainAll(c, 5);
    assert.deepEqual(out.map((b) => b.map((r) => r.origSrc[3])), [[2]]);
  });

  it('turns new + update into new carrying the latest data', () => {
    const c = new RecordCoalescer({ mtu: 1500, flushDelayMs: 2 });
    c.pushRecord(makeRecord(1, EventKind.New, 1, 1), 0);
    c.pushRecord(makeRecord(1, EventKind.Update, 2, 9), 0);
    const r = drainAll(c, 2)[0]![0]!;
    assert.equal(r.kind, EventKind.New);
    assert.equal(r.mark, 9);
  });

  it('turns update + destroy into destroy, and destroy + new into new', () => {
    const c = new RecordCoalescer({ mtu: 1500, flushDelayMs: 2 });
    c.pushRecord(makeRecord(1, EventKind.Update, 1), 0);
    c.pushRecord(makeRecord(1, EventKind.Destroy, 2), 0);
    c.pushRecord(makeRecord(2, EventKind.Destroy, 1), 0);
    c.pushRecord(makeRecord(2, EventKind.New, 2, 5), 0);
    const b = drainAll(c, 2)[0]!;
    assert.deepEqual(b.map((r) => [r.origSrc[3], r.kind]), [[1, EventKind.Destroy], [2, EventKind.New]]);
  });

  it('holds a small batch until the flush delay, then sends it', () => {
    const c = new RecordCoalescer({ mtu: 1500, flushDelayMs: 2 });
    c.pushRecord(makeRecord(1, EventKind.New, 1), 10);
    assert.equal(drainAll(c, 11.9).length, 0);
    assert.equal(c.dueAt(), 12);
    assert.equal(drainAll(c, 12).length, 1);
    assert.equal(c.size, 0);
    assert.equal(c.dueAt(), Infinity);
  });

  it('sends full datagrams at once and keeps the remainder, each within the MTU', () => {
    const mtu = 1500;
    const c = new RecordCoalescer({ mtu, flushDelayMs: 1000 });
    for (let i = 0; i < 500; i++) c.pushRecord(makeRecord(i, EventKind.New, i + 0.5), 0);
    const out = drainAll(c, 0);
    assert.ok(out.length >= 5, `only ${out.length} full datagrams`);
    assert.ok(c.size > 0 && c.size < out[0]!.length, 'remainder waits for the delay');
    const budget = recordBudget(mtu);
    for (const b of out) {
      const bytes = encodeMessage({ type: MessageType.Data, records: b, flags: 0, node: 1, epoch: 1, seq: 1, time: 1 }, Buffer.alloc(32));
      assert.ok(bytes.length + 48 <= mtu, `datagram ${bytes.length} over MTU`);
      assert.ok(bytes.length + 48 > mtu - 120, `datagram ${bytes.length} badly filled (budget ${budget})`);
    }
    const seen = new Set(out.flat().map((r) => r.origSrc.join('.')));
    const rest: Batch<StateRecord>[] = [];
    c.flush(rest);
    for (const r of records(rest).flat()) seen.add(r.origSrc.join('.'));
    assert.equal(seen.size, 500);
  });
});
