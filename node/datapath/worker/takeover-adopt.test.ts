import assert from 'node:assert/strict';
import { buildTcp, buildUdp, parseBuilt } from '../../packet/build.js';
import { ConnTracker, CtState, CtStatus } from '../../conntrack/index.js';
import { EventKind, EventRing, syncClock, type StateRecord } from '../../../sync-protocol/index.js';
import { C, COUNTER_NAMES } from '../shared/counters.js';
import { SyncBridge } from './sync-bridge.js';
import { TakeoverAdopter, type TakeoverAdoptOptions } from './takeover-adopt.js';

const CLIENT = '192.0.2.100';
const SERVER = '198.51.100.53';

/** One node's datapath side of sync (a real table, its bridge, the ring) and its takeover walk, turned by hand. */
function node(opts: Partial<TakeoverAdoptOptions> = {}, ringSlots = 4096) {
  const ct = new ConnTracker({ maxEntries: 1024, now: syncClock });
  const ring = new EventRing(ringSlots);
  const bridge = new SyncBridge(ct, ring);
  ct.onEvent = (kind, entry) => bridge.onEvent(kind, entry);
  const counters = new Float64Array(COUNTER_NAMES.length);
  const fakeTimer = { unref() {} } as unknown as ReturnType<typeof setInterval>;
  const adopter = new TakeoverAdopter(ct, bridge, counters, { intervalMs: 10, slotsPerTurn: 1024, maxPerTurn: 1024, ...opts }, () => fakeTimer);
  return {
    ct,
    ring,
    bridge,
    adopter,
    counters,
    /** A packet through this node's datapath as the filter stage runs it; the entry, its ct state. */
    send(p: Uint8Array): { entry: number; state: number } {
      bridge.local = true;
      try {
        ct.track(parseBuilt(p), syncClock());
        const r = { entry: ct.result.entry, state: ct.result.state };
        ct.commit(true);
        return r;
      } finally {
        bridge.local = false;
      }
    },
    /** The records this node's changes produced, oldest first (what its sync worker sends and walks). */
    records(): StateRecord[] {
      const recs: StateRecord[] = [];
      for (let r = ring.pop(); r !== undefined; r = ring.pop()) recs.push(r);
      return recs;
    },
    /** Turns the walk until it ends; returns the turns it took. */
    walk(): number {
      let turns = 0;
      while (adopter.walking) {
        adopter.turn();
        turns++;
        assert.ok(turns < 10_000, 'the walk ends');
      }
      return turns;
    },
  };
}

const FWA = 1;
const FWB = 2;

function replicated(n: ReturnType<typeof node>): number {
  return n.ct.countReplicated();
}

