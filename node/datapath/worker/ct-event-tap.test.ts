import assert from 'node:assert/strict';
import { ConnTracker, CtEventKind, type CtEventOut } from '../../conntrack/index.js';
import { COUNTER_NAMES, C } from '../shared/counters.js';
import { CtEventTap } from './ct-event-tap.js';

describe('CtEventTap (hafw ct events on the datapath thread)', () => {
  const setup = (maxPending: number, perSec: number) => {
    const ct = new ConnTracker({ maxEntries: 16 });
    const counters = new Float64Array(COUNTER_NAMES.length);
    const batches: CtEventOut[][] = [];
    let flush: (() => void) | undefined;
    let now = 0;
    const tap = new CtEventTap(ct, counters, (e) => batches.push(e), () => now, (f) => (flush = f), maxPending, perSec);
    return { ct, counters, batches, tap, flushNow: () => flush?.(), tick: (ms: number) => (now += ms) };
  };

  it('hooks into the tracker only while subscribed, and puts back the handler it wrapped', () => {
    const { ct, tap } = setup(8, 1000);
    const seen: number[] = [];
    const before = (k: CtEventKind): void => void seen.push(k);
    ct.onEvent = before;
    tap.setSubscribers([{ id: 1, filter: {} }]);
    assert.notEqual(ct.onEvent, before);
    ct.onEvent!(CtEventKind.New, 0);
    assert.deepEqual(seen, [CtEventKind.New], 'state sync (the wrapped handler) still hears every event');
    tap.setSubscribers([]);
    assert.equal(ct.onEvent, before);
  });

  it('a subscriber that does not keep up costs a bounded queue: the rest is dropped and counted, never blocks', () => {
    const { ct, counters, batches, tap, flushNow } = setup(4, 1e6);
    tap.setSubscribers([{ id: 1, filter: {} }]);
    for (let i = 0; i < 10; i++) ct.onEvent!(CtEventKind.Update, 0);
    flushNow();
    assert.equal(batches.length, 1);
    assert.equal(batches[0]!.length, 4);
    assert.equal(counters[C.ct_events], 4);
    assert.equal(counters[C.ct_events_dropped], 6);
  });

  it('the rate cap: beyond the burst, events wait for tokens (dropped and counted meanwhile)', () => {
    const { ct, counters, batches, tap, flushNow, tick } = setup(4, 1000);
    tap.setSubscribers([{ id: 1, filter: {} }]);
    for (let i = 0; i < 4; i++) {
      ct.onEvent!(CtEventKind.Update, 0);
      flushNow();
    }
    ct.onEvent!(CtEventKind.Update, 0);
    assert.equal(counters[C.ct_events_dropped], 1, 'burst of 4 used up');
    tick(2);
    ct.onEvent!(CtEventKind.Update, 0);
    flushNow();
    assert.equal(counters[C.ct_events], 5, '1000/s: a token every millisecond');
    assert.equal(batches.flat().length, 5);
  });

  it('a timeout refresh alone is no event (ct.refreshOnly)', () => {
    const { ct, batches, tap, flushNow } = setup(4, 1000);
    tap.setSubscribers([{ id: 1, filter: {} }]);
    ct.refreshOnly = true;
    ct.onEvent!(CtEventKind.Update, 0);
    ct.refreshOnly = false;
    flushNow();
    assert.deepEqual(batches, []);
  });
});
