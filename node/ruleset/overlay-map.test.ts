import assert from 'node:assert/strict';
import { OverlayMap } from './overlay-map.js';

describe('OverlayMap', () => {
  it('reads through to the base and leaves it alone until applied', () => {
    const base = new Map([['a', 1], ['b', 2], ['c', 3]]);
    const o = new OverlayMap(base);
    o.set('b', 20);
    o.delete('c');
    o.set('d', 4);
    assert.deepEqual([...o], [['a', 1], ['b', 20], ['d', 4]]);
    assert.deepEqual([o.get('b'), o.get('c'), o.has('c'), o.has('d'), o.size], [20, undefined, false, true, 3]);
    assert.deepEqual([...base], [['a', 1], ['b', 2], ['c', 3]], 'base untouched');
    assert.equal(o.applyToBase(), base);
    assert.deepEqual([...base], [['a', 1], ['b', 20], ['d', 4]]);
  });

  it('handles delete then re-add, and clear', () => {
    const base = new Map([['a', 1], ['b', 2]]);
    const o = new OverlayMap(base);
    o.delete('a');
    o.set('a', 10);
    assert.deepEqual([...o.keys()], ['a', 'b']);
    o.clear();
    o.set('z', 26);
    assert.deepEqual([...o.values()], [26]);
    o.applyToBase();
    assert.deepEqual([...base], [['z', 26]]);
  });
});
