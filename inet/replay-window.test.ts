import assert from 'node:assert/strict';
import { ReplayVerdict, ReplayWindow, seqDiff, seqLt } from './index.js';

describe('serial-number arithmetic (RFC 1982)', () => {
  it('orders sequences across the 2^32 wrap', () => {
    assert.ok(seqLt(0xffffffff, 0));
    assert.ok(seqLt(0xfffffff0, 5));
    assert.ok(!seqLt(5, 0xfffffff0));
    assert.equal(seqDiff(0xfffffffe, 1), 3);
    assert.equal(seqDiff(1, 0xfffffffe), -3);
  });
});

describe('ReplayWindow', () => {
  it('accepts each sequence once, in any order inside the window', () => {
    const w = new ReplayWindow(64);
    for (const s of [10, 12, 11, 9, 40]) assert.equal(w.accept(s), ReplayVerdict.Accept);
    for (const s of [10, 12, 11, 9, 40]) assert.equal(w.accept(s), ReplayVerdict.Duplicate);
    assert.equal(w.accept(13), ReplayVerdict.Accept);
  });

  it('rejects sequences older than the window as too old', () => {
    const w = new ReplayWindow(64);
    w.accept(1000);
    assert.equal(w.check(1000 - 64), ReplayVerdict.TooOld);
    assert.equal(w.accept(1000 - 63), ReplayVerdict.Accept);
  });

  it('slides across the wraparound without accepting a replay', () => {
    const w = new ReplayWindow(128);
    const seqs: number[] = [];
    for (let s = 0xffffff00; s !== 0x100; s = (s + 1) >>> 0) seqs.push(s);
    for (const s of seqs) assert.equal(w.accept(s), ReplayVerdict.Accept);
    for (const s of seqs.slice(-100)) assert.equal(w.accept(s), ReplayVerdict.Duplicate);
    assert.equal(w.accept(0xffffff80), ReplayVerdict.TooOld);
    assert.equal(w.highest, 0xff);
  });

  it('forgets bits of sequences that left the window after a big jump', () => {
    const w = new ReplayWindow(64);
    w.accept(5);
    w.accept(5 + 64 * 3);
    // 5 + 64*3 - 10 shares a bitmap slot with old entries; it must still be new.
    assert.equal(w.accept(5 + 64 * 3 - 10), ReplayVerdict.Accept);
  });

  it('sealed at a top, accepts only later sequences, each once, also across the wrap', () => {
    const w = new ReplayWindow(64);
    w.sealAt(0xfffffffe);
    assert.ok(w.started);
    for (const s of [0xfffffffe, 0xfffffff0, 0xffffffc0, 0xff000000]) assert.notEqual(w.accept(s), ReplayVerdict.Accept, `${s}`);
    assert.equal(w.accept(1), ReplayVerdict.Accept);
    assert.equal(w.accept(0xffffffff), ReplayVerdict.Accept, 'after the top, before the newest: new');
    assert.equal(w.accept(0xffffffff), ReplayVerdict.Duplicate);
    assert.equal(w.accept(0), ReplayVerdict.Accept);
  });
});
