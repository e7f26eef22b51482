import assert from 'node:assert/strict';
import { SyncMetrics } from './metrics.js';
import { SyncEndpoint } from './endpoint.js';
import { EventKind } from './state-record.js';
import { ReplicaTable, makeRecord } from './testing/fixtures.js';

describe('SyncMetrics', () => {
  it('exports counter increments, drops by reason and lag samples as a histogram', async () => {
    const ep = new SyncEndpoint({ nodeId: 1, epoch: 1, key: Buffer.alloc(32) }, new ReplicaTable());
    ep.start(0);
    ep.localEvent(makeRecord(1, EventKind.New, 0), 0);
    ep.tick(5);
    ep.receive(new Uint8Array(10), 5, '192.0.2.9');
    ep.stats.lagSamples.push(1.5, 3);
    const m = new SyncMetrics();
    m.update(ep);
    m.update(ep); // a second update adds nothing
    const text = await m.registry.metrics();
    assert.ok(ep.stats.msgsSent >= 1);
    assert.match(text, new RegExp(`hafw_sync_messages_sent_total ${ep.stats.msgsSent}\\b`));
    assert.match(text, /hafw_sync_dropped_total\{reason="short"\} 1\b/);
    assert.match(text, /hafw_sync_auth_failures_total\{source="192.0.2.9"\} 1\b/);
    assert.match(text, /hafw_sync_lag_seconds_count 2\b/);
    assert.match(text, /hafw_sync_lag_seconds_bucket\{le="0.002"\} 1\b/);
    assert.equal(ep.stats.lagSamples.length, 0, 'samples drained');
  });

  it('the lag by receiving peer: one series per peer beside the unlabelled histogram', async () => {
    const ep = new SyncEndpoint({ nodeId: 1, epoch: 1, key: Buffer.alloc(32) }, new ReplicaTable());
    ep.stats.lagSamples.push(0.5, 0.6, 40);
    ep.stats.lagPeers.push(2, 2, 3);
    const m = new SyncMetrics();
    m.update(ep);
    const text = await m.registry.metrics();
    assert.match(text, /hafw_sync_lag_seconds_count 3\b/);
    assert.match(text, /hafw_sync_peer_lag_seconds_count\{peer="2"\} 2\b/);
    assert.match(text, /hafw_sync_peer_lag_seconds_count\{peer="3"\} 1\b/);
    assert.match(text, /hafw_sync_peer_lag_seconds_bucket\{le="0.025",peer="3"\} 0\b/);
    assert.match(text, /hafw_sync_peer_lag_seconds_bucket\{le="0.05",peer="3"\} 1\b/);
    assert.equal(ep.stats.lagPeers.length, 0, 'drained with the samples');
  });
});
