import assert from 'node:assert/strict';
import { formatSyncStatus, syncStatus } from './stats-format.js';
import { LAG_WINDOW_MS, SyncEndpoint } from './endpoint.js';
import { SyncMetrics } from './metrics.js';
import { RecentSamples } from './recent-samples.js';
import { EventKind } from './state-record.js';
import { ReplicaTable, SimLink, makeRecord } from './testing/fixtures.js';

describe('sync stats output', () => {
  it('snapshots counters, drops and lag quantiles as JSON-safe data and prints them', () => {
    const ep = new SyncEndpoint({ nodeId: 7, epoch: 42, key: Buffer.alloc(32) }, new ReplicaTable());
    ep.start(0);
    ep.receive(new Uint8Array(3), 1, '203.0.113.5');
    for (let i = 1; i <= 100; i++) ep.stats.recentLag.add(1000, i / 10);
    const snap = syncStatus(ep, { depth: 3, drops: 1 }, 1000);
    const json = JSON.parse(JSON.stringify(snap));
    assert.deepEqual(json, snap);
    assert.equal(snap.drops.short, 1);
    assert.equal(snap.counters.msgsReceived, 1);
    assert.equal(snap.lagMs.p50, 5.1);
    assert.equal(snap.lagMs.p99, 10);
    const text = formatSyncStatus(snap);
    assert.match(text, /node 7 \(epoch 42\): NOT in sync/);
    assert.match(text, /dropped:\s+short 1, magic 0/);
    assert.match(text, /ring depth \/ drops:\s+3 \/ 1/);
    assert.match(text, /\(none heard\)/);
    assert.match(text, /failed authentication:\s+1 \(latest from 203\.0\.113\.5: short; 203\.0\.113\.5 1\)/);
  });
});

describe('sync stats lag figures', () => {
  const key = Buffer.alloc(32, 0x5a);
  /** A replicates a burst of 50 records to B over a 2 ms link; returns the time the burst ended. */
  function burst(): { a: SyncEndpoint; now: number } {
    const a = new SyncEndpoint({ nodeId: 1, epoch: 1000, key, flushDelayMs: 1 }, new ReplicaTable());
    const b = new SyncEndpoint({ nodeId: 2, epoch: 1000, key }, new ReplicaTable());
    const link = new SimLink([a, b], { delayMs: 2 });
    a.start(0);
    b.start(0);
    let now = 0;
    for (; now < 3000 && !(a.inSync && b.inSync); now += 0.5) link.step(now);
    for (let i = 0; i < 50; i++) {
      a.localEvent(makeRecord(i, EventKind.New, now), now);
      for (const end = now + 10; now < end; now += 0.5) link.step(now);
    }
    return { a, now };
  }

  it('cover the last 10 s whoever else read a report: a metrics update in between takes nothing from them', () => {
    const { a, now } = burst();
    const first = syncStatus(a, undefined, now);
    assert.ok(first.lagMs.samples >= 10, `${first.lagMs.samples} samples`);
    // Another reader's report (the alone guard asks every 200 ms) drains the samples into the histogram.
    new SyncMetrics().update(a);
    assert.equal(a.stats.lagSamples.length, 0);
    const again = syncStatus(a, undefined, now + 2000);
    assert.deepEqual(again.lagMs, first.lagMs, 'a reader 2 s later, with no new samples, sees the same burst');
    assert.ok(again.lagMs.p50! >= 2.5 && again.lagMs.p50! <= 4, `p50 ${again.lagMs.p50}`);
    const later = syncStatus(a, undefined, now + LAG_WINDOW_MS + 1);
    assert.deepEqual(later.lagMs, { samples: 0, p50: null, p99: null }, 'the burst left the window');
  });

  it('keep the newest samples within the window, at most the capacity', () => {
    const w = new RecentSamples(1000, 4);
    for (let t = 0; t < 6; t++) w.add(t * 100, 10 - t);
    assert.deepEqual(w.sortedWithin(500), [5, 6, 7, 8], 'the newest 4');
    assert.deepEqual(w.sortedWithin(1250), [5, 6, 7], 'the one at 200 ms is older than 1 s');
    assert.deepEqual(w.sortedWithin(350), [7, 8], 'none newer than the time asked');
    assert.deepEqual(w.sortedWithin(5000), []);
    assert.throws(() => new RecentSamples(0, 4), RangeError);
  });
});
