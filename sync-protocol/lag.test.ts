import assert from 'node:assert/strict';
import { lagFromEcho, rttFromEcho } from './lag.js';

describe('lag from ACK echoes', () => {
  it('adds the sender-side wait to half the round trip, with no receiver clock involved', () => {
    // Change at 100, sent at 103, ACK sent 4 ms after apply, ACK back at 110: rtt = 7 - 4 = 3.
    assert.equal(rttFromEcho(110, 103, 4), 3);
    assert.equal(lagFromEcho(110, 103, 4, 100), 3 + 1.5);
  });

  it('rejects empty or inconsistent echoes', () => {
    assert.ok(Number.isNaN(lagFromEcho(110, NaN, NaN, NaN)));
    assert.ok(Number.isNaN(lagFromEcho(110, 103, 8, 100)), 'hold longer than the round trip');
    assert.ok(Number.isNaN(lagFromEcho(110, 103, 1, 104)), 'stamp after send');
  });
});
