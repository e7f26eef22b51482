import assert from 'node:assert/strict';
import { DataVerdict, ReliableReceiver, ReliableSender, type NackAnswer } from './reliability.js';
import { MessageType } from './wire.js';
import { Rng, seqAdd } from '../inet/index.js';

const rxOpts = { window: 1024, nackRetryMs: 20 };
const txOpts = { initialSeq: 0, queueSize: 64, minResendIntervalMs: 5, peerTimeoutMs: 1000 };

function nacks(rx: ReliableReceiver, now: number): number[] {
  const out: number[] = [];
  rx.collectNacks(now, out, 64);
  return out;
}

describe('ReliableReceiver', () => {
  it('advances the cumulative ACK over in-order sequences across the wrap', () => {
    const rx = new ReliableReceiver(0xfffffffe, rxOpts);
    for (const s of [0xfffffffe, 0xffffffff, 0, 1]) assert.equal(rx.onData(s, 0), DataVerdict.Ok);
    assert.equal(rx.cumAck, 1);
    assert.deepEqual(nacks(rx, 0), []);
  });

  it('NACKs a new gap at once, again after the retry interval, and stops once filled', () => {
    const rx = new ReliableReceiver(0xfffffffe, rxOpts);
    rx.onData(0xfffffffe, 0);
    rx.onData(2, 1); // 0xffffffff, 0, 1 missing across the wrap
    assert.deepEqual(nacks(rx, 1), [0xffffffff, 1]);
    assert.deepEqual(nacks(rx, 5), [], 'not again before the retry interval');
    rx.onData(0, 6);
    assert.deepEqual(nacks(rx, 21), [0xffffffff, 0xffffffff, 1, 1]);
    rx.onData(0xffffffff, 22);
    rx.onData(1, 22);
    assert.equal(rx.cumAck, 2);
    assert.deepEqual(nacks(rx, 100), []);
    assert.equal(rx.gaps, 3);
  });

  it('finds a lost tail from ALIVE', () => {
    const rx = new ReliableReceiver(10, rxOpts);
    rx.onData(10, 0);
    rx.onAlive(13, 1);
    assert.deepEqual(nacks(rx, 1), [11, 13]);
  });

  it('reports too far ahead when the gap exceeds the window', () => {
    const rx = new ReliableReceiver(10, rxOpts);
    rx.onData(10, 0);
    assert.equal(rx.onData(10 + 2000, 1), DataVerdict.TooFar);
    assert.equal(rx.cumAck, 10 + 2000);
    assert.deepEqual(nacks(rx, 100), []);
  });

  it('gives up LOST sequences and marks the stream incomplete from there', () => {
    const rx = new ReliableReceiver(10, rxOpts);
    rx.onData(10, 0);
    rx.onData(15, 0);
    rx.giveUp(11, 14);
    assert.equal(rx.cumAck, 15);
    assert.equal(rx.coverageFrom, 15);
    assert.ok(!rx.covers(10, 15));
    assert.deepEqual(nacks(rx, 100), []);
  });

  it('gives up nothing when a LOST names only sequences that arrived (it answered a stale NACK)', () => {
    const rx = new ReliableReceiver(10, rxOpts);
    for (let s = 10; s <= 15; s++) rx.onData(s, 0);
    assert.equal(rx.giveUp(11, 14), false);
    assert.equal(rx.coverageFrom, 10);
    assert.ok(rx.covers(10, 15));
    rx.onData(17, 0);
    assert.equal(rx.giveUp(12, 16), true, 'sequence 16 was really missing');
    assert.equal(rx.cumAck, 17);
    assert.ok(!rx.covers(10, 17));
  });

  it('ignores an inverted LOST range, and walks at most the window for any other', () => {
    const rx = new ReliableReceiver(100, { window: 65536, nackRetryMs: 8 });
    rx.onData(100, 0);
    rx.onData(105, 0);
    // from after to: this used to walk round the whole 2^32 space (32 s).
    assert.equal(rx.giveUp(200, 150), false);
    assert.equal(rx.giveUp(0x80000064, 100), false, '2^31 apart is not an ordered range');
    assert.equal(rx.cumAck, 100, 'nothing changed');
    assert.deepEqual(nacks(rx, 0), [101, 104]);
    // A range reaching past the window restarts the window there (the receiver resyncs).
    assert.equal(rx.giveUp(101, 101 + 65536 * 4), true);
    assert.equal(rx.cumAck, 101 + 65536 * 4);
  });

  it('treats sequences before the cumulative point as old', () => {
    const rx = new ReliableReceiver(10, rxOpts);
    rx.onData(10, 0);
    assert.equal(rx.onData(9, 0), DataVerdict.Old);
  });
});

