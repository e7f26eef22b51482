import assert from 'node:assert/strict';
import { buildUdp, parseBuilt } from '../../packet/build.js';
import { CtStatus, ctGroup } from '../../conntrack/index.js';
import { EventKind, syncClock, type StateRecord } from '../../../sync-protocol/index.js';
import { bridgedTable } from './testing-sync.js';

const CLIENT = '192.0.2.100';
const SERVER = '198.51.100.53';
const out = (sport: number) => buildUdp({ src: CLIENT, dst: SERVER, sport, dport: 53 });
const back = (sport: number) => buildUdp({ src: SERVER, dst: CLIENT, sport: 53, dport: sport });

/** One node's datapath side of sync: a real table, its bridge and the ring to its sync worker. */
const node = () => bridgedTable({}, 64);

/** The record of a new flow from the client, as a peer (owner) would send it. */
function peerRecord(sport: number, mark: number, stamp: number): StateRecord {
  const peer = node();
  const e = peer.send(out(sport));
  peer.ct.setMark(e, mark);
  const recs = peer.records();
  const rec = recs[recs.length - 1]!;
  return { ...rec, stamp };
}

/** Lets syncClock move past `t`, so "since" comparisons are strict (no timing is measured). */
function after(t: number): void {
  while (syncClock() <= t) { /* spin a few microseconds */ }
}