describe('TakeoverAdopter: a new master makes the former owner\'s replicas its own, quiet ones included', () => {
  it('pair: fwa dies, fwb takes over, fwa restarts, resyncs from fwb and preempts: the idle TCP connection still has its state on fwa', () => {
    const fwa = node();
    const fwb = node();
    // An SSH-like session through fwa, then idle.
    fwa.send(buildTcp({ src: CLIENT, dst: SERVER, sport: 40022, dport: 22, flags: 'S', seq: 1000 }));
    fwa.send(buildTcp({ src: SERVER, dst: CLIENT, sport: 22, dport: 40022, flags: 'SA', seq: 5000, ack: 1001 }));
    fwa.send(buildTcp({ src: CLIENT, dst: SERVER, sport: 40022, dport: 22, flags: 'A', seq: 1001, ack: 5001 }));
    for (const r of fwa.records()) fwb.bridge.apply(FWA, r, 0);
    assert.equal(replicated(fwb), 1);
    // fwa dies; fwb becomes master. No packet of the session comes by.
    fwb.adopter.setMaster(true);
    fwb.walk();
    assert.equal(replicated(fwb), 0, 'fwb owns it now');
    assert.equal(fwb.bridge.counts.adoptedOnTakeover, 1);
    assert.equal(fwb.counters[C.ct_takeover_adopted], 1, 'the shared counter the metric reads');
    // fwa restarts empty and gets fwb's walk: the records fwb's changes produced (its sync worker's mirror).
    const fwa2 = node();
    const walk = fwb.records();
    assert.equal(walk.length, 1, 'fwb announced the connection as its own');
    assert.equal(walk[0]!.kind, EventKind.Update);
    assert.equal(walk[0]!.status & CtStatus.Replicated, 0);
    for (const r of walk) fwa2.bridge.apply(FWB, r, 0);
    assert.equal(replicated(fwa2), 1, 'the quiet connection reached the restarted node');
    // fwa preempts; the session's next packet comes through it.
    fwb.adopter.setMaster(false);
    fwa2.adopter.setMaster(true);
    fwa2.walk();
    const r = fwa2.send(buildTcp({ src: SERVER, dst: CLIENT, sport: 22, dport: 40022, flags: 'PA', seq: 5001, ack: 1001, payload: new Uint8Array(10) }));
    assert.equal(r.state, CtState.Established, 'the packet found its connection (ct state established accept passes it)');
    assert.equal(fwa2.ct.getStatus(r.entry) & CtStatus.Replicated, 0, 'and fwa owns it again (its own walk)');
  });

  it('adopts replicas only, leaves local entries alone, and is bounded per turn by maxPerTurn and the slots it looks at', () => {
    const owner = node();
    const b = node({ slotsPerTurn: 64, maxPerTurn: 5 });
    for (let i = 0; i < 20; i++) owner.send(buildUdp({ src: CLIENT, dst: SERVER, sport: 10000 + i, dport: 53 }));
    for (const r of owner.records()) b.bridge.apply(FWA, r, 0);
    b.send(buildUdp({ src: CLIENT, dst: SERVER, sport: 9999, dport: 53 }));
    b.records();
    assert.equal(replicated(b), 20);
    b.adopter.setMaster(true);
    assert.equal(b.adopter.turn(), 5, 'maxPerTurn');
    assert.equal(b.records().length, 5, 'one record per adoption, nothing for the local entry');
    const turns = 1 + b.walk();
    assert.equal(replicated(b), 0);
    assert.equal(b.bridge.counts.adoptedOnTakeover, 20);
    assert.equal(b.records().length, 15);
    assert.ok(turns >= 1024 / 64, `a turn looks at 64 slots at most (${turns} turns)`);
    assert.equal(b.ct.count(), 21);
  });

  it('never takes more than half the free room of the ring to the sync worker; a turn without room adopts nothing and the walk waits', () => {
    const owner = node();
    const b = node({ maxPerTurn: 1024 }, 64);
    for (let i = 0; i < 50; i++) owner.send(buildUdp({ src: CLIENT, dst: SERVER, sport: 11000 + i, dport: 53 }));
    for (const r of owner.records()) b.bridge.apply(FWA, r, 0);
    b.adopter.setMaster(true);
    assert.equal(b.adopter.turn(), 32, 'half of 64 free slots');
    assert.equal(b.adopter.turn(), 16, 'half of the 32 left');
    // Fill the ring: no room, no adoption, the walk goes on later.
    while (b.ring.depth < 63) b.send(buildUdp({ src: CLIENT, dst: SERVER, sport: 12000 + b.ring.depth, dport: 53 }));
    assert.equal(b.adopter.turn(), 0);
    assert.ok(b.adopter.walking);
    b.records();
    b.walk();
    assert.equal(replicated(b), 0);
    assert.equal(b.bridge.counts.ringFull, 0, 'no record lost to a full ring');
  });

  it('back to backup mid-walk: the walk stops, what it adopted stays this node\'s, the rest stays replicas', () => {
    const owner = node();
    const b = node({ maxPerTurn: 4 });
    for (let i = 0; i < 10; i++) owner.send(buildUdp({ src: CLIENT, dst: SERVER, sport: 13000 + i, dport: 53 }));
    for (const r of owner.records()) b.bridge.apply(FWA, r, 0);
    b.adopter.setMaster(true);
    assert.equal(b.adopter.turn(), 4);
    b.adopter.setMaster(false);
    assert.equal(b.adopter.walking, false);
    assert.equal(b.adopter.turn(), 0);
    assert.equal(replicated(b), 6);
    // Master again: a new walk from the first slot takes the rest.
    b.adopter.setMaster(true);
    b.walk();
    assert.equal(replicated(b), 0);
    assert.equal(b.bridge.counts.adoptedOnTakeover, 10);
  });
});
