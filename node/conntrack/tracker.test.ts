import assert from 'node:assert/strict';
import { buildUdp, parseBuilt } from '../packet/build.js';
import { parsePacket } from '../packet/parse.js';
import { PacketInfo } from '../packet/packet-info.js';
import { ConnTable } from './conn-table.js';
import { CtEventKind, CtSnapshot, CtState, CtStatus, TcpState } from './ct-types.js';
import { FIXED_KEY, Harness, seg, V4 } from './testing.js';

const CL = '192.0.2.100';
const SV = '198.51.100.100';
const udp = (sport: number, dport = 53, src = CL, dst = SV) => buildUdp({ src, dst, sport, dport, payload: 8 });
const udpBack = (sport: number, dport = 53) => udp(dport, sport, SV, CL);

function establishTcp(h: Harness, cport: number) {
  const ends = { ...V4, cport };
  h.send(seg(ends, 'c', 'S', 100, 0));
  h.send(seg(ends, 's', 'SA', 900, 101));
  h.send(seg(ends, 'c', 'A', 101, 901));
  return ends;
}

describe('ConnTable index', () => {
  it('finds both tuples of a linked entry and forgets them when freed', () => {
    const t = new ConnTable(8, 8, FIXED_KEY);
    const e = t.alloc();
    t.key.set([1, 2, 3, 4, 5, 6, 7, 8, (1 << 16) | 2]);
    t.storeKey(2 * e);
    t.key.set([9, 10, 11, 12, 13, 14, 15, 16, (3 << 16) | 4]);
    t.storeKey(2 * e + 1);
    t.family[e] = 6; t.proto[e] = 17;
    assert.equal(t.link(e), 0);
    t.keyFromTuple(2 * e + 1);
    assert.equal(t.find(t.hashKey()), 2 * e + 1);
    t.free(e);
    assert.equal(t.find(t.hashKey()), -1);
    assert.equal(t.live, 0);
  });

  it('keeps every entry reachable through many inserts and deletes (backward-shift deletion)', () => {
    const n = 2000;
    const t = new ConnTable(n, 64, FIXED_KEY);
    const alive = new Set<number>();
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
    const fill = (e: number, tag: number) => {
      t.key.set([tag, 0, 0, 0, 7, 0, 0, 0, (tag & 0xffff) << 16]);
      t.storeKey(2 * e);
      t.key.set([7, 0, 0, 0, tag, 0, 0, 0, tag & 0xffff]);
      t.storeKey(2 * e + 1);
      t.family[e] = 4; t.proto[e] = 6;
    };
    for (let round = 0; round < 6000; round++) {
      if (alive.size < n && (alive.size === 0 || rnd() % 3 !== 0)) {
        const e = t.alloc();
        fill(e, round + 1);
        assert.equal(t.link(e), 0);
        alive.add(e);
      } else {
        const arr = [...alive];
        const e = arr[rnd() % arr.length];
        t.free(e);
        alive.delete(e);
      }
    }
    for (const e of alive) {
      t.keyFromTuple(2 * e);
      assert.equal(t.find(t.hashKey()), 2 * e);
      t.keyFromTuple(2 * e + 1);
      assert.equal(t.find(t.hashKey()), 2 * e + 1);
    }
    assert.equal(t.live, alive.size);
  });

  it('refuses inserts beyond the probe cap instead of growing chains', () => {
    const n = 4096;
    const t = new ConnTable(n, 0, FIXED_KEY); // maxProbe 0: only the home bucket
    let refused = 0;
    for (let i = 0; i < n; i++) {
      const e = t.alloc();
      t.key.set([i, 0, 0, 0, 0, 0, 0, 0, 1 << 16]);
      t.storeKey(2 * e);
      t.key.set([0, 0, 0, 0, i, 0, 0, 0, 1]);
      t.storeKey(2 * e + 1);
      t.family[e] = 4; t.proto[e] = 17;
      if (t.link(e) !== 0) {
        refused++;
        t.free(e);
      }
    }
    assert.ok(refused > 0, 'collisions at load 0.5 must hit a cap of 0');
    assert.equal(t.live + refused, n);
  });

  it('rejects a second entry with a tuple already present (clash)', () => {
    const h = new Harness();
    h.send(udp(1000));
    const ct = h.ct;
    // A packet of the same flow tracked before the first was committed (two queues).
    const t = ct.table;
    const e = t.alloc();
    t.family[e] = 4; t.proto[e] = 17;
    for (const d of [0, 1]) {
      t.keyFromTuple(d); // entry 0's tuples
      t.storeKey(2 * e + d);
    }
    assert.equal(t.link(e), 1);
  });

  it('stays within the memory budget: 1M entries would take well under 512 MB', () => {
    const t = new ConnTable(10_000, 64, FIXED_KEY);
    const perEntry = t.byteSize() / 10_000;
    assert.ok(perEntry * 1_000_000 < 300 * 1024 * 1024, `${perEntry} bytes per entry`);
  });
});

