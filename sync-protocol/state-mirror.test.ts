import assert from 'node:assert/strict';
import { StateMirror } from './state-mirror.js';
import { EventKind, recordKey, type StateRecord } from './state-record.js';
import { makeRecord } from './testing/fixtures.js';

function v6(i: number): StateRecord {
  const a = new Uint8Array(16).fill(0x20);
  a[15] = i;
  return { ...makeRecord(i, EventKind.New, i), family: 6, origSrc: a, replyDst: a, origDst: new Uint8Array(16).fill(9), replySrc: new Uint8Array(16).fill(9), nat: { kind: 2, addr: new Uint8Array(16).fill(7), port: 81 } };
}

describe('StateMirror', () => {
  it('keeps the latest state of each connection, and forgets destroyed ones', () => {
    const m = new StateMirror(2);
    m.note(makeRecord(1, EventKind.New, 1));
    m.note(makeRecord(1, EventKind.Update, 2, 5));
    m.note(v6(2));
    assert.equal(m.size, 2);
    assert.deepEqual(m.get(recordKey(makeRecord(1, EventKind.New, 0))), makeRecord(1, EventKind.Update, 2, 5));
    assert.deepEqual(m.get(recordKey(v6(2))), v6(2));
    m.note(makeRecord(1, EventKind.Destroy, 3));
    assert.equal(m.get(recordKey(makeRecord(1, EventKind.New, 0))), undefined);
    assert.equal(m.size, 1);
  });

  it('walks in insertion order, visiting connections created during the walk and not those destroyed, across growth', () => {
    const m = new StateMirror(1);
    for (let i = 0; i < 10; i++) m.note(makeRecord(i, EventKind.New, i));
    const it = m.entries();
    const seen: number[] = [];
    for (let r = it.next(); !r.done; r = it.next()) {
      seen.push(r.value.stamp);
      if (r.value.stamp === 2) {
        m.note(makeRecord(5, EventKind.Destroy, 20)); // not visited yet: skipped
        m.note(makeRecord(0, EventKind.Destroy, 21)); // visited: its slot is reused below
        for (let i = 100; i < 140; i++) m.note(makeRecord(i, EventKind.New, i)); // grows the slab
      }
    }
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 6, 7, 8, 9, ...Array.from({ length: 40 }, (_, k) => 100 + k)]);
    assert.equal(m.size, 48);
  });
});
