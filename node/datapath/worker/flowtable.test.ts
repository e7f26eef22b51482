import assert from 'node:assert/strict';
import { buildIcmpError, buildTcp, buildUdp } from '../../packet/build.js';
import { formatAddress, parseAddress } from '../../packet/address.js';
import type { PacketInfo } from '../../packet/packet-info.js';
import { CtStatus, TcpState, runCtOp } from '../../conntrack/index.js';
import { EventRing } from '../../../sync-protocol/index.js';
import { C } from '../shared/counters.js';
import { Verdict } from './stage.js';
import { SyncBridge } from './sync-bridge.js';
import { CLIENT, REMOTE, REMOTE6, WAN6_ADDR, WAN_ADDR, rig, type Rig } from './testing.js';

/** Flowtables on the datapath (ruleset/flowtables.ts, filter-stage.ts's fast path). */
const RULESET = (devices: string): string => `table inet filter {
  flowtable f {
    hook ingress priority filter
    devices = { ${devices} }
  }
  chain fw {
    type filter hook forward priority filter; policy drop;
    meta l4proto { tcp, udp } flow add @f
    ct state established,related counter accept
    iifname "lan" accept
  }
}
table inet nat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade
  }
}`;

const FAMILIES = [
  { name: 'IPv4', client: CLIENT, remote: REMOTE, wan: WAN_ADDR },
  { name: 'IPv6', client: '2001:db8:1::5', remote: REMOTE6, wan: WAN6_ADDR },
];

function addr(p: PacketInfo, off: number): string {
  return formatAddress(p.buf, off, p.addrLen);
}

/** The packets of the established rule's counter, from the listing. */
function establishedCount(r: Rig): number {
  const m = /ct state established,related counter packets (\d+)/.exec(r.engine.list());
  assert.ok(m, r.engine.list());
  return Number(m[1]);
}

function entryOf(r: Rig, f: (typeof FAMILIES)[number], sport: number, dport: number, proto = 6): number {
  const fam = f.client.includes(':') ? 6 : 4;
  return r.ct.lookupTuple({ family: fam, proto, zone: 0, origSrc: parseAddress(f.client).bytes, origDst: parseAddress(f.remote).bytes, origSport: sport, origDport: dport });
}

/** SYN, SYN-ACK (to the masqueraded address), ACK: the ACK's `flow add` offloads the connection. */
function handshake(r: Rig, f: (typeof FAMILIES)[number], sport: number): void {
  assert.equal(r.send(buildTcp({ src: f.client, dst: f.remote, sport, dport: 80, flags: 'S', seq: 1 })).v, Verdict.Accept);
  assert.equal(r.send(buildTcp({ src: f.remote, dst: f.wan, sport: 80, dport: sport, flags: 'SA', seq: 100, ack: 2 })).v, Verdict.Accept);
  assert.equal(r.send(buildTcp({ src: f.client, dst: f.remote, sport, dport: 80, flags: 'A', seq: 2, ack: 101 })).v, Verdict.Accept);
}