describe('ConnTracker: expiry with a fake clock', () => {
  it('an expired entry is gone at lookup: the next packet is new again', () => {
    const h = new Harness({ timeouts: { udpUnreplied: 5000 } });
    h.send(udp(1000));
    h.advance(5001);
    assert.equal(h.send(udp(1000)), CtState.New);
    assert.deepEqual(h.kinds(), [CtEventKind.New, CtEventKind.Destroy, CtEventKind.New]);
  });

  it('expire() sweeps incrementally and emits Destroy', () => {
    const h = new Harness();
    for (let p = 1; p <= 50; p++) h.send(udp(p));
    assert.equal(h.ct.count(), 50);
    h.advance(29_000);
    assert.equal(h.ct.expire(h.now, 1_000_000), 0);
    h.advance(2000);
    let total = 0;
    for (let i = 0; i < 100 && h.ct.count() > 0; i++) total += h.ct.expire(h.now, 16);
    assert.equal(total, 50);
    assert.equal(h.ct.count(), 0);
    assert.equal(h.kinds().filter((k) => k === CtEventKind.Destroy).length, 50);
  });

  it('track() sweeps a few slots per packet so idle entries go without expire() calls', () => {
    const h = new Harness({ sweepPerPacket: 4, maxEntries: 64 });
    for (let p = 1; p <= 10; p++) h.send(udp(p));
    h.advance(31_000);
    for (let i = 0; i < 20; i++) h.send(udp(5000, 53, '192.0.2.200'));
    assert.equal(h.ct.count(), 1);
  });

  it('configured TCP timeouts apply', () => {
    const h = new Harness({ timeouts: { tcpSynSent: 1234 } });
    h.send(seg(V4, 'c', 'S', 1, 0));
    assert.equal(h.ct.remainingMs(h.ct.result.entry), 1234);
  });

  it('rejects a negative timeout at construction', () => {
    assert.throws(() => new Harness({ timeouts: { icmp: -1 } }), RangeError);
  });
});

describe('ConnTracker: full table', () => {
  it('drops a non-assured entry early to admit a new one', () => {
    const h = new Harness({ maxEntries: 4 });
    for (let p = 1; p <= 4; p++) h.send(udp(p));
    assert.equal(h.send(udp(5)), CtState.New);
    assert.equal(h.ct.count(), 4);
    assert.equal(h.ct.stats.earlyDrop, 1);
  });

  it('refuses (and asks to drop) new connections when all entries are assured', () => {
    const h = new Harness({ maxEntries: 4 });
    for (let p = 1; p <= 4; p++) establishTcp(h, 40000 + p);
    assert.equal(h.ct.count(), 4);
    assert.equal(h.send(udp(9)), CtState.Invalid);
    assert.equal(h.ct.result.drop, true);
    assert.equal(h.ct.stats.refusedFull, 1);
    assert.equal(h.ct.count(), 4);
    // Existing connections keep working.
    assert.equal(h.send(seg({ ...V4, cport: 40001 }, 'c', 'A', 101, 901)), CtState.Established);
  });

  it('a flood of new flows never grows the table past its capacity', () => {
    const h = new Harness({ maxEntries: 32 });
    for (let p = 1; p <= 2000; p++) h.send(udp(p));
    assert.equal(h.ct.count(), 32);
  });
});

describe('ConnTracker: commit', () => {
  it('an uncommitted new entry is discarded by the next track()', () => {
    const h = new Harness();
    h.ct.track(parseBuilt(udp(1)), h.now);
    assert.equal(h.ct.result.pending, true);
    h.ct.track(parseBuilt(udp(2)), h.now);
    h.ct.commit(true);
    assert.equal(h.ct.count(), 1);
  });

  it('setMark on a pending entry is kept when it is committed', () => {
    const h = new Harness();
    h.ct.track(parseBuilt(udp(1)), h.now);
    h.ct.setMark(h.ct.result.entry, 0x42);
    h.ct.commit(true);
    assert.equal(h.send(udpBack(1)), CtState.Established);
    assert.equal(h.ct.result.mark, 0x42);
  });
});

