/**
 * An FTP transfer survives a failover: the control connection's helper and its pending
 * expectation travel with its state record (sync-bridge.ts), so the standby, once it
 * forwards, relates the data connection (`ct state related`) under a ruleset that accepts
 * nothing else new. A pair of datapaths, records carried A -> B through a ring as the sync
 * worker would (the wire's round trip of the fields: sync-protocol/record-compat.test.ts).
 */
import assert from 'node:assert/strict';
import { buildTcp } from '../../packet/build.js';
import { parseAddress } from '../../packet/address.js';
import { CtSnapshot } from '../../conntrack/index.js';
import { EXPECT_TIMEOUT_MS } from '../../conntrack/expectations.js';
import { Verdict } from './stage.js';
import { formatAddress } from '../../packet/address.js';
import type { PacketInfo } from '../../packet/packet-info.js';
import { WAN_ADDR } from './testing.js';
import { SyncBridge } from './sync-bridge.js';
import { rig, type Rig } from './testing.js';
import { EventRing, syncClock, type StateRecord } from '../../../sync-protocol/index.js';

/** Strict: only FTP control connections may be opened; data connections only as related. */
const RULESET = `table inet f {
  ct helper ftp-std { type "ftp" protocol tcp; }
  chain pre { type filter hook prerouting priority filter; policy accept;
    tcp dport 21 ct helper set "ftp-std"
  }
  chain fw { type filter hook forward priority filter; policy drop;
    ct state established,related accept
    tcp dport 21 ct state new accept
  }
}`;

const C4 = '10.0.0.5';
const S4 = '203.0.113.9';

const tcp = (src: string, dst: string, sport: number, dport: number, flags: string, seq: number, ack: number, payload?: string): Uint8Array =>
  buildTcp({ src, dst, sport, dport, flags, seq, ack, payload });

interface Pair {
  a: Rig;
  b: Rig;
  bridgeB: SyncBridge;
  /** A packet through the active node A (its conntrack events go to the ring). */
  sendA(p: Uint8Array): boolean;
  /** A packet through B (the standby, forwarding after a takeover). */
  sendB(p: Uint8Array): boolean;
  /** As sendB, with the packet as B wrote it (translated). */
  outB(p: Uint8Array): { v: Verdict; p: PacketInfo };
  /** The records A produced since the last call, applied on B; returns them (copies). */
  sync(): StateRecord[];
}

function pair(ruleset = RULESET): Pair {
  const a = rig(ruleset);
  const b = rig(ruleset);
  const ring = new EventRing(64);
  const bridgeA = new SyncBridge(a.ct, ring, a.nat);
  a.ct.onEvent = (k, e) => bridgeA.onEvent(k, e);
  const bridgeB = new SyncBridge(b.ct, new EventRing(64), b.nat);
  b.ct.onEvent = (k, e) => bridgeB.onEvent(k, e);
  const through = (r: Rig, bridge: SyncBridge, p: Uint8Array): { v: Verdict; p: PacketInfo } => {
    bridge.local = true;
    try {
      // Room after the packet, as a datapath slot has: the helper's NAT rewrite may grow it.
      return r.send(p, 64);
    } finally {
      bridge.local = false;
    }
  };
  return {
    a, b, bridgeB,
    sendA: (p) => through(a, bridgeA, p).v === Verdict.Accept,
    sendB: (p) => through(b, bridgeB, p).v === Verdict.Accept,
    outB: (p) => through(b, bridgeB, p),
    sync() {
      const out: StateRecord[] = [];
      for (let rec = ring.pop(); rec !== undefined; rec = ring.pop()) {
        out.push({ ...rec, expectSrc: rec.expectSrc.slice(), expectDst: rec.expectDst.slice(), expectNatDst: rec.expectNatDst.slice(), expectNatSrc: rec.expectNatSrc.slice() });
        bridgeB.apply(1, rec, 0);
      }
      return out;
    },
  };
}

