import assert from 'node:assert/strict';
import { BulkSender, ResyncState } from './resync.js';
import { StateMirror } from './state-mirror.js';
import { ReliableReceiver } from './reliability.js';
import { EventKind } from './state-record.js';
import { slotRecordSize } from './wire.js';
import { makeRecord } from './testing/fixtures.js';

function mirrorOf(n: number): StateMirror {
  const m = new StateMirror();
  for (let i = 0; i < n; i++) m.note(makeRecord(i, EventKind.New, i));
  return m;
}

describe('BulkSender', () => {
  it('walks the whole table in chunks that fit the budget', () => {
    const m = mirrorOf(1000);
    const b = new BulkSender(m);
    b.request();
    let total = 0;
    for (let n = b.take(1000); n > 0; n = b.take(1000)) {
      assert.equal(b.at.length, n);
      assert.ok(b.at.reduce((s, o) => s + slotRecordSize(m.slabView, m.slabBytes, o), 0) <= 1000);
      total += n;
    }
    assert.equal(total, 1000);
    assert.equal(b.count, 1000);
  });

  it('merges a request made before the first chunk, and schedules one more walk for a later one', () => {
    const b = new BulkSender(mirrorOf(10));
    b.request();
    b.request(); // before any chunk went out: the same walk serves both
    const first = b.bulkId;
    b.firstSeq = 100;
    b.take(10000);
    b.request(); // this requester missed the start
    assert.equal(b.take(10000), 0);
    b.finish();
    assert.ok(b.active, 'a second walk starts');
    assert.notEqual(b.bulkId, first);
    b.take(10000);
    b.finish();
    assert.equal(b.active, false);
  });
});

describe('ResyncState', () => {
  const opts = { window: 1024, nackRetryMs: 10 };

  it('is in sync only when every sequence of the walk, first chunk to DONE, arrived', () => {
    const rx = new ReliableReceiver(100, opts);
    const s = new ResyncState(0);
    rx.onData(100, 0);
    s.onChunk(7, 0);
    rx.onData(102, 0); // 101 missing
    s.onDone(7, 100, 102, 0);
    assert.equal(s.check(rx), null);
    assert.equal(s.synced, false);
    rx.onData(101, 1);
    assert.deepEqual(s.check(rx), { sweep: true });
    assert.equal(s.synced, true);
  });

  it('asks again when it joined the walk after its first chunk', () => {
    const rx = new ReliableReceiver(105, opts);
    const s = new ResyncState(0);
    s.lastRequestAt = 0;
    rx.onData(105, 0);
    s.onChunk(7, 0);
    rx.onData(106, 0);
    s.onDone(7, 100, 106, 0);
    assert.equal(s.check(rx), null);
    assert.equal(s.shouldRequest(1, 500), true, 'request again at once');
  });

  it('marks the start of a walk once, even when it picks the walk up again after a give-up', () => {
    const s = new ResyncState(0);
    assert.equal(s.onChunk(7, 0), true, 'first chunk of walk 7: the sink marks its start');
    assert.equal(s.onChunk(7, 1), false);
    s.invalidate(2);
    // A later chunk of the same walk must not move the mark: the sweep at its end would
    // remove replicas its earlier chunks refreshed.
    assert.equal(s.onChunk(7, 3), false);
    assert.equal(s.onDone(7, 100, 120, 4), false);
    assert.equal(s.onChunk(8, 5), true, 'the next walk gets its own mark');
    assert.equal(s.onChunk(7, 6), false, 'a late chunk of an older walk does not mark');
    assert.equal(new ResyncState(0).onDone(9, 100, 100, 0), true, 'an empty walk (DONE only) is marked too');
  });

  it('completes a walk whose DONE arrives after the next walk began, without sweeping with the newer mark', () => {
    const rx = new ReliableReceiver(100, opts);
    const s = new ResyncState(0);
    for (let q = 100; q <= 104; q++) rx.onData(q, 0);
    assert.equal(s.onChunk(7, 0), true); // 100..102: walk 7
    assert.equal(s.onChunk(8, 0), true); // 104 (walk 8) overtook 103 (DONE of walk 7)
    s.onDone(7, 100, 103, 0);
    assert.deepEqual(s.check(rx), { sweep: false }, 'in sync, but the mark is walk 8\'s');
    assert.ok(s.synced);
    rx.onData(105, 0);
    s.onDone(8, 104, 105, 0);
    assert.deepEqual(s.check(rx), { sweep: true });
  });

  it('drops out of sync and asks again after a loss it cannot repair', () => {
    const rx = new ReliableReceiver(100, opts);
    const s = new ResyncState(0);
    rx.onData(100, 0);
    s.onDone(1, 100, 100, 0);
    assert.ok(s.check(rx) !== null);
    s.invalidate(5);
    assert.equal(s.synced, false);
    assert.ok(s.shouldRequest(5, 500));
  });
});