describe('ConnTracker: events', () => {
  it('emits Update on state changes and rate-limits refreshes', () => {
    const h = new Harness({ eventRefreshMs: 5000 });
    establishTcp(h, 40000);
    const ends = { ...V4, cport: 40000 };
    // New (SYN), Update (SYN/ACK: SYN_RECV + seen reply), Update (ACK: ESTABLISHED + assured)
    assert.deepEqual(h.kinds(), [CtEventKind.New, CtEventKind.Update, CtEventKind.Update]);
    h.events.length = 0;
    let seq = 101;
    for (let i = 0; i < 20; i++) {
      h.advance(100);
      h.send(seg(ends, 'c', 'PA', seq, 901, { payload: 10 }));
      seq += 10;
      h.send(seg(ends, 's', 'A', 901, seq));
    }
    assert.equal(h.events.length, 0, 'no event per packet');
    h.advance(5000);
    h.send(seg(ends, 'c', 'PA', seq, 901, { payload: 10 }));
    assert.deepEqual(h.kinds(), [CtEventKind.Update]);
  });

  it('flags an Update that is a refresh alone (refreshOnly), and only that one', () => {
    const h = new Harness({ eventRefreshMs: 5000 });
    const flags: boolean[] = [];
    h.ct.onEvent = (kind) => void (kind === CtEventKind.Update && flags.push(h.ct.refreshOnly));
    establishTcp(h, 40000);
    const ends = { ...V4, cport: 40000 };
    h.advance(5000);
    h.send(seg(ends, 'c', 'PA', 101, 901, { payload: 10 }));
    h.send(seg(ends, 'c', 'FA', 111, 901));
    assert.deepEqual(flags, [false, false, true, false], 'SYN_RECV, ESTABLISHED: changes; then a refresh; FIN: a change');
    assert.equal(h.ct.refreshOnly, false, 'cleared after the handler');
  });

  it('emits Update when the mark changes, not when it is set to the same value', () => {
    const h = new Harness();
    h.send(udp(1));
    const e = h.ct.result.entry;
    h.events.length = 0;
    h.ct.setMark(e, 7);
    h.ct.setMark(e, 7);
    assert.deepEqual(h.kinds(), [CtEventKind.Update]);
    assert.equal(h.ct.getMark(e), 7);
  });

  it('delete and flush emit Destroy with the entry still readable', () => {
    const h = new Harness();
    h.send(udp(1));
    h.send(udp(2));
    const snap = new CtSnapshot();
    const ports: number[] = [];
    h.ct.onEvent = (kind, e) => {
      if (kind === CtEventKind.Destroy) ports.push(h.ct.snapshot(e, snap).origSport);
    };
    let first = -1;
    h.ct.forEach((e) => (first = first < 0 ? e : first));
    assert.equal(h.ct.delete(first), true);
    assert.equal(h.ct.flush(), 1);
    assert.deepEqual(ports.sort(), [1, 2]);
    assert.equal(h.ct.count(), 0);
  });
});

