import assert from 'node:assert/strict';
import { countLags, nearestRank } from './cps-sync-bench.js';

describe('cps-sync bench: standby lag from sampled counts', () => {
  it('gives each sample the time until the standby held as many entries', () => {
    const { lags, behind } = countLags([
      { t: 0, master: 0, standby: 0 },
      { t: 100, master: 50, standby: 10 },
      { t: 200, master: 90, standby: 50 },
      { t: 300, master: 90, standby: 95 },
    ]);
    // t=0 matched; 50 reached at t=200 (100 ms); 90 reached at t=300 (100 ms); t=300 matched.
    assert.deepEqual(lags, [0, 100, 100, 0]);
    assert.equal(behind, 0);
  });
  it('counts the samples the standby never caught up with instead of inventing a lag', () => {
    const { lags, behind } = countLags([
      { t: 0, master: 10, standby: 0 },
      { t: 50, master: 20, standby: 10 },
      { t: 100, master: 30, standby: 15 },
    ]);
    assert.deepEqual(lags, [50]);
    assert.equal(behind, 2);
  });
  it('nearest-rank percentiles', () => {
    assert.equal(nearestRank([5, 1, 3, 2, 4], 50), 3);
    assert.equal(nearestRank([5, 1, 3, 2, 4], 99), 5);
    assert.ok(Number.isNaN(nearestRank([], 99)));
  });
});
