import assert from 'node:assert/strict';
import { KEYED_MAC_LEN, keyedMacValid, writeKeyedMac } from './index.js';

describe('keyed MAC (the cluster key\'s HMAC-SHA256)', () => {
  const key = new Uint8Array(32).fill(0x5a);
  const data = new TextEncoder().encode('a message of the sync segment');

  it('round trip: the MAC written into a buffer is valid for the same key and bytes', () => {
    const out = new Uint8Array(8 + KEYED_MAC_LEN + 4).fill(0xee);
    writeKeyedMac(key, data, out, 8);
    const mac = out.subarray(8, 8 + KEYED_MAC_LEN);
    assert.ok(keyedMacValid(key, data, mac));
    assert.deepEqual([...out.subarray(0, 8)], new Array(8).fill(0xee), 'nothing written before it');
    assert.deepEqual([...out.subarray(8 + KEYED_MAC_LEN)], new Array(4).fill(0xee), 'nor after it');
    // RFC 4231 test case 2: HMAC-SHA256 with key "Jefe".
    const rfc = new Uint8Array(KEYED_MAC_LEN);
    writeKeyedMac(new TextEncoder().encode('Jefe'), new TextEncoder().encode('what do ya want for nothing?'), rfc, 0);
    assert.equal(Buffer.from(rfc).toString('hex'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('refuses a tampered message, a tampered MAC, another key and a MAC of the wrong length', () => {
    const mac = new Uint8Array(KEYED_MAC_LEN);
    writeKeyedMac(key, data, mac, 0);
    const tampered = data.slice();
    tampered[3] ^= 1;
    assert.equal(keyedMacValid(key, tampered, mac), false);
    const badMac = mac.slice();
    badMac[31] ^= 0x80;
    assert.equal(keyedMacValid(key, data, badMac), false);
    assert.equal(keyedMacValid(new Uint8Array(32).fill(0x5b), data, mac), false);
    assert.equal(keyedMacValid(key, data, mac.subarray(0, 31)), false);
    assert.throws(() => writeKeyedMac(key, data, new Uint8Array(40), 9), RangeError, 'no room: refused, not cut short');
  });
});
