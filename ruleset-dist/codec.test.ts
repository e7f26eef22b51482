import assert from 'node:assert/strict';
import { FrameError, ReplayGuard, STREAM_HEAD_BYTES, decodeFrame, decodeStreamFrame, decodeStreamHead, encodeFrame, encodeStreamFrame } from './codec.js';
import { MSG_ANNOUNCE, MSG_FETCH_REQ } from './messages.js';

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

  it('stream frames: the head alone authenticates type, sender, sequence and length; every byte of head or body counts', () => {
    const f = { type: MSG_FETCH_REQ, nodeId: 7, epoch: 3, seq: 9, payload: { version: 0, nonce: 'ab' } } as const;
    const b = encodeStreamFrame(key, f);
    assert.deepEqual(decodeStreamHead(key, b.subarray(0, STREAM_HEAD_BYTES)), { type: MSG_FETCH_REQ, nodeId: 7, epoch: 3, seq: 9, payloadBytes: b.length - STREAM_HEAD_BYTES - 32 });
    assert.deepEqual(decodeStreamFrame(key, b), f);
    for (const i of [4, 9, 13, 17, 21, 30, 55]) {
      const c = Buffer.from(b);
      c[i]! ^= 1;
      assert.equal(reason(() => decodeStreamHead(key, c.subarray(0, STREAM_HEAD_BYTES))), 'auth', `head byte ${i}`);
    }
    for (const i of [STREAM_HEAD_BYTES, b.length - 1]) {
      const c = Buffer.from(b);
      c[i]! ^= 1;
      assert.equal(reason(() => decodeStreamFrame(key, c)), 'auth', `body byte ${i}`);
    }
    assert.equal(reason(() => decodeStreamHead(new Uint8Array(32).fill(8), b.subarray(0, STREAM_HEAD_BYTES))), 'auth');
    // A datagram frame is not a stream frame, nor the other way round.
    assert.equal(reason(() => decodeStreamFrame(key, encodeFrame(key, f))), 'malformed');
    assert.equal(reason(() => decodeFrame(key, b)), 'malformed');
    assert.equal(reason(() => decodeStreamHead(key, b.subarray(0, 20))), 'malformed');
  });

  it('replay guard: a sender whose 32-bit sequence wraps past 0xffffffff stays accepted, and the window spans the wrap', () => {
    const g = new ReplayGuard();
    assert.equal(g.accept(1, 5, 0xfffffffe), true);
    assert.equal(g.accept(1, 5, 0xffffffff), true);
    assert.equal(g.fresh(1, 5, 0), true);
    assert.equal(g.accept(1, 5, 0), true, 'the sender wrapped its counter');
    assert.equal(g.accept(1, 5, 1), true);
    assert.equal(g.accept(1, 5, 0xffffffff), false, 'duplicate from before the wrap');
    assert.equal(g.accept(1, 5, 0xfffffffd), true, 'reordered from before the wrap, inside the window');
  });

  it('replay guard: fresh() tells what accept() would say and remembers nothing', () => {
    const g = new ReplayGuard();
    assert.equal(g.fresh(1, 5, 10), true);
    assert.equal(g.fresh(1, 5, 10), true, 'not remembered');
    g.accept(1, 5, 10);
    assert.equal(g.fresh(1, 5, 10), false);
    assert.equal(g.fresh(1, 5, 9), true);
    assert.equal(g.fresh(1, 4, 99), false);
    assert.equal(g.fresh(1, 6, 1), true);
  });
});
