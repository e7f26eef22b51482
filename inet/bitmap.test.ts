import assert from 'node:assert/strict';
import { bitClear, bitSet, bitTest, ctz, maskFrom, maskTo } from './index.js';

describe('bitmap words', () => {
  it('sets, tests and clears single bits across word boundaries, touching no other bit', () => {
    const w = new Uint32Array(3);
    for (const i of [0, 31, 32, 63, 95]) {
      bitSet(w, i);
      assert.ok(bitTest(w, i));
    }
    assert.deepEqual([...w], [0x80000001, 0x80000001, 0x80000000]);
    bitClear(w, 31);
    assert.equal(bitTest(w, 31), false);
    assert.deepEqual([...w], [0x00000001, 0x80000001, 0x80000000]);
  });

  it('ctz and the bit-range masks', () => {
    assert.equal(ctz(1), 0);
    assert.equal(ctz(0x80000000 | 0), 31);
    assert.equal(ctz(0b101000), 3);
    assert.equal(maskFrom(0) >>> 0, 0xffffffff);
    assert.equal(maskFrom(31) >>> 0, 0x80000000);
    assert.equal(maskTo(0) >>> 0, 1);
    assert.equal(maskTo(31) >>> 0, 0xffffffff);
    assert.equal((maskFrom(4) & maskTo(7)) >>> 0, 0xf0);
  });
});
