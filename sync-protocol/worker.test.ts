import assert from 'node:assert/strict';
import { SyncWorkerHandle } from './worker-host.js';
import { EventRing, RING_WALK_END, RING_WALK_RECORD } from './ring.js';
import { EventKind } from './state-record.js';
import { syncClock } from './lag.js';
import { ReplicaTable, makeRecord } from './testing/fixtures.js';

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

describe('sync worker thread (unicast on 127.0.0.1)', function () {
  this.timeout(15000);

  it('replicates ring events between two workers into the other node\'s table and reports metrics', async () => {
    const key = new Uint8Array(32).fill(9);
    const rings = [new EventRing(4096), new EventRing(4096)];
    const tables = [new ReplicaTable(), new ReplicaTable()];
    const handles: SyncWorkerHandle[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        handles.push(await SyncWorkerHandle.start({
          config: { nodeId: i + 1, epoch: 1, key, startupGraceMs: 300 },
          transport: { mode: 'unicast', port: 0, bindAddr: '127.0.0.1', peers: [] },
          ringSab: rings[i]!.sab,
        }, tables[i]!));
      }
      handles[0]!.setPeers([{ address: '127.0.0.1', port: handles[1]!.port }]);
      handles[1]!.setPeers([{ address: '127.0.0.1', port: handles[0]!.port }]);
      assert.ok(await until(() => handles[0]!.inSync && handles[1]!.inSync, 5000), 'both in sync');
      for (let i = 0; i < 2000; i++) assert.ok(rings[0]!.push(makeRecord(i, EventKind.New, syncClock())));
      assert.ok(await until(() => tables[1]!.rows.size === 2000, 5000), `replicated ${tables[1]!.rows.size}`);
      const m = await handles[0]!.metrics();
      const sent = (m.metrics as { name: string; values: { value: number }[] }[]).find((x) => x.name === 'hafw_sync_records_sent_total');
      assert.ok(sent !== undefined && sent.values[0]!.value >= 2000);
      assert.equal(m.peers.length, 1);
      assert.equal(m.status.nodeId, 1);
      assert.ok(m.status.counters.recordsSent! >= 2000);
      // Stamps from this thread and times in the worker share one clock (syncClock), so the
      // lag histogram gets sane samples.
      type Metric = { name: string; values: { value: number; metricName?: string }[] };
      let count = 0;
      let sum = 0;
      for (let t = 0; t < 100 && count === 0; t++) {
        const mm = (await handles[0]!.metrics()).metrics as Metric[];
        const lag = mm.find((x) => x.name === 'hafw_sync_lag_seconds')!;
        count += lag.values.find((v) => v.metricName === 'hafw_sync_lag_seconds_count')!.value;
        sum += lag.values.find((v) => v.metricName === 'hafw_sync_lag_seconds_sum')!.value;
        if (count === 0) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(count > 0, 'lag samples');
      // A sanity bound, not a speed target (the bench measures lag): clocks that were not
      // shared would put the mean off by the gap between two time bases (hours or years),
      // while a loaded CI machine can take a few hundred ms to drain 2,000 records.
      assert.ok(sum / count >= 0 && sum / count < 5, `mean lag ${sum / count} s`);
    } finally {
      for (const h of handles) await h.stop();
    }
  });

  it('tableWalk: a late node gets the table from the owner\'s walk through the ring (the worker keeps no copy)', async () => {
    const key = new Uint8Array(32).fill(7);
    const rings = [new EventRing(4096), new EventRing(4096)];
    const tables = [new ReplicaTable(), new ReplicaTable()];
    const handles: SyncWorkerHandle[] = [];
    // The owner's table (what the datapath thread holds), walked on request.
    const owned = Array.from({ length: 3000 }, (_, i) => makeRecord(i, EventKind.New, syncClock()));
    let cursor = 0;
    let credit = 0;
    let walks = 0;
    const turn = (): void => {
      const ring = rings[0]!;
      while (credit > 0 && cursor < owned.length && ring.capacity - ring.depth > 2) {
        assert.ok(ring.push({ ...owned[cursor++]!, kind: RING_WALK_RECORD as EventKind, stamp: syncClock() }));
        credit--;
      }
      if (cursor === owned.length && ring.capacity - ring.depth > 1) {
        assert.ok(ring.push({ ...owned[0]!, kind: RING_WALK_END as EventKind }));
        cursor = -1;
        walks++;
      }
      if (cursor >= 0 && credit > 0) setImmediate(turn);
    };
    try {
      handles.push(await SyncWorkerHandle.start({
        config: { nodeId: 1, epoch: 1, key, startupGraceMs: 300 },
        transport: { mode: 'unicast', port: 0, bindAddr: '127.0.0.1', peers: [] },
        ringSab: rings[0]!.sab,
        tableWalk: true,
      }, tables[0]!, undefined, () => assert.fail('no dump is asked for'), undefined, (start, records) => {
        if (start) cursor = 0;
        credit += records;
        if (cursor >= 0) setImmediate(turn);
      }));
      assert.ok(await until(() => handles[0]!.inSync, 5000), 'alone, in sync');
      for (const r of owned) assert.ok(rings[0]!.push(r));
      // Node 2 comes late: it asks node 1 for its table.
      handles.push(await SyncWorkerHandle.start({
        config: { nodeId: 2, epoch: 1, key, startupGraceMs: 300 },
        transport: { mode: 'unicast', port: 0, bindAddr: '127.0.0.1', peers: [] },
        ringSab: rings[1]!.sab,
      }, tables[1]!));
      handles[0]!.setPeers([{ address: '127.0.0.1', port: handles[1]!.port }]);
      handles[1]!.setPeers([{ address: '127.0.0.1', port: handles[0]!.port }]);
      assert.ok(await until(() => handles[1]!.inSync && tables[1]!.rows.size === 3000, 10000), `in sync with ${tables[1]!.rows.size} rows`);
      assert.ok(walks >= 1, 'the owner walked its table');
      const m = await handles[0]!.metrics();
      assert.ok(m.status.counters.resyncsServed! >= 1);
    } finally {
      for (const h of handles) await h.stop();
    }
  });

  it('a worker that dies after it was ready is reported once, pending and later requests fail instead of hanging, and in-sync is withdrawn', async () => {
    const ring = new EventRing(1024);
    const failures: Error[] = [];
    const inSync: boolean[] = [];
    const h = await SyncWorkerHandle.start({
      config: { nodeId: 1, epoch: 1, key: new Uint8Array(32).fill(9), startupGraceMs: 100 },
      transport: { mode: 'unicast', port: 0, bindAddr: '127.0.0.1', peers: [] },
      ringSab: ring.sab,
    }, new ReplicaTable(), (v) => inSync.push(v), undefined, (err) => failures.push(err));
    try {
      assert.ok(await until(() => h.inSync, 5000), 'alone, hence in sync');
      // A real crash inside the worker: a message its handler cannot process throws there.
      h.rebuildLocal([null] as never, 0);
      const pending = h.metrics();
      await assert.rejects(pending);
      assert.ok(await until(() => failures.length > 0, 5000), 'failure reported');
      assert.equal(failures.length, 1);
      assert.equal(h.inSync, false);
      await assert.rejects(h.metrics(), (e: Error) => e === h.failure);
    } finally {
      await h.stop();
    }
    assert.equal(failures.length, 1, 'stop() after a failure is no second failure');
  });
});