describe('SyncBridge.apply: ordering rules against the real table', () => {
  it('stamps order one owner\'s records: a late, older copy does not overwrite the newer state', () => {
    const b = node();
    b.bridge.apply(1, peerRecord(7000, 0x2, 200), 0);
    const e = b.ct.lookupTuple(tupleOf(7000));
    assert.ok(e >= 0);
    assert.equal(b.ct.getMark(e), 0x2);
    b.bridge.apply(1, peerRecord(7000, 0x1, 100), 0);
    assert.equal(b.ct.getMark(e), 0x2, 'the older copy is not applied');
    assert.equal(b.bridge.counts.stale, 1);
    b.bridge.apply(1, peerRecord(7000, 0x3, 200), 0);
    assert.equal(b.ct.getMark(e), 0x3, 'an equal stamp is not older: applied');
    b.bridge.apply(1, peerRecord(7000, 0x4, 300), 0);
    assert.equal(b.ct.getMark(e), 0x4);
    assert.equal(b.bridge.counts.applied, 3);
    assert.equal(b.ring.depth, 0, 'replicas make no records of their own');
  });

  it('a late copy still tells that the owner has the connection: a resync does not purge it', () => {
    const b = node();
    b.bridge.apply(1, peerRecord(7001, 0x2, 200), 0);
    b.bridge.apply(1, peerRecord(7002, 0x2, 200), 0);
    after(syncClock());
    b.bridge.resyncBegin(1);
    after(syncClock());
    // The owner resends 7001 (its copy arrives older than what we hold), not 7002.
    b.bridge.apply(1, peerRecord(7001, 0x1, 100), 0);
    assert.equal(b.bridge.counts.stale, 1);
    b.bridge.resyncEnd(1);
    assert.equal(b.ct.count(), 1, 'only the connection the owner did not resend went');
    assert.equal(b.ct.countReplicated(), 1);
  });

  it('a resync from one owner sweeps only that owner\'s stale replicas: a third node\'s quiet connection stays', () => {
    const b = node();
    b.bridge.apply(1, peerRecord(7010, 0, 200), 0);
    b.bridge.apply(1, peerRecord(7011, 0, 200), 0);
    // Owner 2 (a third node) has one quiet connection: no record of it comes during owner 1's walk.
    b.bridge.apply(2, peerRecord(7012, 0, 200), 0);
    after(syncClock());
    b.bridge.resyncBegin(1);
    after(syncClock());
    // Owner 1's walk resends 7010; 7011 ended on owner 1 while we were away.
    b.bridge.apply(1, peerRecord(7010, 0, 300), 0);
    b.bridge.resyncEnd(1);
    assert.ok(b.ct.lookupTuple(tupleOf(7010)) >= 0, 'refreshed by the walk');
    assert.equal(b.ct.lookupTuple(tupleOf(7011)), -1, 'owner 1 did not resend it: stale');
    assert.ok(b.ct.lookupTuple(tupleOf(7012)) >= 0, 'owner 2\'s replica is not owner 1\'s to sweep');
    // Owner 2's own complete walk without 7012 does remove it.
    after(syncClock());
    b.bridge.resyncBegin(2);
    after(syncClock());
    b.bridge.resyncEnd(2);
    assert.equal(b.ct.lookupTuple(tupleOf(7012)), -1);
    assert.ok(b.ct.lookupTuple(tupleOf(7010)) >= 0, 'and owner 1\'s replica stays');
  });

  it('a replica whose owner changed (a takeover) belongs to the new owner\'s walks only', () => {
    const b = node();
    b.bridge.apply(1, peerRecord(7013, 0, 200), 0);
    // The new master (owner 2) adopted the connection and replicates it now.
    b.bridge.apply(2, peerRecord(7013, 0x4, 100), 0);
    after(syncClock());
    b.bridge.resyncBegin(1);
    after(syncClock());
    b.bridge.resyncEnd(1);
    const e = b.ct.lookupTuple(tupleOf(7013));
    assert.ok(e >= 0, 'the old owner\'s walk does not sweep what owner 2 owns now');
    assert.equal(b.ct.getMark(e), 0x4);
  });

  it('stamps are per owner: another owner\'s record is applied whatever its stamp', () => {
    const b = node();
    b.bridge.apply(1, peerRecord(7003, 0x2, 500), 0);
    b.bridge.apply(2, peerRecord(7003, 0x1, 100), 0);
    const e = b.ct.lookupTuple(tupleOf(7003));
    assert.equal(b.ct.getMark(e), 0x1);
    assert.equal(b.bridge.counts.stale, 0);
    // From now on owner 2's stamps order the entry: owner 2's older copy is stale.
    b.bridge.apply(2, peerRecord(7003, 0x5, 50), 0);
    assert.equal(b.ct.getMark(e), 0x1);
    assert.equal(b.bridge.counts.stale, 1);
  });

  it('the local entry wins: a peer\'s update or destroy of a connection this node tracks changes nothing', () => {
    const b = node();
    const e = b.send(out(7004));
    b.ct.setMark(e, 0x9);
    b.records();
    b.bridge.apply(1, peerRecord(7004, 0x1, 1e15), 0);
    assert.equal(b.ct.getMark(e), 0x9);
    assert.equal(b.ct.getStatus(e) & CtStatus.Replicated, 0);
    b.bridge.apply(1, { ...peerRecord(7004, 0x1, 1e15), kind: EventKind.Destroy }, 0);
    assert.equal(b.ct.isLive(e), true, 'not deleted by the peer');
    assert.equal(b.bridge.counts.ignoredLocal, 2);
    assert.equal(b.bridge.counts.deleted, 0);
  });

  it('not master: a peer\'s record of a connection this node still holds as its own replaces it (the peer forwards it now); a master keeps its view', () => {
    const b = node();
    b.bridge.setMastered(1, true);
    const e = b.send(out(7014));
    b.ct.setMark(e, 0x9);
    b.records();
    b.bridge.apply(1, peerRecord(7014, 0x1, 100), 0);
    assert.equal(b.ct.getMark(e), 0x9, 'master: its own view wins');
    // Preempted, or back from a partition: another node adopted the connection meanwhile.
    b.bridge.setMastered(1, false);
    b.bridge.apply(1, peerRecord(7014, 0x3, 200), 0);
    const r = b.ct.lookupTuple(tupleOf(7014));
    assert.ok(b.ct.getStatus(r) & CtStatus.Replicated, 'now the peer\'s replica');
    assert.equal(b.ct.getMark(r), 0x3);
    assert.equal(b.bridge.counts.yielded, 1);
    assert.equal(b.records().length, 0, 'no echo of the peer\'s record');
    // Its next walk (or destroy) is the owner's: a Destroy now removes it.
    b.bridge.apply(1, { ...peerRecord(7014, 0x3, 300), kind: EventKind.Destroy }, 0);
    assert.equal(b.ct.lookupTuple(tupleOf(7014)), -1);
  });

  it('not master, per VRRP group: a node still master of A keeps A\'s connections and yields B\'s to a peer\'s records once it lost B', () => {
    const A = 1;
    const B = 2;
    const b = node();
    // Master of B only: a connection through it is B's.
    b.bridge.setMastered(B, true);
    const eb = b.send(out(7015));
    // Master of both: a new connection goes to the lowest group mastered, A.
    b.bridge.setMastered(A, true);
    const ea = b.send(out(7016));
    assert.equal(ctGroup(b.ct.getStatus(eb)), B);
    assert.equal(ctGroup(b.ct.getStatus(ea)), A);
    b.records();
    // B's VIPs move to a peer (preempted there); this node stays master of A.
    b.bridge.setMastered(B, false);
    b.bridge.apply(1, peerRecord(7016, 0x3, 200), 0);
    b.bridge.apply(1, peerRecord(7015, 0x3, 200), 0);
    assert.equal(b.ct.getStatus(ea) & CtStatus.Replicated, 0, 'A: this node forwards it, its own view wins');
    assert.notEqual(b.ct.getMark(ea), 0x3);
    assert.equal(b.bridge.counts.ignoredLocal, 1);
    const rb = b.ct.lookupTuple(tupleOf(7015));
    assert.ok(b.ct.getStatus(rb) & CtStatus.Replicated, 'B: now the peer\'s replica');
    assert.equal(b.ct.getMark(rb), 0x3);
    assert.equal(b.bridge.counts.yielded, 1);
    assert.equal(b.records().length, 0, 'no echo of the peer\'s record');
  });

  it('adoption: local traffic through a replica makes it this node\'s; it is announced and the peer\'s records no longer apply', () => {
    const b = node();
    b.bridge.apply(1, peerRecord(7005, 0x2, 200), 0);
    const e = b.ct.lookupTuple(tupleOf(7005));
    assert.ok(b.ct.getStatus(e) & CtStatus.Replicated);
    // Takeover: the server's answer reaches this node (SeenReply changes: an Update event).
    assert.equal(b.send(back(7005)), e);
    assert.equal(b.ct.getStatus(e) & CtStatus.Replicated, 0, 'adopted');
    assert.equal(b.bridge.counts.adopted, 1);
    const recs = b.records();
    assert.equal(recs.length, 1, 'this node now replicates it');
    assert.equal(recs[0]!.status & CtStatus.Replicated, 0);
    assert.equal(recs[0]!.mark, 0x2, 'with the state it took over');
    b.bridge.apply(1, peerRecord(7005, 0x7, 300), 0);
    assert.equal(b.ct.getMark(e), 0x2, 'the former owner\'s newer record is ignored');
    assert.equal(b.bridge.counts.ignoredLocal, 1);
  });

  it('a replica\'s own expiry and the owner\'s Destroy are silent; an unknown Destroy is ignored', () => {
    const b = node();
    b.bridge.apply(1, peerRecord(7006, 0, 200), 0);
    b.bridge.apply(1, peerRecord(7007, 0, 200), 0);
    b.bridge.apply(1, { ...peerRecord(7006, 0, 300), kind: EventKind.Destroy }, 0);
    assert.equal(b.bridge.counts.deleted, 1);
    assert.equal(b.ct.lookupTuple(tupleOf(7006)), -1);
    b.bridge.apply(1, { ...peerRecord(7008, 0, 300), kind: EventKind.Destroy }, 0);
    assert.equal(b.bridge.counts.deleted, 1);
    assert.equal(b.ct.count(), 1);
    b.ct.expire(syncClock() + 3_600_000, 256);
    assert.equal(b.ct.count(), 0);
    assert.equal(b.ring.depth, 0, 'no record for a replica\'s expiry');
  });
});

