import assert from 'node:assert/strict';
import { csumFold, onesSum, pseudoHeaderSum } from './index.js';

describe('Internet checksum sums', () => {
  it('gives the RFC 1071 §3 worked example (00 01 f2 03 f4 f5 f6 f7 sums to ddf2)', () => {
    assert.equal(onesSum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7), 0, 8), 0xddf2);
  });

  it('pads an odd last byte with zero, carries an initial sum in, and folds end-around', () => {
    assert.equal(onesSum(Uint8Array.of(0x12, 0x34, 0x56), 0, 3), (0x1234 + 0x5600) & 0xffff);
    assert.equal(onesSum(Uint8Array.of(0xff, 0xff), 0, 2, 0x0001), 0x0001);
    assert.equal(csumFold(0x3ffff), 0x0003); // 0xffff + 3 = 0x1_0002, then 2 + 1
    assert.equal(onesSum(new Uint8Array(4), 1, 0, 0x1234), 0x1234, 'an empty range adds nothing');
  });

  it('sums any range of any length from any even or odd offset as the word-by-word definition does', () => {
    const slow = (b: Uint8Array, off: number, len: number, init: number): number => {
      let s = init;
      for (let i = 0; i + 1 < len; i += 2) s += (b[off + i]! << 8) | b[off + i + 1]!;
      if (len & 1) s += b[off + len - 1]! << 8;
      return csumFold(s);
    };
    const buf = Uint8Array.from({ length: 300 }, (_, i) => (i * 7919 + 13) & 0xff);
    for (let off = 0; off < 12; off++) {
      for (let len = 0; len <= 280; len += len < 20 ? 1 : 37) assert.equal(onesSum(buf, off, len, 0x1234), slow(buf, off, len, 0x1234), `off ${off} len ${len}`);
    }
    const ones = new Uint8Array(0x50010).fill(0xff);
    assert.equal(onesSum(ones, 0, ones.length), 0xffff, 'past the 64 K-word fold');
  });

  it('the pseudo-header sum equals the sum of the pseudo-header laid out in bytes, IPv4 and IPv6', () => {
    const src4 = Uint8Array.of(192, 0, 2, 1);
    const dst4 = Uint8Array.of(198, 51, 100, 7);
    const v4 = Uint8Array.of(...src4, ...dst4, 0, 17, 0x01, 0x2c);
    assert.equal(pseudoHeaderSum(src4, 0, dst4, 0, 4, 17, 300), onesSum(v4, 0, v4.length));
    const buf = new Uint8Array(40);
    buf.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 8);
    buf.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 2], 24);
    const len = 0x1_0004; // a jumbogram length needs both 16-bit halves
    const v6 = Uint8Array.of(...buf.subarray(8, 40), 0, 1, 0, 4, 0, 0, 0, 58);
    assert.equal(pseudoHeaderSum(buf, 8, buf, 24, 16, 58, len), onesSum(v6, 0, v6.length));
  });
});
