import assert from 'node:assert/strict';
import { buildUdp, parseBuilt } from '../../packet/build.js';
import { RulesetEngine } from '../../ruleset/index.js';
import { ConnTracker } from '../../conntrack/index.js';
import { COUNTER_NAMES } from '../shared/counters.js';
import { FilterStage } from './filter-stage.js';
import { LocalAddresses } from './local-addresses.js';
import { RouteInterfaces } from './route-interfaces.js';
import { Verdict } from './stage.js';
import { CLIENT, REMOTE, rig } from './testing.js';

describe('FilterStage: what conntrack gives the rules', () => {
  it('ct direction: the first packet and the client\'s are original, the server\'s answers reply', () => {
    const r = rig(`table inet f { chain fw { type filter hook forward priority 0; policy accept;
      ct direction reply udp sport 53 meta mark set 2 counter drop
    } }`);
    const out = buildUdp({ src: CLIENT, dst: REMOTE, sport: 5000, dport: 53 });
    const back = buildUdp({ src: REMOTE, dst: CLIENT, sport: 53, dport: 5000 });
    assert.equal(r.send(out).v, Verdict.Accept);
    assert.equal(r.send(back).v, Verdict.Drop, 'the answer is the reply direction');
    assert.equal(r.send(out).v, Verdict.Accept, 'the client\'s next packet is original again');
    // A packet from the server's port that belongs to no connection is new, so original.
    assert.equal(r.send(buildUdp({ src: REMOTE, dst: CLIENT, sport: 53, dport: 6000 })).v, Verdict.Accept);
  });
});

describe('FilterStage: connmark save and restore', () => {
  it('ct mark set meta mark keeps the mark in the conntrack entry; meta mark set ct mark gives it to the reply', () => {
    const r = rig(`table inet f { chain fw { type filter hook forward priority 0; policy accept;
      ct state new udp dport 53 meta mark set 0x2a ct mark set meta mark
      ct state established meta mark set ct mark
      ct state established udp sport 53 meta mark 0x2a drop
    } }`);
    const out = buildUdp({ src: CLIENT, dst: REMOTE, sport: 5000, dport: 53 });
    const back = buildUdp({ src: REMOTE, dst: CLIENT, sport: 53, dport: 5000 });
    assert.equal(r.send(out).v, Verdict.Accept);
    let entry = -1;
    r.ct.forEach((e) => (entry = e));
    assert.equal(r.ct.getMark(entry), 0x2a, 'saved in the entry (which the sync replicates)');
    assert.equal(r.send(back).v, Verdict.Drop, 'the reply got the connection\'s mark back');
    const other = buildUdp({ src: REMOTE, dst: CLIENT, sport: 53, dport: 5001 });
    assert.equal(r.send(other).v, Verdict.Accept, 'a packet of no marked connection keeps mark 0');
  });
});

describe('FilterStage: the conntrack entry the rules read', () => {
  it('ct original / reply tuples and ct expiration come from the packet\'s entry', () => {
    const r = rig(`table inet f { chain fw { type filter hook forward priority 0; policy accept;
      meta l4proto udp ct direction reply ct original ip saddr 10.0.0.5 ct original proto-dst 53 ct reply ip saddr 203.0.113.9 ct reply proto-dst 5000 meta mark set 1
      meta mark 1 ct expiration > 10s ct expiration <= 30s drop
    } }`);
    const out = buildUdp({ src: CLIENT, dst: REMOTE, sport: 5000, dport: 53 });
    const back = buildUdp({ src: REMOTE, dst: CLIENT, sport: 53, dport: 5000 });
    assert.equal(r.send(out).v, Verdict.Accept);
    // The reply: the entry's tuples match, and a UDP entry has its 30 s timeout (less 1 ms).
    assert.equal(r.send(back).v, Verdict.Drop);
    // Another connection's reply does not match the first one's tuple.
    assert.equal(r.send(buildUdp({ src: CLIENT, dst: REMOTE, sport: 5001, dport: 53 })).v, Verdict.Accept);
    assert.equal(r.send(buildUdp({ src: REMOTE, dst: CLIENT, sport: 53, dport: 5001 })).v, Verdict.Accept);
  });
});

