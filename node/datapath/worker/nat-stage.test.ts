import assert from 'node:assert/strict';
import { buildIcmpError, buildTcp, buildUdp, parseBuilt } from '../../packet/build.js';
import { formatAddress, parseAddress } from '../../packet/address.js';
import { parsePacket } from '../../packet/parse.js';
import type { PacketInfo } from '../../packet/packet-info.js';
import { CtStatus } from '../../conntrack/index.js';
import { C } from '../shared/counters.js';
import { Verdict } from './stage.js';
import { SyncBridge } from './sync-bridge.js';
import { CLIENT, LAN_ADDR, LAN6_PREFIX, REMOTE, REMOTE6, WAN6_ADDR, WAN_ADDR, rig, type Rig } from './testing.js';
import { EventRing } from '../../../sync-protocol/index.js';

function src(p: PacketInfo): string {
  return `${formatAddress(p.buf, p.srcOff, p.addrLen)}:${p.sport}`;
}
function dst(p: PacketInfo): string {
  return `${formatAddress(p.buf, p.dstOff, p.addrLen)}:${p.dport}`;
}

/** Re-parses the translated bytes: fields and checksums must agree with what the stage left. */
function reparsed(p: PacketInfo): PacketInfo {
  const copy = p.buf.slice(p.l3Off, p.end);
  const q = parseBuilt(copy);
  parsePacket(q, copy, 0, copy.length, 0);
  return q;
}