describe('ReliableSender', () => {
  it('answers a NACK with the held entries, once per resend interval', () => {
    const tx = new ReliableSender(txOpts);
    for (let i = 0; i < 10; i++) tx.record(MessageType.Data, null, 0, 0, 0, 0);
    const a: NackAnswer = { resend: [], lost: [] };
    tx.answerNack(2, 3, 5, 10, a);
    assert.deepEqual(a.resend.map((e) => e.seq), [3, 4, 5]);
    const b: NackAnswer = { resend: [], lost: [] };
    tx.answerNack(2, 3, 5, 12, b);
    assert.deepEqual(b.resend, [], 'second NACK within the resend interval');
  });

  it('ignores the part of a NACK beyond what was sent', () => {
    const tx = new ReliableSender(txOpts);
    for (let i = 0; i < 3; i++) tx.record(MessageType.Data, null, 0, 0, 0, 0);
    const a: NackAnswer = { resend: [], lost: [] };
    tx.answerNack(2, 1, 0x7fffffff, 10, a);
    assert.deepEqual(a.resend.map((e) => e.seq), [1, 2]);
    assert.deepEqual(a.lost, []);
  });

  it('reports evicted sequences as lost', () => {
    const tx = new ReliableSender({ ...txOpts, queueSize: 8 });
    for (let i = 0; i < 20; i++) tx.record(MessageType.Data, null, 0, 0, 0, 0);
    const a: NackAnswer = { resend: [], lost: [] };
    tx.answerNack(2, 5, 14, 10, a);
    assert.deepEqual(a.lost, [5, 11]);
    assert.deepEqual(a.resend.map((e) => e.seq), [12, 13, 14]);
  });

  it('answers a NACK overtaken by the repair with nothing, not LOST', () => {
    const tx = new ReliableSender({ ...txOpts, queueSize: 8 });
    for (let i = 0; i < 12; i++) tx.record(MessageType.Data, null, 0, 0, 0, 0);
    tx.onAck(2, 9, 0); // peer 2 has everything up to 9; the queue is trimmed
    const a: NackAnswer = { resend: [], lost: [] };
    tx.answerNack(2, 3, 9, 10, a); // left peer 2 before its repairs arrived
    assert.equal(a.lost.length + a.resend.length, 0);
    tx.answerNack(2, 3, 10, 10, a);
    assert.deepEqual(a.resend.map((e) => e.seq), [10], 'only what the peer still misses');
    const b: NackAnswer = { resend: [], lost: [] };
    tx.answerNack(3, 3, 9, 10, b); // another peer that never ACKed: really lost
    assert.deepEqual(b.lost, [3, 9]);
  });

  it('answers a NACK half the sequence space away from an emptied queue without walking it', () => {
    const tx = new ReliableSender({ ...txOpts, initialSeq: 1000 });
    for (let i = 0; i < 10; i++) tx.record(MessageType.Data, null, 0, 0, 0, 0);
    tx.onAck(2, tx.lastSeq, 0); // everything acknowledged: nothing held
    const a: NackAnswer = { resend: [], lost: [] };
    // 2^31 from lastSeq is unordered in serial arithmetic; this used to walk 2^31 sequences (22 s).
    tx.answerNack(2, seqAdd(tx.lastSeq, 0x80000000), tx.lastSeq, 10, a);
    tx.answerNack(2, seqAdd(tx.lastSeq, 0x7fffffff), seqAdd(tx.lastSeq, 0x7fffffff), 10, a);
    tx.answerNack(3, seqAdd(tx.lastSeq, -100000), seqAdd(tx.lastSeq, 1000), 10, a);
    assert.deepEqual(a.resend, []);
    assert.deepEqual(a.lost, [seqAdd(tx.lastSeq, -100000), tx.lastSeq], 'one LOST range for what is no longer held');
  });

  it('clamps a NACK to the held queue: the part before it is one LOST range, the part after what was sent is ignored', () => {
    const tx = new ReliableSender({ ...txOpts, queueSize: 8, initialSeq: 0xfffffff0 });
    for (let i = 0; i < 20; i++) tx.record(MessageType.Data, null, 0, 0, 0, 0); // 0xfffffff0 .. 3, holds 0xfffffffc .. 3
    const a: NackAnswer = { resend: [], lost: [] };
    tx.answerNack(2, 0x80000000, 0x7fffffff, 10, a); // inverted (to before from): nothing
    assert.equal(a.resend.length + a.lost.length, 0);
    tx.answerNack(2, 0xfffffff0, 0x7fffff00, 10, a);
    assert.deepEqual(a.lost, [0xfffffff0, 0xfffffffb]);
    assert.deepEqual(a.resend.map((e) => e.seq), [0xfffffffc, 0xfffffffd, 0xfffffffe, 0xffffffff, 0, 1, 2, 3]);
  });

  it('drops what every live peer acknowledged, and stops waiting for a silent peer', () => {
    const tx = new ReliableSender(txOpts);
    for (let i = 0; i < 10; i++) tx.record(MessageType.Data, null, 0, 0, 0, 0);
    tx.onAck(2, 3, 0);
    tx.onAck(1, 7, 0);
    assert.equal(tx.queued, 6);
    tx.onAck(1, 9, 2000); // peer 2 silent for longer than peerTimeoutMs
    assert.equal(tx.queued, 0);
  });
});

