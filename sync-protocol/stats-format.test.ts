import assert from 'node:assert/strict';
import { formatSyncStatus, syncStatus } from './stats-format.js';
import { SyncEndpoint } from './endpoint.js';
import { ReplicaTable } from './testing/fixtures.js';

describe('sync stats output', () => {
  it('snapshots counters, drops and lag quantiles as JSON-safe data and prints them', () => {
    const ep = new SyncEndpoint({ nodeId: 7, epoch: 42, key: Buffer.alloc(32) }, new ReplicaTable());
    ep.start(0);
    ep.receive(new Uint8Array(3), 1, '203.0.113.5');
    for (let i = 1; i <= 100; i++) ep.stats.lagSamples.push(i / 10);
    const snap = syncStatus(ep, { depth: 3, drops: 1 });
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
