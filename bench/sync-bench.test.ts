import assert from 'node:assert/strict';
import { histogramQuantile } from './sync-bench.js';

describe('sync bench: histogram quantiles', () => {
  const h = {
    // 10 samples <= 1 ms, 80 in (1, 2] ms, 10 in (2, 5] ms
    buckets: [
      { le: 0.001, count: 10 },
      { le: 0.002, count: 90 },
      { le: 0.005, count: 100 },
      { le: Infinity, count: 100 },
    ],
    count: 100,
    sum: 0.16,
  };

  it('interpolates linearly inside the bucket that holds the rank, like histogram_quantile', () => {
    assert.equal(histogramQuantile(h, 0.5), 0.0015);
    assert.ok(Math.abs(histogramQuantile(h, 0.99) - 0.0047) < 1e-12);
    assert.equal(histogramQuantile(h, 0.05), 0.0005);
  });

  it('is NaN without samples and the last finite bound for ranks in +Inf', () => {
    assert.ok(Number.isNaN(histogramQuantile({ buckets: [], count: 0, sum: 0 }, 0.5)));
    const tail = { buckets: [{ le: 0.001, count: 1 }, { le: Infinity, count: 4 }], count: 4, sum: 9 };
    assert.equal(histogramQuantile(tail, 0.99), 0.001);
  });
});