/** A's FTP control connection (client C4:40000 to S4:21) up to the client's PORT for C4:50000. */
function controlWithPort(p: Pair): void {
  assert.ok(p.sendA(tcp(C4, S4, 40000, 21, 'S', 1000, 0)), 'SYN to 21');
  assert.ok(p.sendA(tcp(S4, C4, 21, 40000, 'SA', 5000, 1001)), 'SYN-ACK');
  assert.ok(p.sendA(tcp(C4, S4, 40000, 21, 'A', 1001, 5001)), 'ACK');
  assert.ok(p.sendA(tcp(C4, S4, 40000, 21, 'PA', 1001, 5001, 'PORT 10,0,0,5,195,80\r\n'))); // 10.0.0.5:50000
}

function controlEntry(r: Rig): number {
  return r.ct.lookupTuple({ family: 4, proto: 6, zone: 0, origSrc: parseAddress(C4).bytes, origDst: parseAddress(S4).bytes, origSport: 40000, origDport: 21 });
}

describe('FTP helper and expectations through state sync (failover)', () => {
  it('replicates the helper and the PORT\'s expectation: the standby relates the data connection after the takeover', () => {
    const p = pair();
    controlWithPort(p);
    const recs = p.sync();
    // The announcement was replicated with the control connection (its record's Update).
    const last = recs.at(-1)!;
    assert.equal(last.helper, 1);
    assert.equal(last.expectPort, 50000);
    assert.deepEqual([...last.expectSrc], [203, 0, 113, 9]);
    assert.deepEqual([...last.expectDst], [10, 0, 0, 5]);
    assert.ok(last.expectMs > 0 && last.expectMs <= EXPECT_TIMEOUT_MS);
    const e = controlEntry(p.b);
    assert.ok(e >= 0, 'the control connection is on the standby');
    assert.equal(p.b.ct.getHelper(e), 1);
    assert.equal(p.b.ct.expectations.portOf(e), 50000);
    // A is gone; B forwards. The server's data connection to the announced port is related.
    assert.ok(p.sendB(tcp(S4, C4, 20, 50000, 'S', 9000, 0)), 'the data connection is related on the new master');
    assert.ok(p.sendB(tcp(C4, S4, 50000, 20, 'SA', 7000, 9001)), 'its reply is established');
    // Used once, as on the node that made it; other new connections stay dropped.
    assert.equal(p.sendB(tcp(S4, C4, 21000, 50000, 'S', 9500, 0)), false, 'used once');
    assert.equal(p.sendB(tcp(S4, C4, 20, 50001, 'S', 9600, 0)), false, 'another port');
    // The control connection goes on through B and its helper: a second PORT works too.
    assert.ok(p.sendB(tcp(C4, S4, 40000, 21, 'PA', 1024, 5001, 'PORT 10,0,0,5,195,81\r\n')));
    assert.ok(p.sendB(tcp(S4, C4, 20, 50001, 'S', 9700, 0)), 'a data connection announced after the takeover');
  });

  it('IPv6 passive mode (229): the client\'s data connection is related on the new master', () => {
    const p = pair();
    const c6 = '2001:db8:1::5';
    const s6 = '2001:db8:99::9';
    assert.ok(p.sendA(tcp(c6, s6, 41000, 21, 'S', 1000, 0)));
    assert.ok(p.sendA(tcp(s6, c6, 21, 41000, 'SA', 5000, 1001)));
    assert.ok(p.sendA(tcp(c6, s6, 41000, 21, 'A', 1001, 5001)));
    assert.ok(p.sendA(tcp(s6, c6, 21, 41000, 'PA', 5001, 1001, '229 Entering Extended Passive Mode (|||50011|)\r\n')));
    const last = p.sync().at(-1)!;
    assert.equal(last.family, 6);
    assert.equal(last.expectPort, 50011);
    assert.deepEqual(last.expectSrc, parseAddress(c6).bytes, 'from the client');
    assert.deepEqual(last.expectDst, parseAddress(s6).bytes, 'to the server that announced it');
    assert.equal(p.sendB(tcp(c6, s6, 42000, 50012, 'S', 1, 0)), false, 'another port is new, dropped');
    assert.ok(p.sendB(tcp(c6, s6, 42000, 50011, 'S', 1, 0)), 'the announced data connection is related on B');
  });

  it('replicates the expectation used up: the standby drops its copy when the active node relates the data connection', () => {
    const p = pair();
    controlWithPort(p);
    p.sync();
    assert.equal(p.b.ct.expectations.count(), 1);
    assert.ok(p.sendA(tcp(S4, C4, 20, 50000, 'S', 9000, 0)), 'related on A');
    p.sync();
    assert.equal(p.b.ct.expectations.count(), 0, 'gone on B as well');
    assert.equal(p.b.ct.expectations.portOf(controlEntry(p.b)), -1);
  });

  it('bounds what a peer\'s record may expect: only between the ends of its control connection, at most the helper\'s 5 minutes, one per connection', () => {
    const p = pair();
    controlWithPort(p);
    const rec = p.sync().at(-1)!;
    const e = controlEntry(p.b);
    const refusedBefore = p.b.ct.stats.expectReplicaRefused;
    // An expectation towards a third host (a hostile or broken peer): not installed, counted.
    p.bridgeB.apply(1, { ...rec, stamp: rec.stamp + 1, expectDst: Uint8Array.of(192, 0, 2, 66) }, 0);
    assert.equal(p.b.ct.expectations.portOf(e), -1);
    assert.equal(p.b.ct.stats.expectReplicaRefused, refusedBefore + 1);
    assert.equal(p.sendB(tcp(S4, '192.0.2.66', 20, 50000, 'S', 1, 0)), false);
    // A lifetime beyond the helper's is cut to it.
    p.bridgeB.apply(1, { ...rec, stamp: rec.stamp + 2, expectMs: 10 * EXPECT_TIMEOUT_MS }, 0);
    // (The bridge applies on the sync clock, the node's datapath clock; the rig's is a counter.)
    const snap = p.b.ct.snapshot(e, new CtSnapshot(), syncClock());
    assert.equal(snap.expectPort, 50000);
    assert.ok(snap.expectMs <= EXPECT_TIMEOUT_MS, `${snap.expectMs} ms`);
    // Repeated records for one connection keep one expectation (the newest).
    for (let i = 0; i < 10; i++) p.bridgeB.apply(1, { ...rec, stamp: rec.stamp + 3 + i, expectPort: 51000 + i }, 0);
    assert.equal(p.b.ct.expectations.count(), 1);
    assert.equal(p.b.ct.expectations.portOf(e), 51009);
    // A record without an expectation (expired or used on the owner) removes it; an unknown helper is ignored.
    p.bridgeB.apply(1, { ...rec, stamp: rec.stamp + 20, helper: 1, expectPort: 0, expectMs: 0 }, 0);
    assert.equal(p.b.ct.expectations.count(), 0);
    const other = { ...rec, origSport: 40001, replyDport: 40001, stamp: rec.stamp + 21, helper: 77 };
    p.bridgeB.apply(1, other, 0);
    const o = p.b.ct.lookupTuple({ family: 4, proto: 6, zone: 0, origSrc: parseAddress(C4).bytes, origDst: parseAddress(S4).bytes, origSport: 40001, origDport: 21 });
    assert.ok(o >= 0);
    assert.equal(p.b.ct.getHelper(o), 0);
    assert.equal(p.b.ct.expectations.count(), 0);
  });

  it('installs the sequence adjustment a record carries (the helper\'s rewrites through NAT) and sends it back as it holds it', () => {
    const p = pair();
    controlWithPort(p);
    const rec = p.sync().at(-1)!;
    const e = controlEntry(p.b);
    // Original direction: a rewrite at 5000 made later segments 2 bytes shorter (-2, modulo 2^32).
    p.bridgeB.apply(1, { ...rec, stamp: rec.stamp + 1, origSeqPos: 5000, origSeqBefore: 0, origSeqAfter: 0xfffffffe }, 0);
    const adj = p.b.ct.seqAdjOf(e)!;
    assert.ok(adj !== undefined);
    assert.deepEqual([adj.set[0], adj.pos[0], adj.before[0], adj.after[0]], [1, 5000, 0, -2]);
    assert.equal(adj.set[1], 0, 'no change in the reply direction');
    const snap = p.b.ct.snapshot(e, new CtSnapshot(), syncClock());
    assert.deepEqual([snap.seqPos[0], snap.seqBefore[0], snap.seqAfter[0]], [5000, 0, -2]);
    // Adopted on takeover, the entry's record carries them (the bridge writes them modulo 2^32).
    p.b.ct.adoptReplica(e);
    const out: StateRecord[] = [];
    const ringB = new EventRing(8);
    const bridge = new SyncBridge(p.b.ct, ringB, p.b.nat);
    bridge.onEvent(1, e);
    for (let r = ringB.pop(); r !== undefined; r = ringB.pop()) out.push({ ...r });
    assert.deepEqual([out[0]!.origSeqPos, out[0]!.origSeqBefore, out[0]!.origSeqAfter, out[0]!.replySeqAfter], [5000, 0, 0xfffffffe, 0]);
  });
});