describe('ConnTracker: replication interface', () => {
  it('snapshot -> applyReplica -> snapshot round-trips every field', () => {
    const a = new Harness();
    establishTcp(a, 40000);
    const e = a.ct.result.entry;
    a.ct.setMark(e, 0xdead);
    const s1 = a.ct.snapshot(e, new CtSnapshot());
    const b = new Harness();
    b.now = a.now;
    const eb = b.ct.applyReplica(s1, b.now);
    assert.ok(eb >= 0);
    assert.equal(b.events.length, 0, 'no events for replica application');
    const s2 = b.ct.snapshot(eb, new CtSnapshot());
    assert.equal(s2.replicated, true);
    assert.equal(s2.status, s1.status | CtStatus.Replicated);
    const strip = (s: CtSnapshot) => ({ ...s, status: 0, replicated: false });
    assert.deepEqual(strip(s2), strip(s1));
  });

  it('a replicated TCP entry carries established traffic after failover (strict mode)', () => {
    const a = new Harness();
    const ends = establishTcp(a, 40000);
    a.send(seg(ends, 'c', 'PA', 101, 901, { payload: 100 }));
    a.send(seg(ends, 's', 'A', 901, 201));
    const snap = a.ct.snapshot(a.ct.result.entry, new CtSnapshot());
    const b = new Harness();
    b.now = a.now + 50;
    b.ct.applyReplica(snap, b.now);
    assert.equal(b.send(seg(ends, 'c', 'PA', 201, 901, { payload: 100 })), CtState.Established);
    assert.equal(b.send(seg(ends, 's', 'A', 901, 301)), CtState.Established);
    assert.equal(b.ct.getTcpState(b.ct.result.entry), TcpState.Established);
    // Out-of-window data is still caught on the new master.
    assert.equal(b.send(seg(ends, 'c', 'PA', 201 + 10_000_000, 901, { payload: 1 })), CtState.Invalid);
  });

  it('a replica without td_maxack does not make valid RSTs invalid after failover', () => {
    const a = new Harness();
    const ends = establishTcp(a, 40000);
    const snap = a.ct.snapshot(a.ct.result.entry, new CtSnapshot());
    snap.tdMaxAck[0] = 0;
    snap.tdMaxAck[1] = 0;
    const b = new Harness();
    b.now = a.now;
    const e = b.ct.applyReplica(snap, b.now);
    // Compared with a bogus td_maxack of 0, this exact RST would look inexact (and, for
    // half of all sequence numbers, "before" it: invalid). It must close the entry.
    assert.equal(b.send(seg(ends, 's', 'R', 901, 0)), CtState.Established);
    assert.equal(b.ct.getTcpState(e), TcpState.Close);
  });

  it('a replica update of an unknown entry creates it; a later one updates in place', () => {
    const a = new Harness();
    a.send(udp(1));
    const snap = a.ct.snapshot(a.ct.result.entry, new CtSnapshot());
    const b = new Harness();
    const e1 = b.ct.applyReplica(snap, b.now);
    snap.mark = 9;
    snap.timeoutMs = 1000;
    const e2 = b.ct.applyReplica(snap, b.now);
    assert.equal(e1, e2);
    assert.equal(b.ct.count(), 1);
    assert.equal(b.ct.getMark(e2), 9);
    assert.equal(b.ct.remainingMs(e2, b.now), 1000);
  });

  it('a replica with a rewritten reply tuple (NAT) is found by the new reply tuple', () => {
    const a = new Harness();
    a.send(udp(1));
    const snap = a.ct.snapshot(a.ct.result.entry, new CtSnapshot());
    const b = new Harness();
    b.ct.applyReplica(snap, b.now);
    snap.replyDst.set([203, 0, 113, 50]);
    snap.replyDport = 61000;
    b.ct.applyReplica(snap, b.now);
    assert.equal(b.send(buildUdp({ src: SV, dst: '203.0.113.50', sport: 53, dport: 61000 })), CtState.Established);
    assert.equal(b.send(udpBack(1)), CtState.New, 'the old reply tuple no longer matches');
  });

  it('deleteReplica removes silently and ignores unknown tuples', () => {
    const a = new Harness();
    a.send(udp(1));
    const snap = a.ct.snapshot(a.ct.result.entry, new CtSnapshot());
    const b = new Harness();
    b.ct.applyReplica(snap, b.now);
    assert.equal(b.ct.deleteReplica(snap), true);
    assert.equal(b.ct.deleteReplica(snap), false);
    assert.equal(b.ct.count(), 0);
    assert.equal(b.events.length, 0);
  });

  it('after a resync, purgeStaleReplicas drops replicas the peer did not resend, and only those', () => {
    const a = new Harness();
    a.send(udp(1));
    const s1 = a.ct.snapshot(a.ct.result.entry, new CtSnapshot());
    a.send(udp(2));
    const s2 = a.ct.snapshot(a.ct.result.entry, new CtSnapshot());
    const b = new Harness();
    b.ct.applyReplica(s1, b.now);
    b.ct.applyReplica(s2, b.now);
    b.send(udp(3)); // a local, non-replicated entry
    b.advance(1000);
    const resyncStart = b.now;
    b.ct.applyReplica(s2, b.now);
    assert.equal(b.ct.purgeStaleReplicas(resyncStart), 1);
    assert.equal(b.ct.lookupTuple(s1), -1);
    assert.notEqual(b.ct.lookupTuple(s2), -1);
    assert.equal(b.ct.count(), 2);
  });

  it('refuses a replica with a bad family', () => {
    const b = new Harness();
    const snap = new CtSnapshot();
    snap.family = 5;
    assert.equal(b.ct.applyReplica(snap, b.now), -1);
  });
});

