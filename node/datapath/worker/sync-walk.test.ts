import assert from 'node:assert/strict';
import { buildUdp, parseBuilt } from '../../packet/build.js';
import { parseAddress } from '../../packet/address.js';
import { ConnTracker } from '../../conntrack/index.js';
import { EventKind, EventRing, RING_WALK_END, RING_WALK_RECORD, syncClock, type StateRecord } from '../../../sync-protocol/index.js';
import { FilterStage } from './filter-stage.js';
import { LocalAddresses } from './local-addresses.js';
import { RouteInterfaces } from './route-interfaces.js';
import { COUNTER_NAMES } from '../shared/counters.js';
import { SyncBridge } from './sync-bridge.js';
import { TableWalker, type TableWalkOptions } from './sync-walk.js';

/** A datapath's table, bridge and ring, and the resync walk turned by hand. */
function node(opts: Partial<TableWalkOptions> = {}, ringSlots = 4096) {
  let now = 1000;
  const ct = new ConnTracker({ maxEntries: 1024, now: () => now });
  const ring = new EventRing(ringSlots);
  const bridge = new SyncBridge(ct, ring);
  ct.onEvent = (kind, entry) => bridge.onEvent(kind, entry);
  const local = new LocalAddresses();
  local.load([{ ifname: 'lan', family: 4, bytes: [...parseAddress('192.0.2.2').bytes], vip: false }]);
  const stage = new FilterStage(undefined, ct, new RouteInterfaces(), new Float64Array(COUNTER_NAMES.length), bridge, undefined, local);
  const walker = new TableWalker(ct, bridge, { perTurn: 1024, slotsPerTurn: 1024, ...opts }, true);
  return {
    ct, ring, bridge, walker,
    /** A forwarded UDP flow from client port `sport`; its entry. */
    flow(sport: number, dst = '198.51.100.53'): number {
      stage.process(parseBuilt(buildUdp({ src: '192.0.2.100', dst, sport, dport: 53 })), ++now);
      return ct.result.entry;
    },
    /** What the ring holds, oldest first (taken out). */
    records(): StateRecord[] {
      const out: StateRecord[] = [];
      for (let r = ring.pop(); r !== undefined; r = ring.pop()) out.push(r);
      return out;
    },
    walkAll(): number {
      let turns = 0;
      while (walker.walking) {
        walker.turn();
        assert.ok(++turns < 10_000, 'the walk ends');
      }
      return turns;
    },
  };
}

const walkPorts = (recs: StateRecord[]): number[] => recs.filter((r) => r.kind === (RING_WALK_RECORD as EventKind)).map((r) => r.origSport).sort((a, b) => a - b);

describe('TableWalker: the resync walk read from the table where it lives (no copy in the sync worker)', () => {
  it('puts every connection this node replicates in the ring, then the end marker; not the node\'s own, not replicas', () => {
    const n = node();
    for (let p = 1; p <= 50; p++) n.flow(40000 + p);
    n.flow(40100, '192.0.2.2'); // to the node itself: never replicated
    n.records();
    n.walker.request(true, 1000);
    n.walkAll();
    const recs = n.records();
    assert.deepEqual(walkPorts(recs), Array.from({ length: 50 }, (_, i) => 40001 + i));
    assert.equal(recs.at(-1)!.kind, RING_WALK_END as EventKind, 'ends with the marker');
    assert.equal(recs.filter((r) => r.kind === (RING_WALK_END as EventKind)).length, 1);
    assert.ok(recs.every((r) => r.stamp > 0 && r.stamp <= syncClock()));
  });

  it('never puts more than the worker asked for, nor more than half the ring\'s free room; goes on when asked again', () => {
    const n = node({}, 64);
    for (let p = 1; p <= 100; p++) {
      n.flow(41000 + p);
      n.records();
    }
    assert.equal(n.ring.drops, 0);
    n.walker.request(true, 10);
    n.walker.turn();
    assert.equal(n.records().length, 10, 'the credit');
    n.walker.turn();
    assert.equal(n.ring.depth, 0, 'no credit, nothing');
    n.walker.request(false, 1000);
    n.walker.turn();
    assert.equal(n.ring.depth, 31, 'half the free room of 64, one kept for the end marker');
    assert.equal(n.ring.drops, 0);
    let got = 10 + n.records().length;
    while (n.walker.walking) {
      n.walker.turn();
      got += n.records().filter((r) => r.kind === (RING_WALK_RECORD as EventKind)).length;
    }
    assert.equal(got, 100);
  });

  it('visits a connection that appears behind its position during the walk (a freed slot reused) once more at the end', () => {
    const n = node({ slotsPerTurn: 8 });
    const first = n.flow(42000);
    for (let p = 1; p <= 40; p++) n.flow(42000 + p);
    n.records();
    n.walker.request(true, 1000);
    n.walker.turn(); // slots 0..7 walked
    assert.ok(n.ct.delete(first));
    const reused = n.flow(42999);
    assert.equal(reused, first, 'the new connection took the freed slot, behind the walk');
    n.walkAll();
    const recs = n.records();
    const ports = walkPorts(recs);
    assert.ok(ports.includes(42999), 'the new connection was walked');
    assert.ok(!ports.includes(42000) || recs.findIndex((r) => r.origSport === 42000 && r.kind === EventKind.Destroy) > recs.findIndex((r) => r.origSport === 42000 && r.kind === (RING_WALK_RECORD as EventKind)), 'the destroyed one only before its destroy');
  });

  it('visits a replica adopted on takeover behind its position (it became this node\'s to send)', () => {
    const owner = node();
    for (let p = 1; p <= 20; p++) owner.flow(44000 + p);
    const recs = owner.records();
    const n = node({ slotsPerTurn: 64 });
    for (const r of recs) n.bridge.apply(9, r, 0);
    n.records();
    n.walker.request(true, 1000);
    n.walkAll();
    assert.equal(walkPorts(n.records()).length, 0, 'replicas are not walked');
    n.walker.request(true, 1000);
    n.walker.turn(); // past every replica's slot
    assert.ok(n.walker.walking);
    let e = -1;
    n.ct.forEach((x) => {
      if (e < 0) e = x;
    });
    assert.ok(n.bridge.adoptOnTakeover(e));
    n.walkAll();
    const ports = walkPorts(n.records());
    assert.equal(ports.length, 1, 'the adopted one, at the end');
  });

  it('a new request with start walks again from the beginning', () => {
    const n = node({ slotsPerTurn: 8 });
    for (let p = 1; p <= 20; p++) n.flow(43000 + p);
    n.records();
    n.walker.request(true, 1000);
    n.walker.turn();
    n.records();
    n.walker.request(true, 1000);
    n.walkAll();
    assert.equal(walkPorts(n.records()).length, 20);
  });
});