/** The strict ruleset behind masquerade: the client's PORT is rewritten to the WAN address. */
const MASQ = `table inet nat {
  chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade }
}
${RULESET}`;

describe('FTP expectations made through NAT, through state sync (failover)', () => {
  const hostPort = (p: PacketInfo, src: boolean): string =>
    `${formatAddress(p.buf, src ? p.srcOff : p.dstOff, 4)}:${src ? p.sport : p.dport}`;

  /** A's control connection behind masquerade up to the client's PORT 10.0.0.5:50000 (rewritten by A to WAN_ADDR). */
  function masqControlWithPort(p: Pair): StateRecord {
    assert.ok(p.sendA(tcp(C4, S4, 40000, 21, 'S', 1000, 0)), 'SYN to 21');
    assert.ok(p.sendA(tcp(S4, WAN_ADDR, 21, 40000, 'SA', 5000, 1001)), 'SYN-ACK to the masqueraded address');
    assert.ok(p.sendA(tcp(C4, S4, 40000, 21, 'A', 1001, 5001)), 'ACK');
    assert.ok(p.sendA(tcp(C4, S4, 40000, 21, 'PA', 1001, 5001, 'PORT 10,0,0,5,195,80\r\n')), 'PORT');
    return p.sync().at(-1)!;
  }

  it('PORT behind masquerade, then takeover: the data connection is related and translated on the new master, its port held there until then', () => {
    const p = pair(MASQ);
    const rec = masqControlWithPort(p);
    // Sent as an expectation made through NAT: expectPort 0 (a peer that does not know the NAT fields installs nothing).
    assert.equal(rec.expectPort, 0);
    assert.equal(rec.expectNatPort, 50000, 'the announced port was free on the WAN address: kept');
    assert.equal(rec.expectNatFlags, 3, 'decided by the expectation, destination translated');
    assert.deepEqual([...rec.expectDst], [198, 51, 100, 2], 'the server was told the WAN address');
    assert.deepEqual([...rec.expectSrc], [203, 0, 113, 9]);
    assert.deepEqual([...rec.expectNatDst], [10, 0, 0, 5]);
    assert.equal(rec.expectNatDport, 50000);
    const e = controlEntry(p.b);
    assert.equal(p.b.ct.expectations.portOf(e), 50000, 'installed on the standby');
    // The standby holds the port on the WAN address, as the active node does: nothing else takes it.
    assert.equal(p.b.nat.allocator.pool(4, Uint8Array.of(198, 51, 100, 2), 0, 6).take(50000), false, 'port 50000 is held on B');
    // A is gone; B forwards. The server's data connection to WAN_ADDR:50000 is related and goes to the client's own port.
    const syn = p.outB(tcp(S4, WAN_ADDR, 20, 50000, 'S', 9000, 0));
    assert.equal(syn.v, Verdict.Accept, 'related on the new master');
    assert.equal(hostPort(syn.p, false), `${C4}:50000`, 'translated to the client');
    assert.equal(hostPort(syn.p, true), `${S4}:20`);
    const synack = p.outB(tcp(C4, S4, 50000, 20, 'SA', 7000, 9001));
    assert.equal(synack.v, Verdict.Accept, 'its reply is established');
    assert.equal(hostPort(synack.p, true), `${WAN_ADDR}:50000`, 'and leaves from the address the server was told');
    assert.equal(p.sendB(tcp(S4, WAN_ADDR, 21000, 50000, 'S', 9500, 0)), false, 'used once');
  });

  it('bounds a peer\'s NAT part: translations only to ends of the control connection, a port taken here, both forms at once: refused and counted; no NAT fields: nothing installed', () => {
    const p = pair(MASQ);
    const rec = masqControlWithPort(p);
    const e = controlEntry(p.b);
    const refused = (): number => p.b.ct.stats.expectReplicaRefused;
    const before = refused();
    let stamp = rec.stamp;
    p.bridgeB.apply(1, { ...rec, stamp: ++stamp, expectNatDst: Uint8Array.of(192, 0, 2, 66) }, 0);
    assert.equal(p.b.ct.expectations.portOf(e), -1, 'a translation to a third host');
    p.bridgeB.apply(1, { ...rec, stamp: ++stamp, expectNatFlags: 7, expectNatSrc: Uint8Array.of(192, 0, 2, 67) }, 0);
    assert.equal(p.b.ct.expectations.portOf(e), -1, 'a source translation to a third host');
    p.bridgeB.apply(1, { ...rec, stamp: ++stamp, expectNatFlags: 2 }, 0);
    assert.equal(p.b.ct.expectations.portOf(e), -1, 'not decided by the expectation: not the helper\'s');
    p.bridgeB.apply(1, { ...rec, stamp: ++stamp, expectPort: 50000 }, 0);
    assert.equal(p.b.ct.expectations.portOf(e), -1, 'both forms at once');
    assert.equal(refused(), before + 4);
    // The port is taken on B (another connection holds it): refused, nothing held twice.
    const pool = p.b.nat.allocator.pool(4, Uint8Array.of(198, 51, 100, 2), 0, 6);
    assert.ok(pool.take(50001));
    p.bridgeB.apply(1, { ...rec, stamp: ++stamp, expectNatPort: 50001 }, 0);
    assert.equal(p.b.ct.expectations.portOf(e), -1);
    assert.equal(refused(), before + 5);
    // A good record again installs it; the next one replaces it and the old port is given back.
    p.bridgeB.apply(1, { ...rec, stamp: ++stamp }, 0);
    assert.equal(p.b.ct.expectations.portOf(e), 50000);
    p.bridgeB.apply(1, { ...rec, stamp: ++stamp, expectNatPort: 50002 }, 0);
    assert.equal(p.b.ct.expectations.portOf(e), 50002);
    assert.ok(pool.take(50000), 'the replaced expectation\'s port was given back');
    // As a peer that does not know the NAT fields reads the record: no expectation at all.
    p.bridgeB.apply(1, { ...rec, stamp: ++stamp, expectNatPort: 0, expectNatFlags: 0, expectNatDport: 0 }, 0);
    assert.equal(p.b.ct.expectations.count(), 0);
    assert.ok(pool.take(50002), 'and its port was given back');
  });
});