describe('ConnTracker: malformed input never crashes it (bounded fuzz)', () => {
  it('survives random and mutated packets with a consistent table', () => {
    const h = new Harness({ maxEntries: 256, sweepPerPacket: 2, tcpLoose: true });
    const info = new PacketInfo();
    let seed = 0xc0ffee;
    const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) >>> 0);
    const templates = [
      seg(V4, 'c', 'S', 1, 0, { wscale: 7, sackPerm: true }),
      seg({ ...V4, ext: undefined }, 's', 'SA', 5, 2),
      udp(7),
      buildUdp({ src: '2001:db8::1', dst: '2001:db8::2', sport: 1, dport: 2, payload: 10 }),
    ];
    const start = Date.now();
    let n = 0;
    for (; n < 20_000 && Date.now() - start < 3000; n++) {
      let bytes: Uint8Array;
      if (n % 4 === 0) {
        bytes = new Uint8Array(rnd() % 120);
        for (let i = 0; i < bytes.length; i++) bytes[i] = rnd() & 0xff;
        if (bytes.length > 0) bytes[0] = (rnd() & 1 ? 0x45 : 0x60) | (bytes[0] & 0x0f);
      } else {
        const t = templates[rnd() % templates.length];
        bytes = t.slice(0, rnd() % 3 === 0 ? rnd() % (t.length + 1) : t.length);
        const flips = 1 + (rnd() % 4);
        for (let i = 0; i < flips && bytes.length > 0; i++) bytes[rnd() % bytes.length] ^= 1 << (rnd() & 7);
      }
      parsePacket(info, bytes, 0, bytes.length, 0);
      h.ct.track(info, h.now, rnd() & 3);
      h.ct.commit(rnd() % 5 !== 0);
      if (n % 100 === 0) h.advance(1000);
    }
    assert.ok(n >= 1000);
    assert.ok(h.ct.stats.inserted > 0 && h.ct.stats.invalid > 0, 'the fuzz reached both valid and invalid paths');
    assert.ok(h.ct.count() <= 256);
    let live = 0;
    h.ct.forEach(() => live++);
    assert.equal(live, h.ct.count());
    assert.equal(h.ct.table.pending, 0);
  });
});

describe('ConnTracker: NAT reply tuple', () => {
  it('a pending entry takes the translated reply tuple at commit', () => {
    const h = new Harness();
    h.ct.track(parseBuilt(udp(1000)), h.now);
    const e = h.ct.result.entry;
    const snap = h.ct.snapshot(e, new CtSnapshot(), h.now);
    snap.replyDst.set([203, 0, 113, 1]);
    snap.replyDport = 61000;
    assert.equal(h.ct.setReplyTuple(e, snap), true);
    assert.equal(h.ct.commit(true), true);
    assert.equal(h.send(buildUdp({ src: SV, dst: '203.0.113.1', sport: 53, dport: 61000 })), CtState.Established);
    assert.equal(h.ct.result.dir, 1);
    assert.equal(h.send(udpBack(1000)), CtState.New, 'the untranslated reply is another flow');
  });

  it('a live entry is re-hashed, and a clashing reply tuple is refused without change', () => {
    const h = new Harness();
    h.send(udp(1));
    const e1 = h.ct.result.entry;
    h.send(udp(2));
    const e2 = h.ct.result.entry;
    const snap = h.ct.snapshot(e1, new CtSnapshot(), h.now);
    snap.replyDport = 2; // now equal to e2's reply tuple
    assert.equal(h.ct.setReplyTuple(e1, snap), false);
    assert.equal(h.send(udpBack(1)), CtState.Established);
    assert.equal(h.ct.result.entry, e1);
    snap.replyDport = 7777;
    assert.equal(h.ct.setReplyTuple(e1, snap), true);
    assert.equal(h.send(udpBack(7777)), CtState.Established);
    assert.equal(h.ct.result.entry, e1);
    assert.equal(h.send(udpBack(2)), CtState.Established);
    assert.equal(h.ct.result.entry, e2);
  });
});
