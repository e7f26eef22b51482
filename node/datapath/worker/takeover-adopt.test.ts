import assert from 'node:assert/strict';
import { buildTcp, buildUdp, parseBuilt } from '../../packet/build.js';
import { ConnTracker, CtState, CtStatus, ctGroup } from '../../conntrack/index.js';
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

  describe('with several VRRP groups (active/active)', () => {
    const A = 51;
    const B = 52;
    /** A node that masters `groups` (the datapath's 'vrrp-master' message: the bridge, then the walk). */
    function master(n: ReturnType<typeof node>, vrid: number, on: boolean): void {
      n.bridge.setMastered(vrid, on);
      n.adopter.setMaster(on, vrid);
    }

    it('a connection is tagged with the group its forwarding node masters, and its records carry the tag', () => {
      const fwa = node();
      master(fwa, A, true);
      fwa.walk();
      const r = fwa.send(buildUdp({ src: CLIENT, dst: SERVER, sport: 20000, dport: 53 }));
      assert.equal(ctGroup(fwa.ct.getStatus(r.entry)), A);
      const recs = fwa.records();
      assert.equal(recs.length, 1);
      assert.equal(ctGroup(recs[0]!.status), A, 'the record names group A');
      const fwc = node();
      fwc.bridge.apply(FWA, recs[0]!, 0);
      const groups: number[] = [];
      fwc.ct.forEach((e) => void groups.push(ctGroup(fwc.ct.getStatus(e))));
      assert.deepEqual(groups, [A], 'and so does the replica');
    });

    it('three nodes: fwa masters A, fwb masters B, fwc backs both up; fwc taking A adopts only A\'s connections', () => {
      const fwa = node();
      const fwb = node();
      const fwc = node();
      master(fwa, A, true);
      master(fwb, B, true);
      fwa.walk();
      fwb.walk();
      for (let i = 0; i < 5; i++) fwa.send(buildUdp({ src: CLIENT, dst: SERVER, sport: 21000 + i, dport: 53 }));
      for (let i = 0; i < 7; i++) fwb.send(buildTcp({ src: CLIENT, dst: SERVER, sport: 22000 + i, dport: 22, flags: 'S', seq: 1 }));
      for (const r of fwa.records()) fwc.bridge.apply(FWA, r, 0);
      for (const r of fwb.records()) fwc.bridge.apply(FWB, r, 0);
      assert.equal(replicated(fwc), 12);
      // fwa dies; fwc becomes master of A.
      master(fwc, A, true);
      fwc.walk();
      assert.equal(fwc.bridge.counts.adoptedOnTakeover, 5, 'A\'s five');
      assert.equal(replicated(fwc), 7, 'B\'s seven stay replicas of fwb, which still forwards them');
      const adopted = fwc.records();
      assert.deepEqual([...new Set(adopted.map((r) => ctGroup(r.status)))], [A]);
      assert.ok(adopted.every((r) => r.proto === 17));
      // fwb dies too: fwc takes B and adopts the rest.
      master(fwc, B, true);
      fwc.walk();
      assert.equal(replicated(fwc), 0);
      assert.equal(fwc.bridge.counts.adoptedOnTakeover, 12);
    });

    it('two nodes: when fwa dies fwb (master of B) takes A and adopts A\'s connections; leaving a group stops only that group\'s walk', () => {
      const fwa = node();
      const fwb = node({ maxPerTurn: 2 });
      master(fwa, A, true);
      master(fwb, B, true);
      fwb.walk();
      for (let i = 0; i < 6; i++) fwa.send(buildUdp({ src: CLIENT, dst: SERVER, sport: 23000 + i, dport: 53 }));
      for (const r of fwa.records()) fwb.bridge.apply(FWA, r, 0);
      master(fwb, A, true);
      assert.equal(fwb.adopter.turn(), 2);
      // Leaving B (say a preemption) while the walk for A goes on.
      master(fwb, B, false);
      assert.ok(fwb.adopter.walking, 'still walking for A');
      fwb.walk();
      assert.equal(replicated(fwb), 0);
      // Adopted connections keep their group A, which fwb masters now.
      for (const r of fwb.records()) assert.equal(ctGroup(r.status), A);
      master(fwb, A, false);
      assert.equal(fwb.adopter.walking, false);
    });

    it('a node master of several groups keeps a connection\'s group if it masters it, else tags it with the lowest it masters; a backup keeps the tag', () => {
      const fwa = node();
      master(fwa, A, true);
      const a = fwa.send(buildUdp({ src: CLIENT, dst: SERVER, sport: 24000, dport: 53 }));
      const recs = fwa.records();
      const fwb = node();
      // fwb masters B only and forwards a packet of A's connection (an asymmetric path).
      master(fwb, B, true);
      fwb.walk();
      for (const r of recs) fwb.bridge.apply(FWA, r, 0);
      const b = fwb.send(buildUdp({ src: SERVER, dst: CLIENT, sport: 53, dport: 24000 }));
      assert.equal(ctGroup(fwb.ct.getStatus(b.entry)), B, 'fwb forwards it now: group B');
      // A backup (master of nothing) that forwards keeps the tag.
      const fwc = node();
      for (const r of recs) fwc.bridge.apply(FWA, r, 0);
      const c = fwc.send(buildUdp({ src: SERVER, dst: CLIENT, sport: 53, dport: 24000 }));
      assert.equal(ctGroup(fwc.ct.getStatus(c.entry)), A);
      // Master of A and B: A's connection stays A's.
      master(fwa, B, true);
      fwa.send(buildUdp({ src: CLIENT, dst: SERVER, sport: 24000, dport: 53 }));
      assert.equal(ctGroup(fwa.ct.getStatus(a.entry)), A);
    });
  });
});
