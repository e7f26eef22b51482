import assert from 'node:assert/strict';
import { CtSnapshot } from '../../conntrack/index.js';
import { seg, type TcpEnds } from '../../conntrack/testing.js';
import { syncClock } from '../../../sync-protocol/index.js';
import { bridgedTable } from './testing-sync.js';
import { DrillWatch } from './drill-watch.js';

/**
 * Two nodes' datapath sides of sync, real tables and bridges, records carried by hand from
 * one's ring to the other's apply() (what the sync workers do): the old master A watches the
 * flows it hands to B; B adopts them at the takeover and forwards some of them.
 */
function node(eventRefreshMs: number) {
  return bridgedTable({ sweepPerPacket: 0, eventRefreshMs });
}

const flow = (cport: number): TcpEnds => ({ client: '192.0.2.100', server: '198.51.100.100', cport, sport: 5201 });

/** A handshake and one data segment each way on A; returns the next sequence numbers. */
function open(a: ReturnType<typeof node>, f: TcpEnds): { c: number; s: number } {
  a.send(seg(f, 'c', 'S', 1000, 0));
  a.send(seg(f, 's', 'SA', 5000, 1001));
  a.send(seg(f, 'c', 'A', 1001, 5001));
  a.send(seg(f, 'c', 'PA', 1001, 5001, { payload: 100 }));
  a.send(seg(f, 's', 'A', 5001, 1101));
  return { c: 1101, s: 5001 };
}

describe('DrillWatch: the flows a drill hands over, seen from the old master', () => {
  it('survived: the new master reported packets of it; not seen: only its adoption; ended: destroyed; quiet before: not watched', () => {
    const A = node(5000);
    const B = node(0); // B raises a refresh event on every packet: no 5 s wait in a unit test
    const busy = flow(40001);
    const handedButQuiet = flow(40002);
    const closed = flow(40003);
    const idle = flow(40004);
    const seqs = new Map([busy, handedButQuiet, closed, idle].map((f) => [f.cport, open(A, f)]));
    B.receive(1, A.records()); // B holds replicas of all four
    assert.equal(B.ct.countReplicated(), 4);

    const watch = new DrillWatch(A.ct, new CtSnapshot(), syncClock);
    assert.equal(watch.begin(), 4, 'four established connections of its own');
    // In the activity window three flows move data; `idle` does not.
    for (const f of [busy, handedButQuiet, closed]) {
      const q = seqs.get(f.cport)!;
      A.send(seg(f, 'c', 'PA', q.c, q.s, { payload: 200 }));
      q.c += 200;
    }
    assert.equal(watch.freeze(), 3, 'the idle one is not watched');
    A.bridge.drillWatch = watch;
    A.records();

    // B takes over: it adopts every replica (one record each) and forwards `busy`.
    for (let e = 0; e < B.ct.capacity; e++) B.bridge.adoptOnTakeover(e);
    const qb = seqs.get(busy.cport)!;
    B.send(seg(busy, 'c', 'PA', qb.c, qb.s, { payload: 300 }));
    // `closed` ends on B (closed, reset or timed out there): its entry goes, B says so.
    assert.ok(B.ct.delete(B.ct.lookupTuple({ family: 4, proto: 6, zone: 0, origSrc: Uint8Array.from([192, 0, 2, 100]), origDst: Uint8Array.from([198, 51, 100, 100]), origSport: closed.cport, origDport: 5201 })));
    A.receive(2, B.records());

    const r = watch.end();
    A.bridge.drillWatch = null;
    const by = new Map(r.flows.map((f) => [f.flow, f]));
    assert.equal(r.candidates, 4);
    assert.equal(r.capped, false);
    assert.equal(r.flows.length, 3);
    assert.equal(by.get('tcp 192.0.2.100:40001 -> 198.51.100.100:5201')?.outcome, 'survived');
    assert.ok((by.get('tcp 192.0.2.100:40001 -> 198.51.100.100:5201')?.survivedAfterMs ?? -1) >= 0);
    assert.equal(by.get('tcp 192.0.2.100:40002 -> 198.51.100.100:5201')?.outcome, 'not-seen', 'adopted by B, but no packet of it there');
    assert.equal(by.get('tcp 192.0.2.100:40002 -> 198.51.100.100:5201')?.peerRecords, 1);
    assert.equal(by.get('tcp 192.0.2.100:40003 -> 198.51.100.100:5201')?.outcome, 'ended');
    assert.equal(by.has('tcp 192.0.2.100:40004 -> 198.51.100.100:5201'), false);
    // A kept its own view of every flow (the peer's records are counted, not applied).
    assert.equal(A.ct.countReplicated(), 0);
  });

  it('counts nothing before freeze() or after end(), and a flow gone from the table ended', () => {
    const A = node(5000);
    const watch = new DrillWatch(A.ct, new CtSnapshot(), syncClock);
    const f = flow(40010);
    const q = open(A, f);
    const e = A.ct.lookupTuple({ family: 4, proto: 6, zone: 0, origSrc: Uint8Array.from([192, 0, 2, 100]), origDst: Uint8Array.from([198, 51, 100, 100]), origSport: 40010, origDport: 5201 });
    assert.ok(e >= 0);
    watch.peerRecord(e, 1, 3);
    watch.begin();
    A.send(seg(f, 's', 'PA', q.s, q.c, { payload: 10 }));
    assert.equal(watch.freeze(), 1);
    assert.ok(A.ct.delete(e));
    watch.localDestroy(e);
    assert.deepEqual(watch.end().flows.map((x) => [x.outcome, x.peerRecords]), [['ended', 0]]);
    watch.peerRecord(e, 1, 3);
    assert.equal(watch.active, false);
  });

  it('watches at most maxFlows connections and says it capped', () => {
    const A = node(5000);
    for (let p = 40020; p < 40025; p++) open(A, flow(p));
    const watch = new DrillWatch(A.ct, new CtSnapshot(), syncClock, 3);
    assert.equal(watch.begin(), 3);
    assert.equal(watch.end().capped, true);
  });

  it('a drill of one VRRP group watches only the connections tagged with its VRID, and says each flow\'s group', () => {
    const A = node(5000);
    const fa = flow(40011);
    const fb = flow(40012);
    const qa = open(A, fa);
    const qb = open(A, fb);
    const ea = A.send(seg(fa, 'c', 'A', qa.c, qa.s));
    const eb = A.send(seg(fb, 'c', 'A', qb.c, qb.s));
    A.ct.setGroup(ea, 51);
    A.ct.setGroup(eb, 52);
    const watch = new DrillWatch(A.ct, new CtSnapshot(), syncClock);
    assert.equal(watch.begin([51]), 1, 'only group 51\'s connection');
    A.send(seg(fa, 'c', 'PA', qa.c, qa.s, { payload: 10 }));
    A.send(seg(fb, 'c', 'PA', qb.c, qb.s, { payload: 10 }));
    assert.equal(watch.freeze(), 1);
    const r = watch.end();
    assert.deepEqual(r.flows.map((f) => [f.flow, f.vrid]), [['tcp 192.0.2.100:40011 -> 198.51.100.100:5201', 51]]);
    // A whole-node drill watches both, each with its group.
    assert.equal(watch.begin(), 2);
    A.send(seg(fa, 'c', 'PA', qa.c + 10, qa.s, { payload: 10 }));
    A.send(seg(fb, 'c', 'PA', qb.c + 10, qb.s, { payload: 10 }));
    watch.freeze();
    assert.deepEqual(watch.end().flows.map((f) => f.vrid).sort(), [51, 52]);
  });
});