describe('sender and receiver over a lossy channel (pure, fake clock)', () => {
  for (const [name, loss, dup, reorder] of [
    ['20% loss', 0.2, 0, 0],
    ['20% loss, 10% duplication, 30% reordering', 0.2, 0.1, 0.3],
  ] as const) {
    it(`delivers every sequence across the wrap with ${name}`, () => {
      const rng = new Rng(7);
      const start = 0xffffff00;
      const total = 20000;
      const tx = new ReliableSender({ initialSeq: start, queueSize: 32768, minResendIntervalMs: 2, peerTimeoutMs: 1e9 });
      const rx = new ReliableReceiver(start, { window: 65536, nackRetryMs: 10 });
      const seen = new Set<number>();
      type Pkt = { at: number; kind: 'data' | 'alive' | 'nack'; a: number; b: number };
      let wire: Pkt[] = [];
      const put = (p: Pkt) => {
        const copies = rng.next() < dup ? 2 : 1;
        for (let c = 0; c < copies; c++) {
          if (rng.next() < loss) continue;
          wire.push({ ...p, at: p.at + 0.2 + (rng.next() < reorder ? rng.next() * 5 : 0) });
        }
      };
      let sent = 0;
      let now = 0;
      const ans: NackAnswer = { resend: [], lost: [] };
      for (let step = 0; step < 200000 && (sent < total || rx.cumAck !== tx.lastSeq); step++) {
        now += 0.1;
        for (let k = 0; k < 4 && sent < total; k++, sent++) {
          const seq = tx.record(MessageType.Data, null, 0, 0, 0, now);
          put({ at: now, kind: 'data', a: seq, b: 0 });
        }
        if (step % 20 === 0) put({ at: now, kind: 'alive', a: tx.lastSeq, b: 0 });
        const due = wire.filter((p) => p.at <= now);
        wire = wire.filter((p) => p.at > now);
        for (const p of due) {
          if (p.kind === 'data') {
            if (rx.onData(p.a, now) !== DataVerdict.Old && !seen.has(p.a)) seen.add(p.a);
          } else if (p.kind === 'alive') rx.onAlive(p.a, now);
          else {
            ans.resend.length = 0;
            ans.lost.length = 0;
            tx.answerNack(2, p.a, p.b, now, ans);
            assert.deepEqual(ans.lost, []);
            for (const e of ans.resend) put({ at: now, kind: 'data', a: e.seq, b: 0 });
          }
        }
        const n: number[] = [];
        rx.collectNacks(now, n, 64);
        for (let i = 0; i < n.length; i += 2) put({ at: now, kind: 'nack', a: n[i]!, b: n[i + 1]! });
      }
      assert.equal(rx.cumAck, seqAdd(start, total - 1), 'every sequence arrived');
      assert.equal(seen.size, total);
      assert.ok(rx.gaps > total * loss * 0.5, 'gaps were actually seen');
    });
  }
});