/** Ones' complement sum of the IPv4 pseudo header + TCP/UDP segment: 0xffff when the checksum is right. */
function l4ChecksumOk(p: PacketInfo): boolean {
  const b = p.buf;
  let s = 0;
  for (let i = 0; i < 4; i += 2) s += (b[p.srcOff + i] << 8) | b[p.srcOff + i + 1];
  for (let i = 0; i < 4; i += 2) s += (b[p.dstOff + i] << 8) | b[p.dstOff + i + 1];
  s += p.l4proto + (p.end - p.l4Off);
  for (let i = p.l4Off; i < p.end; i += 2) s += (b[i] << 8) | (i + 1 < p.end ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
}

const MASQ = `table ip nat {
  chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade }
}
table ip filter {
  chain fw { type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan" accept
  }
}`;

describe('datapath NAT: masquerade / snat', () => {
  it('masquerades a new connection to the WAN address and translates the replies back', () => {
    const r = rig(MASQ);
    const syn = r.send(buildTcp({ src: CLIENT, dst: REMOTE, sport: 40000, dport: 80, flags: 'S', seq: 1 }));
    assert.equal(syn.v, Verdict.Accept);
    assert.equal(src(syn.p), `${WAN_ADDR}:40000`); // the original port is kept when free
    assert.equal(dst(syn.p), `${REMOTE}:80`);
    assert.ok(l4ChecksumOk(reparsed(syn.p)));
    const e = r.ct.lookupTuple({ family: 4, proto: 6, zone: 0, origSrc: parseAddress(CLIENT).bytes, origDst: parseAddress(REMOTE).bytes, origSport: 40000, origDport: 80 });
    assert.ok(e >= 0);
    assert.ok(r.ct.getStatus(e) & CtStatus.SrcNat);
    assert.equal(r.counters[C.nat_new], 1);

    const synack = r.send(buildTcp({ src: REMOTE, dst: WAN_ADDR, sport: 80, dport: 40000, flags: 'SA', seq: 100, ack: 2 }));
    assert.equal(synack.v, Verdict.Accept);
    assert.equal(src(synack.p), `${REMOTE}:80`);
    assert.equal(dst(synack.p), `${CLIENT}:40000`);
    assert.ok(l4ChecksumOk(reparsed(synack.p)));

    const ack = r.send(buildTcp({ src: CLIENT, dst: REMOTE, sport: 40000, dport: 80, flags: 'A', seq: 2, ack: 101 }));
    assert.equal(ack.v, Verdict.Accept);
    assert.equal(src(ack.p), `${WAN_ADDR}:40000`);
    assert.equal(r.counters[C.nat_new], 1, 'later packets use the stored binding');
  });

  it('gives a second client with the same source port another public port', () => {
    const r = rig(MASQ);
    const a = r.send(buildUdp({ src: CLIENT, dst: REMOTE, sport: 5000, dport: 53 }));
    const b = r.send(buildUdp({ src: '10.0.0.6', dst: REMOTE, sport: 5000, dport: 53 }));
    assert.equal(src(a.p), `${WAN_ADDR}:5000`);
    assert.equal(formatAddress(b.p.buf, b.p.srcOff, 4), WAN_ADDR);
    assert.notEqual(b.p.sport, 5000);
    const back = r.send(buildUdp({ src: REMOTE, dst: WAN_ADDR, sport: 53, dport: b.p.sport }));
    assert.equal(dst(back.p), '10.0.0.6:5000');
  });

  it('drops (and counts) a new connection when the port range is exhausted, and reuses ports after destroy', () => {
    const r = rig(`table ip nat { chain post { type nat hook postrouting priority srcnat; oifname "wan" meta l4proto udp snat to 198.51.100.1:2000-2001 } }`);
    const ok1 = r.send(buildUdp({ src: CLIENT, dst: REMOTE, sport: 7001, dport: 53 }));
    const ok2 = r.send(buildUdp({ src: CLIENT, dst: REMOTE, sport: 7002, dport: 53 }));
    assert.deepEqual([ok1.v, ok2.v], [Verdict.Accept, Verdict.Accept]);
    assert.deepEqual([ok1.p.sport, ok2.p.sport].sort(), [2000, 2001]);
    const third = r.send(buildUdp({ src: CLIENT, dst: REMOTE, sport: 7003, dport: 53 }));
    assert.equal(third.v, Verdict.Drop);
    assert.equal(r.counters[C.nat_exhausted_drops], 1);
    assert.equal(r.ct.count(), 2, 'the dropped connection is not tracked');
    r.ct.flush(); // Destroy events release the ports
    assert.equal(r.nat.allocator.stats.released, 2);
    const again = r.send(buildUdp({ src: CLIENT, dst: REMOTE, sport: 7003, dport: 53 }));
    assert.equal(again.v, Verdict.Accept);
    assert.equal(src(again.p).split(':')[0], '198.51.100.1');
  });

  it('translates an ICMP error quoting a masqueraded packet back to the client', () => {
    const r = rig(MASQ);
    const out = r.send(buildUdp({ src: CLIENT, dst: REMOTE, sport: 6000, dport: 33434 }));
    const quote = out.p.buf.slice(out.p.l3Off, out.p.end);
    const err = r.send(buildIcmpError({ src: REMOTE, dst: WAN_ADDR, type: 3, code: 3, quote }));
    assert.equal(err.v, Verdict.Accept);
    assert.equal(formatAddress(err.p.buf, err.p.dstOff, 4), CLIENT);
    const q = parseBuilt(err.p.buf.slice(err.p.icmpInnerOff, err.p.end));
    assert.equal(src(q), `${CLIENT}:6000`);
    assert.equal(r.counters[C.nat_translated], 1);
  });

  it('runs the nat chain for the first packet of a connection only', () => {
    const r = rig(`table ip nat { chain post { type nat hook postrouting priority srcnat; counter oifname "wan" masquerade } }`);
    for (let i = 0; i < 3; i++) r.send(buildTcp({ src: CLIENT, dst: REMOTE, sport: 40001, dport: 80, flags: i === 0 ? 'S' : 'A', seq: 1 }));
    const handle = (r.engine.toJSON().nftables.find((x) => 'rule' in x) as { rule: { handle: number } }).rule.handle;
    assert.equal(r.engine.compiled.counters('ip', 'nat', handle)![0]!.packets, 1);
  });
});

describe('datapath NAT: dnat', () => {
  const DNAT = `table ip nat {
    chain pre { type nat hook prerouting priority dstnat; iifname "wan" tcp dport 8080 dnat to 10.0.0.100:5002 }
  }
  table ip filter {
    chain fw { type filter hook forward priority 0; policy drop;
      ct state established,related accept
      oifname "lan" ip daddr 10.0.0.100 tcp dport 5002 accept
    }
  }`;

  it('forwards a WAN port to an inside service; the forward chain sees the new destination and egress interface', () => {
    const r = rig(DNAT);
    const syn = r.send(buildTcp({ src: REMOTE, dst: WAN_ADDR, sport: 5555, dport: 8080, flags: 'S', seq: 1 }));
    assert.equal(syn.v, Verdict.Accept);
    assert.equal(dst(syn.p), '10.0.0.100:5002');
    assert.equal(src(syn.p), `${REMOTE}:5555`);
    assert.ok(l4ChecksumOk(reparsed(syn.p)));
    const synack = r.send(buildTcp({ src: '10.0.0.100', dst: REMOTE, sport: 5002, dport: 5555, flags: 'SA', seq: 9, ack: 2 }));
    assert.equal(synack.v, Verdict.Accept);
    assert.equal(src(synack.p), `${WAN_ADDR}:8080`);
    assert.ok(l4ChecksumOk(reparsed(synack.p)));
    // Another port is not forwarded and the filter drops it.
    assert.equal(r.send(buildTcp({ src: REMOTE, dst: WAN_ADDR, sport: 5556, dport: 8081, flags: 'S' })).v, Verdict.Drop);
  });

  it('the forward chain of the first packet sees ct status dnat', () => {
    const r = rig(`table ip nat {
      chain pre { type nat hook prerouting priority dstnat; iifname "wan" tcp dport 8080 dnat to 10.0.0.100:5002 }
    }
    table ip filter { chain fw { type filter hook forward priority 0; policy drop; ct status dnat accept } }`);
    assert.equal(r.send(buildTcp({ src: REMOTE, dst: WAN_ADDR, sport: 5557, dport: 8080, flags: 'S' })).v, Verdict.Accept);
    assert.equal(r.send(buildTcp({ src: REMOTE, dst: WAN_ADDR, sport: 5558, dport: 8081, flags: 'S' })).v, Verdict.Drop);
  });

  it('redirect sends a connection to the ingress interface address and port', () => {
    const r = rig(`table ip nat { chain pre { type nat hook prerouting priority dstnat; iifname "lan" udp dport 53 redirect to :5353 } }`);
    const q = r.send(buildUdp({ src: CLIENT, dst: '192.0.2.53', sport: 4444, dport: 53 }));
    assert.equal(dst(q.p), `${LAN_ADDR}:5353`);
  });
});

describe('datapath NAT: concatenated NAT maps (address and port from one lookup)', () => {
  it('dnat ip to ip daddr . tcp dport map: translates address and port of the connection and both back in its replies', () => {
    const r = rig(`table ip nat {
      chain pre { type nat hook prerouting priority dstnat; dnat ip to ip daddr . tcp dport map { ${WAN_ADDR} . 80 : 10.0.0.100 . 8080, ${WAN_ADDR} . 443 : 10.0.0.101 . 8443 } }
    }`);
    const a = r.send(buildTcp({ src: REMOTE, dst: WAN_ADDR, sport: 6001, dport: 80, flags: 'S', seq: 1 }));
    assert.equal(dst(a.p), '10.0.0.100:8080');
    assert.ok(l4ChecksumOk(reparsed(a.p)));
    const b = r.send(buildTcp({ src: REMOTE, dst: WAN_ADDR, sport: 6002, dport: 443, flags: 'S', seq: 1 }));
    assert.equal(dst(b.p), '10.0.0.101:8443');
    const reply = r.send(buildTcp({ src: '10.0.0.100', dst: REMOTE, sport: 8080, dport: 6001, flags: 'SA', seq: 9, ack: 2 }));
    assert.equal(reply.v, Verdict.Accept);
    assert.equal(src(reply.p), `${WAN_ADDR}:80`);
    assert.ok(l4ChecksumOk(reparsed(reply.p)));
    // No element: no translation.
    assert.equal(dst(r.send(buildTcp({ src: REMOTE, dst: WAN_ADDR, sport: 6003, dport: 22, flags: 'S' })).p), `${WAN_ADDR}:22`);
  });

  it('snat ip to ip saddr . tcp dport map: the source becomes the mapped address and port, replies go back to the client', () => {
    const r = rig(`table ip nat {
      chain post { type nat hook postrouting priority srcnat; snat ip to ip saddr . tcp dport map { ${CLIENT} . 80 : ${WAN_ADDR} . 20080 } }
    }`);
    const a = r.send(buildTcp({ src: CLIENT, dst: REMOTE, sport: 5000, dport: 80, flags: 'S', seq: 1 }));
    assert.equal(src(a.p), `${WAN_ADDR}:20080`);
    assert.ok(l4ChecksumOk(reparsed(a.p)));
    const reply = r.send(buildTcp({ src: REMOTE, dst: WAN_ADDR, sport: 80, dport: 20080, flags: 'SA', seq: 9, ack: 2 }));
    assert.equal(dst(reply.p), `${CLIENT}:5000`);
  });

  it('dnat ip6 to ip6 daddr . tcp dport map: IPv6 address and port, and back', () => {
    const r = rig(`table ip6 nat {
      chain pre { type nat hook prerouting priority dstnat; dnat ip6 to ip6 daddr . tcp dport map { ${WAN6_ADDR} . 80 : ${LAN6_PREFIX}100 . 8080 } }
    }`);
    const a = r.send(buildTcp({ src: REMOTE6, dst: WAN6_ADDR, sport: 6001, dport: 80, flags: 'S', seq: 1 }));
    assert.equal(a.v, Verdict.Accept);
    assert.equal(dst(a.p), `${LAN6_PREFIX}100:8080`);
    const reply = r.send(buildTcp({ src: `${LAN6_PREFIX}100`, dst: REMOTE6, sport: 8080, dport: 6001, flags: 'SA', seq: 9, ack: 2 }));
    assert.equal(src(reply.p), `${WAN6_ADDR}:80`);
  });
});

describe('datapath NAT: state sync', () => {
  /** An active/standby pair sharing the SNAT address; records go A -> B through a ring. */
  function pair(): { a: Rig; b: Rig; ring: EventRing; bridgeB: SyncBridge; sendA(p: Uint8Array): { v: Verdict; p: PacketInfo } } {
    const ruleset = `table ip nat { chain post { type nat hook postrouting priority srcnat; oifname "wan" snat to 198.51.100.1 } }`;
    const a = rig(ruleset);
    const b = rig(ruleset);
    const ring = new EventRing(64);
    const bridgeA = new SyncBridge(a.ct, ring, a.nat);
    // The bridge must see Destroy before NatState releases the port: chain as the worker does.
    a.ct.onEvent = (k, e) => bridgeA.onEvent(k, e);
    a.nat.attach(a.ct);
    const bridgeB = new SyncBridge(b.ct, new EventRing(64), b.nat);
    return {
      a, b, ring, bridgeB,
      sendA(p) {
        bridgeA.local = true;
        try {
          return a.send(p);
        } finally {
          bridgeA.local = false;
        }
      },
    };
  }

  it('sends the binding with the entry and installs it on the standby, which then translates both ways', () => {
    const { b, ring, bridgeB, sendA } = pair();
    const out = sendA(buildUdp({ src: CLIENT, dst: REMOTE, sport: 7100, dport: 53 }));
    assert.equal(src(out.p), '198.51.100.1:7100');
    let recs = 0;
    for (let rec = ring.pop(); rec !== undefined; rec = ring.pop()) {
      assert.deepEqual(rec.nat && { kind: rec.nat.kind, addr: [...rec.nat.addr], port: rec.nat.port }, { kind: 1, addr: [198, 51, 100, 1], port: 7100 });
      bridgeB.apply(1, rec, 0);
      recs++;
    }
    assert.ok(recs >= 1);
    assert.equal(b.nat.counts.replicated, recs);
    // The port is held on the standby: its own new connection from elsewhere cannot take it.
    const pool = b.nat.allocator.findPool(4, parseAddress('198.51.100.1').bytes, 0, 17)!;
    assert.ok(pool.isTaken(7100));
    // Takeover: the reply reaches B, which translates it from the replicated binding.
    const back = b.send(buildUdp({ src: REMOTE, dst: '198.51.100.1', sport: 53, dport: 7100 }));
    assert.equal(back.v, Verdict.Accept);
    assert.equal(dst(back.p), `${CLIENT}:7100`);
    const again = b.send(buildUdp({ src: CLIENT, dst: REMOTE, sport: 7100, dport: 53 }));
    assert.equal(src(again.p), '198.51.100.1:7100');
    assert.equal(b.counters[C.nat_new], 0, 'no new binding was made on the standby');
  });

  it('a replicated Destroy releases the standby port', () => {
    const { a, b, ring, bridgeB, sendA } = pair();
    sendA(buildUdp({ src: CLIENT, dst: REMOTE, sport: 7200, dport: 53 }));
    a.ct.flush();
    for (let rec = ring.pop(); rec !== undefined; rec = ring.pop()) bridgeB.apply(1, rec, 0);
    const pool = b.nat.allocator.findPool(4, parseAddress('198.51.100.1').bytes, 0, 17)!;
    assert.equal(pool.isTaken(7200), false);
    assert.equal(b.ct.count(), 0);
  });
});

describe('datapath NAT: offline replay', () => {
  it('translates with the ruleset of a replay (dnat), so its rows show the translated flow as one connection', async () => {
    const { OfflineReplay } = await import('../control/replay.js');
    const r = new OfflineReplay({
      ruleset: `table ip nat { chain pre { type nat hook prerouting priority dstnat; tcp dport 8080 dnat to 10.0.0.100:5002 } }`,
      routes: [{ prefix: '10.0.0.0/24', ifname: 'lan' }, { prefix: '0.0.0.0/0', ifname: 'wan' }],
    });
    const rows = [
      r.feed(buildTcp({ src: REMOTE, dst: WAN_ADDR, sport: 5555, dport: 8080, flags: 'S', seq: 1 }), 0),
      r.feed(buildTcp({ src: '10.0.0.100', dst: REMOTE, sport: 5002, dport: 5555, flags: 'SA', seq: 9, ack: 2 }), 1),
    ];
    assert.deepEqual(rows.map((x) => [x.verdict, x.ct]), [['accept', 'new'], ['accept', 'established']]);
  });
});
