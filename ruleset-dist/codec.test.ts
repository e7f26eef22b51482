import assert from 'node:assert/strict';
import { FrameError, ReplayGuard, decodeFrame, encodeFrame } from './codec.js';
import { MSG_ANNOUNCE } from './messages.js';

const key = new Uint8Array(32).fill(7);

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FrameError, `not a FrameError: ${String(err)}`);
    return err.reason;
  }
  return 'accepted';
}

describe('ruleset-dist frame codec', () => {
  it('round-trips a frame: type, sender, epoch, sequence and payload', () => {
    const b = encodeFrame(key, { type: MSG_ANNOUNCE, nodeId: 0xfffffffe, epoch: 9, seq: 41, payload: { a: [1, 'x'] } });
    assert.deepEqual(decodeFrame(key, b), { type: MSG_ANNOUNCE, nodeId: 0xfffffffe, epoch: 9, seq: 41, payload: { a: [1, 'x'] } });
  });

  it('refuses a frame with any byte altered, or made with another key, as an authentication failure', () => {
    const b = encodeFrame(key, { type: MSG_ANNOUNCE, nodeId: 1, epoch: 1, seq: 1, payload: { v: 1 } });
    for (const i of [5, 9, 17, 25, b.length - 1]) {
      const c = Buffer.from(b);
      c[i]! ^= 1;
      assert.equal(reason(() => decodeFrame(key, c)), 'auth', `byte ${i}`);
    }
    assert.equal(reason(() => decodeFrame(new Uint8Array(32).fill(8), b)), 'auth');
  });

  it('refuses truncated, padded and foreign bytes as malformed without throwing anything else', () => {
    const b = encodeFrame(key, { type: MSG_ANNOUNCE, nodeId: 1, epoch: 1, seq: 1, payload: {} });
    assert.equal(reason(() => decodeFrame(key, b.subarray(0, b.length - 1))), 'malformed');
    assert.equal(reason(() => decodeFrame(key, Buffer.concat([b, Buffer.from([0])]))), 'malformed');
    assert.equal(reason(() => decodeFrame(key, Buffer.from('hello world, this is not a frame at all!!!!!!!!!!!!!!!!!!!!'))), 'malformed');
    assert.equal(reason(() => decodeFrame(key, new Uint8Array(0))), 'malformed');
  });

  it('replay guard: accepts each (epoch, sequence) once, reordered ones within 64, and a newer epoch after a restart', () => {
    const g = new ReplayGuard();
    assert.equal(g.accept(1, 5, 10), true);
    assert.equal(g.accept(1, 5, 10), false, 'duplicate');
    assert.equal(g.accept(1, 5, 12), true);
    assert.equal(g.accept(1, 5, 11), true, 'reordered inside the window');
    assert.equal(g.accept(1, 5, 11), false, 'reordered duplicate');
    assert.equal(g.accept(1, 5, 200), true);
    assert.equal(g.accept(1, 5, 100), false, 'older than the window');
    assert.equal(g.accept(1, 4, 999), false, 'previous boot');
    assert.equal(g.accept(1, 6, 1), true, 'restarted sender');
    assert.equal(g.accept(2, 1, 1), true, 'senders are independent');
  });
});