describe('FilterStage: fib daddr type local', () => {
  it('the node\'s own addresses (LocalAddresses) are local to the rules', () => {
    const engine = new RulesetEngine();
    engine.load(`table inet f { chain pre { type filter hook prerouting priority 0; policy accept;
      fib daddr type local udp dport 9 drop
    } }`);
    const local = new LocalAddresses();
    local.load([{ ifname: 'wan', family: 4, bytes: [198, 51, 100, 2], vip: false }]);
    const stage = new FilterStage(engine, new ConnTracker({ maxEntries: 64, now: () => 1 }), new RouteInterfaces(), new Float64Array(COUNTER_NAMES.length), undefined, undefined, local);
    const send = (dst: string) => stage.process(parseBuilt(buildUdp({ src: REMOTE, dst, sport: 1, dport: 9 })), 1);
    assert.equal(send('198.51.100.2'), Verdict.Drop);
    assert.equal(send('198.51.100.3'), Verdict.Accept);
  });
});

describe('FilterStage: fib against the node\'s routes and addresses', () => {
  it('IPv4 and IPv6: a source with no route back is dropped (loose reverse path), a routed one passes; the route to the destination and its type', () => {
    const engine = new RulesetEngine();
    engine.load(`table inet f {
      chain pre { type filter hook prerouting priority 0; policy accept;
        fib saddr oif missing counter drop
        fib daddr . iif type local udp dport 7 drop
      }
      chain fw { type filter hook forward priority 0; policy accept;
        fib daddr . iif oif missing udp dport 8 drop
      }
    }`);
    const routes = new RouteInterfaces();
    const id = (n: string) => engine.ifnames.idOf(n);
    const p4 = (s: string) => Uint8Array.from(s.split('.').map(Number));
    const p6 = (hi: number) => Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, hi, ...new Array(10).fill(0)]);
    routes.load([
      { family: 4, prefix: p4('192.0.2.0'), len: 24, ifId: id('lan') },
      { family: 4, prefix: p4('198.51.100.0'), len: 24, ifId: id('wan') },
      { family: 4, prefix: p4('0.0.0.0'), len: 0, ifId: id('wan') },
      { family: 4, prefix: p4('203.0.113.0'), len: 24, ifId: 0, reject: true },
      { family: 6, prefix: p6(1), len: 64, ifId: id('lan') },
      { family: 6, prefix: p6(2), len: 64, ifId: id('wan') },
      { family: 6, prefix: p6(0xde), len: 64, ifId: 0, reject: true },
    ]);
    const local = new LocalAddresses();
    local.load([
      { ifname: 'lan', family: 4, bytes: [192, 0, 2, 2], vip: false },
      { ifname: 'wan', family: 4, bytes: [198, 51, 100, 2], vip: false },
      { ifname: 'lan', family: 6, bytes: [...p6(1)].map((b, i) => (i === 15 ? 2 : b)), vip: false },
    ]);
    const stage = new FilterStage(engine, new ConnTracker({ maxEntries: 64, now: () => 1 }), routes, new Float64Array(COUNTER_NAMES.length), undefined, undefined, local);
    let sport = 1000;
    const send = (src: string, dst: string, dport = 9) => stage.process(parseBuilt(buildUdp({ src, dst, sport: sport++, dport })), 1);
    assert.equal(send('203.0.113.5', '192.0.2.10'), Verdict.Drop, 'blackholed source: no route back');
    assert.equal(send('198.51.100.5', '192.0.2.10'), Verdict.Accept);
    assert.equal(send('2001:db8:de::5', '2001:db8:1::10'), Verdict.Drop);
    assert.equal(send('2001:db8:2::5', '2001:db8:1::10'), Verdict.Accept);
    // From lan, to lan's own address (input interface's) or to wan's.
    assert.equal(send('192.0.2.10', '192.0.2.2', 7), Verdict.Drop);
    assert.equal(send('192.0.2.10', '198.51.100.2', 7), Verdict.Accept);
    assert.equal(send('2001:db8:1::10', '2001:db8:1::2', 7), Verdict.Drop);
    // Forwarded: only a destination back out of the input interface (lan to lan) passes the hairpin check.
    assert.equal(send('192.0.2.10', '198.51.100.7', 8), Verdict.Drop);
    assert.equal(send('192.0.2.10', '192.0.2.77', 8), Verdict.Accept);
    assert.equal(send('2001:db8:1::10', '2001:db8:2::7', 8), Verdict.Drop);
  });
});