describe('flowtables: the datapath fast path', () => {
  for (const f of FAMILIES) {
    it(`${f.name}: an offloaded TCP connection skips the rules (a drop rule added later does not see it), keeps its NAT both ways, and a FIN gives it back to the slow path`, () => {
      const r = rig(RULESET('lan, wan'));
      handshake(r, f, 40000);
      const e = entryOf(r, f, 40000, 80);
      assert.ok(e >= 0);
      assert.equal(r.ct.getTcpState(e), TcpState.Established);
      assert.ok(r.ct.getStatus(e) & CtStatus.Offload, 'the established ACK offloaded it');
      assert.equal(r.counters[C.flow_offloaded], 1);
      assert.deepEqual(runCtOp(r.ct, { op: 'get', id: e }).entries[0]?.status, ['seen-reply', 'assured', 'confirmed', 'snat', 'offload'], 'hafw ct list shows it (conntrack -L: [OFFLOAD])');
      const counted = establishedCount(r);
      // nft(8) FLOWTABLES: offloaded packets bypass the classic forwarding path, so rules
      // added now are never evaluated for them.
      r.engine.transaction(`insert rule inet filter fw meta l4proto { tcp, udp } drop`);
      const data = r.send(buildTcp({ src: f.client, dst: f.remote, sport: 40000, dport: 80, flags: 'A', seq: 2, ack: 101, payload: 100 }));
      assert.equal(data.v, Verdict.Accept, 'forwarded on the fast path');
      assert.equal(addr(data.p, data.p.srcOff), f.wan, 'masqueraded on the fast path');
      const back = r.send(buildTcp({ src: f.remote, dst: f.wan, sport: 80, dport: 40000, flags: 'A', seq: 101, ack: 102 }));
      assert.equal(back.v, Verdict.Accept, 'the reply direction too');
      assert.equal(addr(back.p, back.p.dstOff), f.client, 'the reply is translated back on the fast path');
      assert.equal(r.counters[C.flow_fastpath], 2);
      assert.equal(establishedCount(r), counted, 'no rule counted the fast-path packets');
      // A new connection is evaluated: the drop rule now applies to it.
      assert.equal(r.send(buildTcp({ src: f.client, dst: f.remote, sport: 40001, dport: 80, flags: 'S', seq: 1 })).v, Verdict.Drop);
      // The FIN tears the flow down and is itself evaluated by the rules (which drop it now).
      const fin = r.send(buildTcp({ src: f.client, dst: f.remote, sport: 40000, dport: 80, flags: 'FA', seq: 102, ack: 101 }));
      assert.equal(fin.v, Verdict.Drop, 'the FIN took the slow path');
      assert.equal(r.counters[C.flow_teardown], 1);
      assert.equal(r.ct.getStatus(e) & CtStatus.Offload, 0, 'no longer offloaded');
      assert.equal(r.ct.getTcpState(e), TcpState.FinWait, 'conntrack saw the FIN');
      assert.equal(r.send(buildTcp({ src: f.remote, dst: f.wan, sport: 80, dport: 40000, flags: 'A', seq: 101, ack: 103 })).v, Verdict.Drop, 'later packets are evaluated again');
    });

    it(`${f.name}: UDP is offloaded once the connection is confirmed; the first packet never is`, () => {
      const r = rig(RULESET('lan, wan'));
      assert.equal(r.send(buildUdp({ src: f.client, dst: f.remote, sport: 5000, dport: 53 })).v, Verdict.Accept);
      assert.equal(r.counters[C.flow_offloaded], 0, 'the first packet is not confirmed yet (the kernel skips it too)');
      const back = r.send(buildUdp({ src: f.remote, dst: f.wan, sport: 53, dport: 5000 }));
      assert.equal(back.v, Verdict.Accept);
      assert.equal(r.counters[C.flow_offloaded], 1);
      r.engine.transaction(`insert rule inet filter fw drop`);
      const again = r.send(buildUdp({ src: f.client, dst: f.remote, sport: 5000, dport: 53 }));
      assert.equal(again.v, Verdict.Accept);
      assert.equal(addr(again.p, again.p.srcOff), f.wan);
      assert.equal(r.counters[C.flow_fastpath], 1);
    });
  }

  it('offloads only connections whose in and out interfaces are both among the devices', () => {
    const r = rig(RULESET('lan'));
    handshake(r, FAMILIES[0]!, 40000);
    assert.equal(r.counters[C.flow_offloaded], 0, 'wan is not a device of the flowtable');
    r.engine.transaction(`insert rule inet filter fw drop`);
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: REMOTE, sport: 40000, dport: 80, flags: 'A', seq: 2, ack: 101 })).v, Verdict.Drop);
  });

  it('a packet a later rule drops does not offload its connection (hafw offloads accepted packets only)', () => {
    const r = rig(RULESET('lan, wan').replace('ct state established,related counter accept', 'tcp flags ack tcp dport 80 drop\n    ct state established,related counter accept'));
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: REMOTE, sport: 40000, dport: 80, flags: 'S', seq: 1 })).v, Verdict.Accept);
    assert.equal(r.send(buildTcp({ src: REMOTE, dst: WAN_ADDR, sport: 80, dport: 40000, flags: 'SA', seq: 100, ack: 2 })).v, Verdict.Accept);
    // The ACK makes the connection ESTABLISHED and runs `flow add`, then the next rule drops it.
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: REMOTE, sport: 40000, dport: 80, flags: 'A', seq: 2, ack: 101 })).v, Verdict.Drop);
    assert.equal(r.counters[C.flow_offloaded], 0);
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: REMOTE, sport: 40000, dport: 80, flags: 'A', seq: 2, ack: 101 })).v, Verdict.Drop, 'still evaluated');
  });

  it('an ICMP error about an offloaded connection is evaluated by the rules (related) and leaves the flow offloaded', () => {
    const r = rig(RULESET('lan, wan'));
    handshake(r, FAMILIES[0]!, 40000);
    const e = entryOf(r, FAMILIES[0]!, 40000, 80);
    const data = r.send(buildTcp({ src: CLIENT, dst: REMOTE, sport: 40000, dport: 80, flags: 'A', seq: 2, ack: 101, payload: 100 }));
    const quote = data.p.buf.slice(data.p.l3Off, data.p.end);
    r.engine.transaction(`insert rule inet filter fw ct state related counter drop`);
    const err = r.send(buildIcmpError({ src: REMOTE, dst: WAN_ADDR, type: 3, code: 4, rest: 1400, quote }));
    assert.equal(err.v, Verdict.Drop, 'the slow path: the new related rule dropped it');
    assert.ok(r.ct.getStatus(e) & CtStatus.Offload, 'still offloaded');
    assert.equal(r.counters[C.flow_teardown], 0);
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: REMOTE, sport: 40000, dport: 80, flags: 'A', seq: 102, ack: 101 })).v, Verdict.Accept);
    assert.equal(r.counters[C.flow_fastpath], 2);
  });

  it('deleting the flowtable gives its flows back to the slow path', () => {
    const r = rig(RULESET('lan, wan'));
    handshake(r, FAMILIES[0]!, 40000);
    assert.equal(r.counters[C.flow_offloaded], 1);
    r.engine.transaction(`delete rule inet filter fw handle 4\ndelete flowtable inet filter f\ninsert rule inet filter fw drop`);
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: REMOTE, sport: 40000, dport: 80, flags: 'A', seq: 2, ack: 101 })).v, Verdict.Drop);
    assert.equal(r.counters[C.flow_teardown], 1);
  });

  it('replication is unaffected: the entry is still sent to the standby, without the offload bit, and the FIN that ends the offload updates it', () => {
    const a = rig(RULESET('lan, wan'));
    const b = rig(RULESET('lan, wan'));
    const ring = new EventRing(64);
    const bridgeA = new SyncBridge(a.ct, ring, a.nat);
    a.ct.onEvent = (k, e) => bridgeA.onEvent(k, e);
    a.nat.attach(a.ct);
    const bridgeB = new SyncBridge(b.ct, new EventRing(64), b.nat);
    const sendA = (p: Uint8Array): Verdict => {
      bridgeA.local = true;
      try {
        return a.send(p).v;
      } finally {
        bridgeA.local = false;
      }
    };
    const drain = (): number => {
      let n = 0;
      for (let rec = ring.pop(); rec !== undefined; rec = ring.pop(), n++) {
        assert.equal(rec.status & CtStatus.Offload, 0, 'the offload bit is never replicated');
        bridgeB.apply(1, rec, 0);
      }
      return n;
    };
    const f = FAMILIES[0]!;
    assert.equal(sendA(buildTcp({ src: f.client, dst: f.remote, sport: 40000, dport: 80, flags: 'S', seq: 1 })), Verdict.Accept);
    assert.equal(sendA(buildTcp({ src: f.remote, dst: f.wan, sport: 80, dport: 40000, flags: 'SA', seq: 100, ack: 2 })), Verdict.Accept);
    assert.equal(sendA(buildTcp({ src: f.client, dst: f.remote, sport: 40000, dport: 80, flags: 'A', seq: 2, ack: 101 })), Verdict.Accept);
    assert.ok(drain() >= 1);
    assert.ok(a.ct.getStatus(entryOf(a, f, 40000, 80)) & CtStatus.Offload);
    const eb = entryOf(b, f, 40000, 80);
    assert.ok(eb >= 0, 'the standby holds the offloaded connection');
    assert.equal(b.ct.getTcpState(eb), TcpState.Established);
    assert.equal(b.ct.getStatus(eb) & CtStatus.Offload, 0);
    assert.equal(sendA(buildTcp({ src: f.client, dst: f.remote, sport: 40000, dport: 80, flags: 'FA', seq: 2, ack: 101 })), Verdict.Accept);
    assert.ok(drain() >= 1, 'the FIN (slow path again) is replicated');
    assert.equal(b.ct.getTcpState(eb), TcpState.FinWait);
  });

  it('a connection with a conntrack helper is never offloaded (nft_flow_offload_eval skips it): its FTP 227 through the masquerade still opens the data connection', () => {
    // The data connection is accepted only as related: the helper must read the 227.
    const rs = RULESET('lan, wan')
      .replace('table inet filter {', 'table inet filter {\n  ct helper ftp-std { type "ftp" protocol tcp; }\n  chain pre { type filter hook prerouting priority filter; policy accept; tcp dport 21 ct helper set "ftp-std"; }')
      .replace('iifname "lan" accept', 'iifname "lan" tcp dport 21 accept');
    const r = rig(rs);
    const f = FAMILIES[0]!;
    assert.equal(r.send(buildTcp({ src: f.client, dst: f.remote, sport: 40000, dport: 21, flags: 'S', seq: 1000 })).v, Verdict.Accept);
    assert.equal(r.send(buildTcp({ src: f.remote, dst: f.wan, sport: 21, dport: 40000, flags: 'SA', seq: 5000, ack: 1001 })).v, Verdict.Accept);
    assert.equal(r.send(buildTcp({ src: f.client, dst: f.remote, sport: 40000, dport: 21, flags: 'A', seq: 1001, ack: 5001 })).v, Verdict.Accept);
    const e = entryOf(r, f, 40000, 21);
    assert.equal(r.ct.getTcpState(e), TcpState.Established);
    assert.equal(r.ct.getStatus(e) & CtStatus.Offload, 0, 'the control connection stays on the slow path');
    assert.equal(r.counters[C.flow_offloaded], 0);
    assert.equal(r.send(buildTcp({ src: f.client, dst: f.remote, sport: 40000, dport: 21, flags: 'PA', seq: 1001, ack: 5001, payload: 'PASV\r\n' })).v, Verdict.Accept);
    assert.equal(r.send(buildTcp({ src: f.remote, dst: f.wan, sport: 21, dport: 40000, flags: 'PA', seq: 5001, ack: 1007, payload: '227 Entering Passive Mode (203,0,113,9,195,90).\r\n' })).v, Verdict.Accept);
    assert.equal(r.counters[C.flow_fastpath], 0);
    assert.equal(r.send(buildTcp({ src: f.client, dst: f.remote, sport: 40001, dport: 50010, flags: 'S', seq: 3000 })).v, Verdict.Accept, 'the announced data connection is related');
    assert.equal(r.send(buildTcp({ src: f.client, dst: f.remote, sport: 40002, dport: 50011, flags: 'S', seq: 3000 })).v, Verdict.Drop, 'another port is not');
    // The data connection itself has no helper: it is offloaded as any other.
    assert.equal(r.send(buildTcp({ src: f.remote, dst: f.wan, sport: 50010, dport: 40001, flags: 'SA', seq: 7000, ack: 3001 })).v, Verdict.Accept);
    assert.equal(r.send(buildTcp({ src: f.client, dst: f.remote, sport: 40001, dport: 50010, flags: 'A', seq: 3001, ack: 7001 })).v, Verdict.Accept);
    assert.equal(r.counters[C.flow_offloaded], 1, 'the data connection is offloaded');
  });
});
