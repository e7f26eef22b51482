import assert from 'node:assert/strict';
import { parseHistogram, quantileBound } from './prom-text.js';

const TEXT = `# HELP hafw_sync_lag_seconds State change on the sender to applied on the receiver.
# TYPE hafw_sync_lag_seconds histogram
hafw_sync_lag_seconds_bucket{le="0.001",node="fw-a"} 10
hafw_sync_lag_seconds_bucket{le="0.005",node="fw-a"} 90
hafw_sync_lag_seconds_bucket{le="0.01",node="fw-a"} 99
hafw_sync_lag_seconds_bucket{le="+Inf",node="fw-a"} 100
hafw_sync_lag_seconds_sum{node="fw-a"} 0.35
hafw_sync_lag_seconds_count{node="fw-a"} 100
hafw_sync_lag_seconds_other 3
hafw_sync_in_sync{node="fw-a"} 1
`;

describe('prometheus text', () => {
  it('reads a histogram: cumulative buckets, count and sum', () => {
    const h = parseHistogram(TEXT, 'hafw_sync_lag_seconds')!;
    assert.equal(h.count, 100);
    assert.equal(h.sum, 0.35);
    assert.deepEqual(h.buckets.map((b) => b.le), [0.001, 0.005, 0.01, Infinity]);
    assert.deepEqual(h.buckets.map((b) => b.count), [10, 90, 99, 100]);
  });

  it('reads one labelled series of a histogram (the lag by peer)', () => {
    const text = ['hafw_sync_peer_lag_seconds_bucket{le="0.001",peer="2"} 3', 'hafw_sync_peer_lag_seconds_bucket{le="+Inf",peer="2"} 4',
      'hafw_sync_peer_lag_seconds_count{peer="2"} 4', 'hafw_sync_peer_lag_seconds_sum{peer="2"} 0.01',
      'hafw_sync_peer_lag_seconds_bucket{le="0.001",peer="3"} 0', 'hafw_sync_peer_lag_seconds_bucket{le="+Inf",peer="3"} 5',
      'hafw_sync_peer_lag_seconds_count{peer="3"} 5', 'hafw_sync_peer_lag_seconds_sum{peer="3"} 0.5'].join('\n');
    assert.deepEqual(parseHistogram(text, 'hafw_sync_peer_lag_seconds', { peer: '3' }), { buckets: [{ le: 0.001, count: 0 }, { le: Infinity, count: 5 }], count: 5, sum: 0.5 });
    assert.equal(parseHistogram(text, 'hafw_sync_peer_lag_seconds')!.count, 9);
    assert.equal(parseHistogram(text, 'hafw_sync_peer_lag_seconds', { peer: '4' }), undefined);
  });

  it('says a histogram is absent rather than empty when the node does not expose it', () => {
    assert.equal(parseHistogram(TEXT, 'hafw_sync_resync_duration_seconds'), undefined);
    assert.equal(parseHistogram('', 'hafw_sync_lag_seconds'), undefined);
  });

  it('sums series that differ in other labels', () => {
    const two = TEXT + TEXT.replace(/fw-a/g, 'fw-b');
    const h = parseHistogram(two, 'hafw_sync_lag_seconds')!;
    assert.equal(h.count, 200);
    assert.equal(h.buckets[0]!.count, 20);
  });

  it('bounds quantiles by the bucket that holds them', () => {
    const h = parseHistogram(TEXT, 'hafw_sync_lag_seconds')!;
    assert.equal(quantileBound(h, 0.05), 0.001);
    assert.equal(quantileBound(h, 0.5), 0.005);
    assert.equal(quantileBound(h, 0.99), 0.01);
    assert.equal(quantileBound(h, 1), Infinity);
    assert.ok(Number.isNaN(quantileBound({ buckets: [], count: 0, sum: 0 }, 0.5)));
  });
});
