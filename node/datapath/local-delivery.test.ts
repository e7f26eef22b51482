import assert from 'node:assert/strict';
import { buildTcp, buildUdp, parseBuilt } from '../packet/build.js';
import { parseAddress, parsePrefix } from '../packet/address.js';
import { RulesetEngine } from '../ruleset/index.js';
import { ConnTracker } from '../conntrack/index.js';
import { FilterStage } from './filter-stage.js';
import { NatState } from './nat-state.js';
import { LocalAddresses } from './local-addresses.js';
import { RouteInterfaces, type RouteEntry } from './route-interfaces.js';
import { C, COUNTER_NAMES } from './counters.js';
import { Verdict } from './stage.js';

const CLIENT = '192.0.2.100';
const SERVER = '198.51.100.100';
const LAN_ADDR = '192.0.2.2';
const WAN_VIP = '198.51.100.1';

/** A strict stateful forward chain, SNAT of LAN traffic to the WAN VIP, DNAT of VIP:8080. */
const RULESET = `
table inet f {
  chain fwd { type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ct state invalid drop
    iifname "lan" accept
    tcp dport 80 accept
  }
  chain pre { type nat hook prerouting priority -100; policy accept;
    iifname "wan" tcp dport 8080 dnat ip to 192.0.2.100:80
  }
  chain post { type nat hook postrouting priority 100; policy accept;
    oifname "wan" ip saddr 192.0.2.0/24 snat ip to ${WAN_VIP}
  }
}`;

function rig(withLocal: boolean) {
  let now = 1000;
  const engine = new RulesetEngine({ clock: () => now });
  engine.load(RULESET);
  const routes = new RouteInterfaces();
  routes.load([['192.0.2.0/24', 'lan'], ['198.51.100.0/24', 'wan']].map(([pfx, ifname]): RouteEntry => {
    const p = parsePrefix(pfx!, { strict: false });
    return { family: 4, prefix: p.bytes, len: p.len, ifId: engine.ifnames.idOf(ifname!) };
  }));
  const ct = new ConnTracker({ maxEntries: 1024, now: () => now });
  const nat = new NatState(ct.capacity, { key: [1, 2] });
  nat.attach(ct);
  const local = new LocalAddresses();
  local.load([
    { ifname: 'lan', family: 4, bytes: [...parseAddress(LAN_ADDR).bytes], vip: false },
    { ifname: 'wan', family: 4, bytes: [...parseAddress(WAN_VIP).bytes], vip: true },
    { ifname: 'lan', family: 6, bytes: [...parseAddress('2001:db8:1::2').bytes], vip: false },
  ]);
  const counters = new Float64Array(COUNTER_NAMES.length);
  const stage = new FilterStage(engine, ct, routes, counters, undefined, nat, withLocal ? local : undefined);
  return {
    ct, counters,
    send(pkt: Uint8Array) {
      now += 1;
      return stage.process(parseBuilt(pkt), now);
    },
  };
}

describe('datapath: traffic addressed to the node itself', () => {
  it('is handed back untracked and unfiltered when it is not a NAT reply (the node\'s API, replies to its own connections)', () => {
    const r = rig(true);
    // A mid-stream reply to a connection the node opened itself: invalid for the forward chain.
    assert.equal(r.send(buildTcp({ src: SERVER, dst: WAN_VIP, sport: 443, dport: 50000, flags: 'A', seq: 7, ack: 9 })), Verdict.Accept);
    // A new connection to the node's management address on the LAN.
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: LAN_ADDR, sport: 40000, dport: 9470, flags: 'S', seq: 1 })), Verdict.Accept);
    assert.equal(r.send(buildUdp({ src: '2001:db8:1::100', dst: '2001:db8:1::2', sport: 5000, dport: 53 })), Verdict.Accept);
    assert.equal(r.ct.count(), 0, 'nothing for the node enters the connection table');
    assert.equal(r.counters[C.to_node], 3);
  });

  it('without the node\'s addresses the same mid-stream packet is forwarded traffic and dropped as invalid', () => {
    const r = rig(false);
    assert.equal(r.send(buildTcp({ src: SERVER, dst: WAN_VIP, sport: 443, dport: 50000, flags: 'A', seq: 7, ack: 9 })), Verdict.Drop);
    assert.equal(r.counters[C.to_node], 0);
  });

  it('filters a packet from one of the node\'s addresses like any forwarded packet (a forged source gets no free pass)', () => {
    const r = rig(true);
    // What a service on the node answering a direct client looks like when its port is also
    // a redirect target (steered here), and what a forged source looks like: the same.
    assert.equal(r.send(buildTcp({ src: LAN_ADDR, dst: CLIENT, sport: 3128, dport: 40000, flags: 'SA', seq: 100, ack: 2 })), Verdict.Drop);
    assert.equal(r.send(buildUdp({ src: '2001:db8:1::2', dst: '2001:db8:1::100', sport: 53, dport: 5000 })), Verdict.Drop);
    assert.equal(r.ct.count(), 0);
    assert.equal(r.counters[C.to_node], 0);
  });

  it('still un-NATs the replies of a connection SNATed to the VIP, and DNATs connections to the VIP', () => {
    const r = rig(true);
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: SERVER, sport: 40000, dport: 80, flags: 'S', seq: 1 })), Verdict.Accept);
    // The allocator keeps port 40000 (no clash): the reply is addressed to VIP:40000.
    assert.equal(r.send(buildTcp({ src: SERVER, dst: WAN_VIP, sport: 80, dport: 40000, flags: 'SA', seq: 100, ack: 2 })), Verdict.Accept);
    assert.equal(r.counters[C.to_node], 0, 'a NAT reply is forwarded traffic');
    assert.equal(r.send(buildTcp({ src: SERVER, dst: WAN_VIP, sport: 41000, dport: 8080, flags: 'S', seq: 5 })), Verdict.Accept);
    assert.equal(r.counters[C.to_node], 0, 'a DNATed connection leaves prerouting addressed to the client');
    assert.equal(r.ct.count(), 2);
  });
});
