import assert from 'node:assert/strict';
import { BoxSet, HashKeySet, IntervalSet, buildSet } from './set-structures.js';

function key(...w: number[]): Uint32Array {
  return Uint32Array.from(w);
}

describe('set structures', () => {
  it('hash set agrees with a Map through random adds and deletes (bounded)', () => {
    const h = new HashKeySet(2);
    const ref = new Map<string, number>();
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 20000; i++) {
      const a = rnd(300);
      const b = rnd(7);
      const k = key(a, b);
      if (rnd(3) === 0) {
        assert.equal(h.delete(k), ref.delete(`${a},${b}`));
      } else {
        h.add(k, i, 0);
        ref.set(`${a},${b}`, i);
      }
    }
    assert.equal(h.size, ref.size);
    for (let a = 0; a < 300; a++) {
      for (let b = 0; b < 7; b++) {
        const i = h.lookup(key(a, b), 0, 0);
        const want = ref.get(`${a},${b}`);
        assert.equal(i >= 0 ? h.dataOf(i) : undefined, want, `key ${a},${b}`);
      }
    }
  });

  it('hash set honours element expiry', () => {
    const h = new HashKeySet(1);
    h.add(key(5), 1, 1000);
    assert.ok(h.lookup(key(5), 0, 999) >= 0);
    assert.equal(h.lookup(key(5), 0, 1000), -1);
  });

  it('interval set finds the range holding a key, and nothing between ranges', () => {
    const s = new IntervalSet(1, [
      { lo: key(100), hi: key(200), data: 1, expires: 0 },
      { lo: key(10), hi: key(10), data: 2, expires: 0 },
      { lo: key(300), hi: key(0xffffffff), data: 3, expires: 0 },
    ]);
    const d = (k: number): number => {
      const i = s.lookup(key(k), 0, 0);
      return i < 0 ? -1 : s.dataOf(i);
    };
    assert.deepEqual([d(9), d(10), d(11), d(100), d(150), d(200), d(201), d(299), d(300), d(0xffffffff)], [-1, 2, -1, 1, 1, 1, -1, -1, 3, 3]);
  });

  it('interval set compares multi-word keys (IPv6) word by word', () => {
    const s = new IntervalSet(4, [{ lo: key(0x20010db8, 0, 0, 0), hi: key(0x20010db8, 0, 0xffffffff, 0xffffffff), data: 0, expires: 0 }]);
    assert.ok(s.lookup(key(0x20010db8, 0, 5, 1), 0, 0) >= 0);
    assert.equal(s.lookup(key(0x20010db8, 1, 0, 0), 0, 0), -1);
  });

  it('interval set refuses overlapping ranges', () => {
    assert.throws(() => new IntervalSet(1, [
      { lo: key(1), hi: key(10), data: 0, expires: 0 },
      { lo: key(10), hi: key(20), data: 0, expires: 0 },
    ]));
  });

  it('box set checks every component of a concatenation', () => {
    const b = new BoxSet(2, [1, 1], [{ lo: key(10, 20), hi: key(19, 30), data: 7, expires: 0 }]);
    assert.equal(b.dataOf(b.lookup(key(15, 25), 0, 0)), 7);
    assert.equal(b.lookup(key(15, 31), 0, 0), -1);
    assert.equal(b.lookup(key(9, 25), 0, 0), -1);
  });

  it('buildSet picks a hash for exact keys and an interval set for ranges', () => {
    assert.ok(buildSet([1], [{ lo: key(1), hi: key(1), data: 0, expires: 0 }], false) instanceof HashKeySet);
    assert.ok(buildSet([1], [{ lo: key(1), hi: key(5), data: 0, expires: 0 }], true) instanceof IntervalSet);
    assert.ok(buildSet([1, 4], [{ lo: key(1, 0, 0, 0, 0), hi: key(1, 0, 0, 0, 9), data: 0, expires: 0 }], true) instanceof BoxSet);
  });
});
