import assert from 'node:assert/strict';
import { ConnTracker } from '../../conntrack/index.js';
import { EventKind, EventRing, syncClock } from '../../../sync-protocol/index.js';
import { makeRecord } from '../../../sync-protocol/testing/fixtures.js';
import { buildUdp, parseBuilt } from '../../packet/build.js';
import { ConntrackGc, CT_GC_DEFAULTS } from './ct-gc.js';
import { C, createCounterBuffer } from '../shared/counters.js';
import { SyncBridge } from './sync-bridge.js';

/**
 * A node's table as the datapath thread holds it: `local` connections made by packets (their
 * events go through the sync bridge into the ring) and `replicas` applied from a peer.
 */
function idleNode(local: number, replicas: number, ringSlots = 16384) {
  // The table's clock stands still at t0: building thousands of entries on a loaded machine
  // can take over a second, and entries stamped later would outlive the ticks below.
  const t0 = syncClock();
  const ct = new ConnTracker({ maxEntries: 65536, now: () => t0 });
  const ring = new EventRing(ringSlots);
  const bridge = new SyncBridge(ct, ring);
  ct.onEvent = (kind, entry) => bridge.onEvent(kind, entry);
  for (let i = 0; i < local; i++) {
    const pkt = parseBuilt(buildUdp({ src: `192.0.2.${1 + (i >> 8)}`, dst: '198.51.100.100', sport: 1024 + (i & 255), dport: 53 }));
    bridge.local = true; // as the filter stage marks a packet's events
    ct.track(pkt, t0);
    assert.equal(ct.commit(true), true);
    bridge.local = false;
  }
  // Replicas of a peer's TCP connections with a minute left.
  for (let i = 0; i < replicas; i++) bridge.apply(2, { ...makeRecord(i, EventKind.New, t0), timeoutMs: 60_000 }, 0);
  for (let r = ring.pop(); r !== undefined; r = ring.pop()) assert.equal(r.kind, EventKind.New);
  const counters = new Float64Array(createCounterBuffer());
  return { ct, ring, bridge, counters, t0 };
}

describe('conntrack gc (expiry on a timer in the datapath thread)', () => {
  it('an idle node loses every expired entry, local and replica, with no packet, within bounded work per tick', () => {
    const { ct, ring, bridge, counters, t0 } = idleNode(3000, 2000);
    assert.equal(ct.count(), 5000);
    assert.equal(ct.countReplicated(), 2000);
    const gc = new ConntrackGc(ct, counters, syncClock, CT_GC_DEFAULTS, () => bridge.ringRoom);
    // Before the timeouts pass the timer removes nothing.
    for (let i = 0; i < 60; i++) assert.equal(gc.tick(t0 + 20_000), 0);
    assert.equal(ct.count(), 5000);
    assert.equal(counters[C.ct_entries], 5000);
    // UDP unreplied: 30 s; the replicas: 60 s. Past both, the timer alone empties the table.
    const later = t0 + 61_000;
    const destroyed = new Set<string>();
    let ticks = 0;
    while (ct.count() > 0 && ticks < 1000) {
      const n = gc.tick(later);
      ticks++;
      assert.ok(n <= CT_GC_DEFAULTS.maxExpiredPerTick, `${n} expired in one tick`);
      for (let r = ring.pop(); r !== undefined; r = ring.pop()) {
        // Only the node's own connections are announced: a replica's end is its owner's to tell.
        assert.equal(r.kind, EventKind.Destroy);
        assert.equal(r.proto, 17);
        destroyed.add(`${r.origSrc.join('.')}:${r.origSport}`);
      }
    }
    assert.equal(ct.count(), 0);
    // A whole-table walk is passMs / intervalMs = 50 ticks.
    assert.ok(ticks <= 50, `${ticks} ticks`);
    assert.equal(destroyed.size, 3000, 'one Destroy event per local connection, for the peer');
    assert.equal(ct.stats.expired, 5000);
    assert.equal(ct.stats.expiredReplicas, 2000);
    assert.equal(counters[C.ct_entries], 0, 'the gauge follows without a packet batch');
    assert.equal(counters[C.ct_expired], 5000);
    assert.equal(counters[C.ct_expired_replicas], 2000);
    assert.equal(bridge.counts.ringFull, 0);
  });

  it('a mass expiry is spread over ticks so it never overflows the ring to the sync worker', () => {
    const { ct, ring, bridge, counters, t0 } = idleNode(5000, 0, 1024);
    const gc = new ConntrackGc(ct, counters, syncClock, CT_GC_DEFAULTS, () => bridge.ringRoom);
    const fullBefore = bridge.counts.ringFull; // the 5000 New events did not fit
    let events = 0;
    for (let i = 0; i < 200 && ct.count() > 0; i++) {
      const n = gc.tick(t0 + 31_000);
      assert.ok(n <= 512, `${n} expired with a 1024-slot ring`);
      // The sync worker drains the ring between ticks.
      for (let r = ring.pop(); r !== undefined; r = ring.pop()) events++;
    }
    assert.equal(ct.count(), 0);
    assert.equal(events, 5000);
    assert.equal(bridge.counts.ringFull, fullBefore);
  });

  it('runs on the thread\'s interval timer and stops with it', () => {
    const { ct, counters, t0 } = idleNode(10, 0);
    let fire: (() => void) | undefined;
    let every = 0;
    const now = { t: t0 };
    const gc = new ConntrackGc(ct, counters, () => now.t);
    gc.start((fn, ms) => {
      fire = fn;
      every = ms;
      return setInterval(() => undefined, 1 << 30);
    });
    assert.equal(every, CT_GC_DEFAULTS.intervalMs);
    now.t = t0 + 31_000;
    // Each tick walks a slice; a whole walk is passMs / intervalMs ticks.
    for (let i = 0; i < CT_GC_DEFAULTS.passMs / CT_GC_DEFAULTS.intervalMs; i++) fire!();
    assert.equal(ct.count(), 0);
    assert.equal(gc.expired, 10);
    gc.stop();
  });

  it('refuses budgets that would never walk the table', () => {
    const ct = new ConnTracker({ maxEntries: 1024 });
    const counters = new Float64Array(createCounterBuffer());
    assert.throws(() => new ConntrackGc(ct, counters, syncClock, { intervalMs: 0, passMs: 5000, maxExpiredPerTick: 10 }), RangeError);
    assert.throws(() => new ConntrackGc(ct, counters, syncClock, { intervalMs: 100, passMs: 50, maxExpiredPerTick: 10 }), RangeError);
    assert.throws(() => new ConntrackGc(ct, counters, syncClock, { intervalMs: 100, passMs: 5000, maxExpiredPerTick: 0 }), RangeError);
  });
});
