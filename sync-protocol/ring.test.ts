import { optionalDefaults } from './record-fields.js';
import assert from 'node:assert/strict';
import { EventRing } from './ring.js';
import { EventKind } from './state-record.js';
import { makeRecord } from './testing/fixtures.js';

describe('EventRing', () => {
  it('carries records through shared memory field for field, IPv6 and NAT included', () => {
    const ring = new EventRing(8);
    const v4 = makeRecord(77, EventKind.Update, 123.456, 9);
    const a = new Uint8Array(16).fill(0x20);
    const v6 = { ...makeRecord(5, EventKind.New, 1.5), family: 6, ...optionalDefaults(6), origSrc: a, origDst: a, replySrc: a, replyDst: a,
      nat: { kind: 2, addr: new Uint8Array(16).fill(9), port: 8080 } };
    assert.ok(ring.push(v4));
    assert.ok(ring.push(v6));
    const other = new EventRing(ring.sab); // as the worker sees it
    assert.equal(other.depth, 2);
    assert.deepEqual(other.pop(), v4);
    assert.deepEqual(other.pop(), v6);
    assert.equal(other.pop(), undefined);
  });

  it('counts drops and raises the resync flag when full, never overwriting', () => {
    const ring = new EventRing(4);
    for (let i = 0; i < 4; i++) assert.ok(ring.push(makeRecord(i, EventKind.New, i)));
    assert.equal(ring.push(makeRecord(9, EventKind.New, 9)), false);
    assert.equal(ring.drops, 1);
    assert.equal(ring.takeResyncNeeded(), true);
    assert.equal(ring.takeResyncNeeded(), false, 'the flag is taken once');
    assert.equal(ring.pop()!.origSrc[3], 0, 'the oldest event is intact');
  });

  it('keeps order across many laps of the slots, every event either delivered or counted as dropped', () => {
    const ring = new EventRing(16);
    let last = -1;
    let popped = 0;
    const take = () => {
      const r = ring.pop()!;
      assert.ok(r.stamp > last, 'in order');
      last = r.stamp;
      popped++;
    };
    for (let i = 0; i < 5000; i++) {
      ring.push(makeRecord(i, EventKind.Update, i));
      if (i % 3 !== 0) take();
    }
    while (ring.depth > 0) take();
    assert.ok(ring.drops > 0);
    assert.equal(popped + ring.drops, 5000);
  });

  it('wakes a consumer parked on the empty ring when the producer pushes, and says "pop now" when not empty', async () => {
    const ring = new EventRing(8);
    const consumer = new EventRing(ring.sab);
    const wake = consumer.waitNonEmpty();
    assert.ok(wake !== null, 'parks on an empty ring');
    let woke = false;
    void wake.then(() => (woke = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(woke, false, 'nothing pushed yet');
    assert.ok(ring.push(makeRecord(1, EventKind.New, 1)));
    await Promise.race([wake, new Promise((r) => setTimeout(r, 2000))]);
    assert.equal(woke, true, 'the push woke it');
    assert.equal(consumer.waitNonEmpty(), null, 'an event is waiting: no parking');
    assert.ok(consumer.pop() !== undefined);
    assert.ok(consumer.waitNonEmpty() !== null);
    ring.push(makeRecord(2, EventKind.New, 2)); // settles the parked promise; nothing stays waiting
  });
});