describe('SyncBridge.apply: what one record costs the table', () => {
  // At 1M entries every walk of the index starts with a cache miss: the original tuple is
  // hashed and looked up once per record (the bridge's lookup is the one the table goes on
  // from), and a new or changed reply tuple is hashed and placed in one walk that is also its
  // clash check. The table counts keys hashed and walks (lookups, placements, removals).
  it('new: 2 hashes, 2 walks; update, late copy, local entry: 1 and 1; changed reply: 2 and 3; destroy: 1 and 3', () => {
    const b = node();
    const t = b.ct.table;
    const cost = (f: () => void) => {
      const h = t.hashes;
      const w = t.walks;
      f();
      return { hashes: t.hashes - h, walks: t.walks - w };
    };
    const rec = peerRecord(7100, 0x1, 100);
    assert.deepEqual(cost(() => b.bridge.apply(1, rec, 0)), { hashes: 2, walks: 2 }, 'new replica');
    const e = b.ct.lookupTuple(tupleOf(7100));
    assert.ok(e >= 0 && b.ct.getMark(e) === 0x1);
    assert.deepEqual(cost(() => b.bridge.apply(1, { ...rec, mark: 0x2, stamp: 200 }, 0)), { hashes: 1, walks: 1 }, 'update');
    assert.equal(b.ct.getMark(e), 0x2);
    assert.deepEqual(cost(() => b.bridge.apply(1, { ...rec, mark: 0x3, stamp: 150 }, 0)), { hashes: 1, walks: 1 }, 'late copy');
    assert.equal(b.bridge.counts.stale, 1);
    // The owner NATed the connection's source port: only the reply tuple moves (taken out,
    // hashed, placed); the original stays in its bucket.
    const natted = { ...rec, stamp: 300, replyDport: 40000, status: rec.status | CtStatus.SrcNat };
    assert.deepEqual(cost(() => b.bridge.apply(1, natted, 0)), { hashes: 2, walks: 3 }, 'changed reply tuple');
    assert.equal(b.ct.lookupTuple(tupleOf(7100)), e, 'the original tuple still finds the entry');
    const reply = { family: 4, proto: 17, zone: 0, origSrc: rec.replySrc, origDst: rec.replyDst, origSport: 53, origDport: 40000 };
    assert.equal(b.ct.lookupTuple(reply), e, 'the new reply tuple finds it');
    assert.equal(b.ct.lookupTuple({ ...reply, origDport: 7100 }), -1, 'the old one is gone');
    assert.deepEqual(cost(() => b.bridge.apply(1, { ...natted, kind: EventKind.Destroy, stamp: 400 }, 0)), { hashes: 1, walks: 3 }, 'destroy: one lookup, two removals');
    assert.equal(b.ct.lookupTuple(tupleOf(7100)), -1);
    const local = b.send(out(7101));
    assert.ok(local >= 0);
    assert.deepEqual(cost(() => b.bridge.apply(1, peerRecord(7101, 0x9, 500), 0)), { hashes: 1, walks: 1 }, 'a local entry wins');
    assert.equal(b.bridge.counts.ignoredLocal, 1);
    assert.equal(b.bridge.counts.applied, 3);
  });
});

function tupleOf(sport: number) {
  const p = parseBuilt(out(sport));
  return { family: 4, proto: 17, zone: 0, origSrc: p.buf.subarray(p.srcOff, p.srcOff + 4), origDst: p.buf.subarray(p.dstOff, p.dstOff + 4), origSport: sport, origDport: 53 };
}
