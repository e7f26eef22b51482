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
    const r = rig(`table inet f { chain fwd { type filter hook forward priority 0; policy accept;
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
    const r = rig(`table inet f { chain fwd { type filter hook forward priority 0; policy accept;
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
    const r = rig(`table inet f { chain fwd { type filter hook forward priority 0; policy accept;
      ct direction reply ct original ip saddr 10.0.0.5 ct original proto-dst 53 ct reply ip saddr 203.0.113.9 ct reply proto-dst 5000 meta mark set 1
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
