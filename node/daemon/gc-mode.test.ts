import assert from 'node:assert/strict';
import { singleThreadedGc } from './gc-mode.js';
import { readConfig } from './config.js';

describe('garbage collection mode', () => {
  it('collects on the thread itself on hosts with at most two CPUs when auto, and as told otherwise', () => {
    assert.equal(singleThreadedGc('auto', 1), true);
    assert.equal(singleThreadedGc('auto', 2), true);
    assert.equal(singleThreadedGc('auto', 4), false);
    assert.equal(singleThreadedGc('single-threaded', 16), true);
    assert.equal(singleThreadedGc('parallel', 2), false);
  });

  it('is read from node.gc, auto by default, and a bad value names the setting', () => {
    assert.equal(readConfig({ node: { name: 'a' } }).node.gc, 'auto');
    assert.equal(readConfig({ node: { name: 'a', gc: 'parallel' } }).node.gc, 'parallel');
    assert.throws(() => readConfig({ node: { name: 'a', gc: 'fast' } }), /node\.gc/);
  });
});
