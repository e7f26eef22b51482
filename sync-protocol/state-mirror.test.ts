import { optionalDefaults } from './record-fields.js';
import assert from 'node:assert/strict';
import { StateMirror } from './state-mirror.js';
import { EventKind, type StateRecord } from './state-record.js';
import { makeRecord } from './testing/fixtures.js';
import { SLOT_BYTES, readSlot, writeSlot } from './ring.js';

function v6(i: number): StateRecord {
  const a = new Uint8Array(16).fill(0x20);
  a[15] = i;
  return { ...makeRecord(i, EventKind.New, i), family: 6, ...optionalDefaults(6), origSrc: a, replyDst: a, origDst: new Uint8Array(16).fill(9), replySrc: new Uint8Array(16).fill(9), nat: { kind: 2, addr: new Uint8Array(16).fill(7), port: 81 } };
}

/** Walks the mirror, calling `during` after each record; returns the stamps seen. */
function walk(m: StateMirror, during: (stamp: number) => void = () => undefined): number[] {
  const seen: number[] = [];
  const it = m.entries();
  for (let r = it.next(); !r.done; r = it.next()) {
    seen.push(r.value.stamp);
    during(r.value.stamp);
  }
  return seen;
}

describe('StateMirror', () => {
  it('keeps the latest state of each connection, and forgets destroyed ones', () => {
    const m = new StateMirror(2);
    m.note(makeRecord(1, EventKind.New, 1));
    m.note(makeRecord(1, EventKind.Update, 2, 5));
    m.note(v6(2));
    assert.equal(m.size, 2);
    assert.deepEqual(m.get(makeRecord(1, EventKind.New, 0)), makeRecord(1, EventKind.Update, 2, 5));
    assert.deepEqual(m.get(v6(2)), v6(2));
    assert.equal(m.get({ ...v6(2), zone: 9 }), undefined, 'another zone is another connection');
    m.note(makeRecord(1, EventKind.Destroy, 3));
    m.note(makeRecord(77, EventKind.Destroy, 3)); // unknown: nothing happens
    assert.equal(m.get(makeRecord(1, EventKind.New, 0)), undefined);
    assert.equal(m.size, 1);
  });

  it('keeps a destroyed connection\'s slot, with its tuple, until the coalescer releases it', () => {
    const m = new StateMirror(4);
    const slot = new Uint8Array(SLOT_BYTES);
    const v = new DataView(slot.buffer);
    const event = (r: StateRecord, pin = true) => {
      writeSlot(v, slot, 0, r);
      return m.noteSlot(v, slot, 0, r.stamp + 0.5, pin);
    };
    const a = event(makeRecord(1, EventKind.New, 1));
    assert.equal(event(makeRecord(1, EventKind.Update, 2, 7)), a, 'the same connection, the same slot');
    assert.equal(readSlot(m.slabView, m.slabBytes, a * SLOT_BYTES).stamp, 2.5, 'the stamp given, not the slot\'s');
    assert.equal(event(makeRecord(1, EventKind.Destroy, 3)), a, 'a pending update becomes the destroy');
    assert.equal(m.size, 0);
    assert.equal(m.get(makeRecord(1, EventKind.New, 0)), undefined);
    const b = event(makeRecord(1, EventKind.New, 4)); // the tuple again, while the destroy waits
    assert.notEqual(b, a, 'a slot held for a destroy is not reused');
    const held = readSlot(m.slabView, m.slabBytes, a * SLOT_BYTES);
    assert.deepEqual([held.kind, held.origSrc[3], held.stamp], [EventKind.Destroy, 1, 3.5]);
    m.release(a);
    m.release(b);
    assert.equal(event(makeRecord(9, EventKind.New, 5)), a, 'released: free again');
    assert.equal(event(makeRecord(50, EventKind.Destroy, 6)) >= 0, true, 'an unknown connection\'s destroy still gets a slot to be sent from');
    assert.equal(event(makeRecord(51, EventKind.Destroy, 6), false), -1);
    assert.equal(m.size, 2);
  });

  it('walks every connection once in insertion order, visiting those created during the walk and not those destroyed, across growth', () => {
    const m = new StateMirror(1);
    for (let i = 0; i < 10; i++) m.note(makeRecord(i, EventKind.New, i));
    const seen = walk(m, (stamp) => {
      if (stamp !== 2) return;
      m.note(makeRecord(5, EventKind.Destroy, 20)); // not visited yet: skipped
      m.note(makeRecord(0, EventKind.Destroy, 21)); // visited: its slot is reused below
      for (let i = 100; i < 140; i++) m.note(makeRecord(i, EventKind.New, i)); // grows the slab
    });
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 6, 7, 8, 9, ...Array.from({ length: 40 }, (_, k) => 100 + k)]);
    assert.equal(m.size, 48);
  });

  for (const [label, mask] of [['a 30-bit hash', 0x3fffffff], ['a 4-bit hash (long chains)', 0xf]] as const) it(`stays exact with random creations, updates and destroys, walked while changing (${label})`, () => {
    const m = new StateMirror(1024, mask);
    const alive = new Map<number, number>();
    let x = 12345;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const ids = mask === 0xf ? 3000 : 200_000;
    for (let n = 0; n < 2 * ids; n++) {
      const id = Math.floor(rnd() * ids);
      if (alive.has(id) && rnd() < 0.3) {
        m.note(makeRecord(id, EventKind.Destroy, n));
        alive.delete(id);
      } else {
        m.note(makeRecord(id, alive.has(id) ? EventKind.Update : EventKind.New, n, n));
        alive.set(id, n);
      }
    }
    assert.equal(m.size, alive.size);
    for (const [id, v] of alive) assert.equal(m.get(makeRecord(id, EventKind.New, 0))?.mark, v);
    const stamps = walk(m);
    assert.equal(new Set(stamps).size, alive.size, 'every connection visited');
    assert.deepEqual(new Set(stamps), new Set(alive.values()));
    // A walk during changes: everything alive at the start and not destroyed before the walk
    // got there is visited, and so is everything created during the walk.
    const before = new Set(alive.keys());
    const created = new Set<number>();
    const destroyed = new Set<number>();
    const visited = new Set<number>();
    const idOf = new Map<number, number>([...alive].map(([id, v]) => [v, id]));
    let n = 10_000_000;
    let changes = 0;
    walk(m, (stamp) => {
      visited.add(idOf.get(stamp) ?? -1);
      // Bounded churn: with a 4-bit hash every creation moves a whole chain to the end of the walk.
      for (let k = 0; k < 3 && changes < 1500; k++, changes++) {
        const id = Math.floor(rnd() * ids * 1.2);
        n++;
        if (alive.has(id) && rnd() < 0.5) {
          m.note(makeRecord(id, EventKind.Destroy, n));
          alive.delete(id);
          destroyed.add(id);
        } else if (!alive.has(id)) {
          m.note(makeRecord(id, EventKind.New, n, n));
          alive.set(id, n);
          idOf.set(n, id);
          created.add(id);
          destroyed.delete(id);
        }
      }
    });
    for (const id of before) if (!destroyed.has(id) && !created.has(id)) assert.ok(visited.has(id), `connection ${id} alive throughout was not visited`);
    for (const id of created) if (alive.has(id)) assert.ok(visited.has(id), `connection ${id} created during the walk was not visited`);
  });
});
