import assert from 'node:assert/strict';
import { buildIcmpEcho, buildTcp, buildUdp, parseBuilt } from '../../packet/build.js';
import { formatAddress, parseAddress, parsePrefix } from '../../packet/address.js';
import { RulesetEngine } from '../../ruleset/index.js';
import { ConnTracker, CtStatus } from '../../conntrack/index.js';
import { FilterStage } from './filter-stage.js';
import { NatState } from './nat-state.js';
import { LocalAddresses } from './local-addresses.js';
import { RouteInterfaces, type RouteEntry } from './route-interfaces.js';
import { C, COUNTER_NAMES } from '../shared/counters.js';
import { Verdict } from './stage.js';

const CLIENT = '192.0.2.100';
const SERVER = '198.51.100.100';
const LAN_ADDR = '192.0.2.2';
const WAN_VIP = '198.51.100.1';
const LAN6 = '2001:db8:1::2';
const CLIENT6 = '2001:db8:1::100';

/**
 * An nft-style ruleset protecting the node: input and output with policy drop, a strict
 * forward chain, SNAT of LAN traffic to the WAN VIP, DNAT of VIP:8080 to a LAN server and
 * a redirect of LAN DNS to a resolver on the node.
 */
const RULESET = `
table inet f {
  chain in { type filter hook input priority 0; policy drop;
    ct state established,related accept
    ct state invalid drop
    tcp dport 22 accept
    iifname "lan" udp dport 5353 accept
    ip protocol icmp accept
  }
  chain out { type filter hook output priority 0; policy drop;
    ct state established,related accept
    udp dport 53 accept
    tcp dport 443 accept
  }
  chain fw { type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ct state invalid drop
    iifname "lan" accept
    tcp dport 80 accept
  }
  chain pre { type nat hook prerouting priority -100; policy accept;
    iifname "wan" tcp dport 8080 dnat ip to 192.0.2.100:80
    iifname "lan" udp dport 53 redirect to :5353
  }
  chain post { type nat hook postrouting priority 100; policy accept;
    oifname "wan" ip saddr 192.0.2.0/24 snat ip to ${WAN_VIP}
  }
}`;

function rig(withLocal: boolean, ruleset = RULESET) {
  let now = 1000;
  const engine = new RulesetEngine({ clock: () => now });
  engine.load(ruleset);
  const routes = new RouteInterfaces();
  routes.load([['192.0.2.0/24', 'lan'], ['198.51.100.0/24', 'wan'], ['2001:db8:1::/64', 'lan']].map(([pfx, ifname]): RouteEntry => {
    const p = parsePrefix(pfx!, { strict: false });
    return { family: p.family, prefix: p.bytes, len: p.len, ifId: engine.ifnames.idOf(ifname!) };
  }));
  const ct = new ConnTracker({ maxEntries: 1024, now: () => now });
  const nat = new NatState(ct.capacity, { key: [1, 2] });
  nat.attach(ct);
  nat.setAddresses([{ ifId: engine.ifnames.idOf('lan'), family: 4, bytes: parseAddress(LAN_ADDR).bytes }]);
  const local = new LocalAddresses();
  local.load([
    { ifname: 'lan', family: 4, bytes: [...parseAddress(LAN_ADDR).bytes], vip: false },
    { ifname: 'wan', family: 4, bytes: [...parseAddress(WAN_VIP).bytes], vip: true },
    { ifname: 'lan', family: 6, bytes: [...parseAddress(LAN6).bytes], vip: false },
  ]);
  const counters = new Float64Array(COUNTER_NAMES.length);
  const stage = new FilterStage(engine, ct, routes, counters, undefined, nat, withLocal ? local : undefined);
  return {
    ct, counters,
    send(pkt: Uint8Array) {
      now += 1;
      return stage.process(parseBuilt(pkt), now);
    },
    /** The packet as the datapath writes it back (after NAT), and the verdict. */
    sendSeen(pkt: Uint8Array) {
      now += 1;
      const p = parseBuilt(pkt);
      const v = stage.process(p, now);
      const n = p.family === 4 ? 4 : 16;
      return { v, src: formatAddress(p.buf, p.srcOff, n), dst: formatAddress(p.buf, p.dstOff, n), sport: p.sport, dport: p.dport };
    },
    statusOf(i = 0): number {
      let s = -1;
      let k = 0;
      ct.forEach((e) => {
        if (k++ === i) s = ct.getStatus(e);
      });
      return s;
    },
  };
}

describe('datapath: the input and output hooks (traffic to and from the node)', () => {
  it('input: new connections to the node meet the input chain (ssh in, other ports dropped), IPv4 and IPv6', () => {
    const r = rig(true);
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: LAN_ADDR, sport: 40000, dport: 22, flags: 'S', seq: 1 })), Verdict.Accept);
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: LAN_ADDR, sport: 40001, dport: 9470, flags: 'S', seq: 1 })), Verdict.Drop);
    assert.equal(r.send(buildTcp({ src: SERVER, dst: WAN_VIP, sport: 40002, dport: 22, flags: 'S', seq: 1 })), Verdict.Accept, 'the VIP the node holds is its own');
    assert.equal(r.send(buildTcp({ src: CLIENT6, dst: LAN6, sport: 40000, dport: 22, flags: 'S', seq: 1 })), Verdict.Accept);
    assert.equal(r.send(buildUdp({ src: CLIENT6, dst: LAN6, sport: 5000, dport: 161 })), Verdict.Drop);
    assert.equal(r.ct.count(), 3, 'the accepted connections are tracked');
    assert.equal(r.counters[C.to_node], 5);
    assert.equal(r.counters[C.forwarded], 0, 'the forward chain never saw them');
  });

  it('input: a connection to the node is marked to-node; the node\'s answers take the output path and its client\'s next packets the input path', () => {
    const r = rig(true);
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: LAN_ADDR, sport: 40000, dport: 22, flags: 'S', seq: 1 })), Verdict.Accept);
    assert.equal(r.statusOf() & (CtStatus.LocalIn | CtStatus.LocalOut), CtStatus.LocalIn);
    // The output chain has no rule for sport 22: only `ct state established` lets the answer out.
    assert.equal(r.send(buildTcp({ src: LAN_ADDR, dst: CLIENT, sport: 22, dport: 40000, flags: 'SA', seq: 100, ack: 2 })), Verdict.Accept);
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: LAN_ADDR, sport: 40000, dport: 22, flags: 'A', seq: 2, ack: 101 })), Verdict.Accept);
    assert.equal(r.counters[C.to_node], 2);
    assert.equal(r.counters[C.from_node], 1);
  });

  it('input: a packet to the node that belongs to no connection is invalid and dropped (no free pass for mid-stream packets)', () => {
    const r = rig(true);
    assert.equal(r.send(buildTcp({ src: SERVER, dst: WAN_VIP, sport: 443, dport: 50000, flags: 'A', seq: 7, ack: 9 })), Verdict.Drop);
    assert.equal(r.counters[C.to_node], 1);
  });

  it('output: the node\'s own connections meet the output chain; their answers come back through input as established', () => {
    const r = rig(true);
    // DNS from the node: allowed out, the answer comes back on the input path.
    assert.equal(r.send(buildUdp({ src: WAN_VIP, dst: SERVER, sport: 33000, dport: 53 })), Verdict.Accept);
    assert.equal(r.statusOf() & (CtStatus.LocalIn | CtStatus.LocalOut), CtStatus.LocalOut);
    assert.equal(r.send(buildUdp({ src: SERVER, dst: WAN_VIP, sport: 53, dport: 33000 })), Verdict.Accept);
    // HTTPS out is allowed, plain HTTP is not; IPv6 too.
    assert.equal(r.send(buildTcp({ src: WAN_VIP, dst: SERVER, sport: 41000, dport: 443, flags: 'S', seq: 1 })), Verdict.Accept);
    assert.equal(r.send(buildTcp({ src: WAN_VIP, dst: SERVER, sport: 41001, dport: 80, flags: 'S', seq: 1 })), Verdict.Drop);
    assert.equal(r.send(buildTcp({ src: LAN6, dst: CLIENT6, sport: 41002, dport: 80, flags: 'S', seq: 1 })), Verdict.Drop);
    assert.equal(r.send(buildTcp({ src: LAN6, dst: CLIENT6, sport: 41003, dport: 443, flags: 'S', seq: 1 })), Verdict.Accept);
    assert.equal(r.counters[C.from_node], 5);
    assert.equal(r.counters[C.to_node], 1);
    assert.equal(r.counters[C.forwarded], 0);
  });

  it('output: a ping the node sends meets the output chain', () => {
    const r = rig(true, `table inet f { chain out { type filter hook output priority 0; policy drop; } }`);
    assert.equal(r.send(buildIcmpEcho({ src: LAN_ADDR, dst: CLIENT, id: 7, seq: 1 })), Verdict.Drop);
    assert.equal(r.counters[C.from_node], 1);
  });

  it('a redirect to a service on the node: the input chain sees the translated port, the answers leave through output with the original source', () => {
    const r = rig(true);
    assert.equal(r.send(buildUdp({ src: CLIENT, dst: '192.0.2.53', sport: 5000, dport: 53 })), Verdict.Accept);
    assert.equal(r.counters[C.to_node], 1, 'after prerouting the datagram is the node\'s (udp dport 5353 accepted by input)');
    const answer = r.sendSeen(buildUdp({ src: LAN_ADDR, dst: CLIENT, sport: 5353, dport: 5000 }));
    assert.equal(answer.v, Verdict.Accept);
    assert.deepEqual([answer.src, answer.sport], ['192.0.2.53', 53], 'the answer comes from the address and port the client asked');
    assert.equal(r.counters[C.from_node], 1);
  });

  it('NAT replies and DNATed connections stay forwarded traffic (the forward chain judges them)', () => {
    const r = rig(true);
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: SERVER, sport: 40000, dport: 80, flags: 'S', seq: 1 })), Verdict.Accept);
    // The allocator keeps port 40000 (no clash): the reply is addressed to VIP:40000.
    assert.equal(r.send(buildTcp({ src: SERVER, dst: WAN_VIP, sport: 80, dport: 40000, flags: 'SA', seq: 100, ack: 2 })), Verdict.Accept);
    assert.equal(r.send(buildTcp({ src: SERVER, dst: WAN_VIP, sport: 41000, dport: 8080, flags: 'S', seq: 5 })), Verdict.Accept);
    assert.equal(r.counters[C.to_node], 0);
    assert.equal(r.counters[C.from_node], 0);
    assert.equal(r.counters[C.forwarded], 3);
    assert.equal(r.ct.count(), 2);
  });

  it('without chains on input and output, traffic to and from the node is accepted (nft: no chain, no filtering)', () => {
    const r = rig(true, `table inet f { chain fw { type filter hook forward priority 0; policy drop; } }`);
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: LAN_ADDR, sport: 40000, dport: 9470, flags: 'S', seq: 1 })), Verdict.Accept);
    assert.equal(r.send(buildUdp({ src: LAN6, dst: CLIENT6, sport: 53, dport: 5000 })), Verdict.Accept);
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: SERVER, sport: 40000, dport: 80, flags: 'S', seq: 1 })), Verdict.Drop);
  });

  it('without the node\'s addresses every packet is forwarded traffic', () => {
    const r = rig(false);
    assert.equal(r.send(buildTcp({ src: SERVER, dst: WAN_VIP, sport: 443, dport: 50000, flags: 'A', seq: 7, ack: 9 })), Verdict.Drop);
    assert.equal(r.send(buildTcp({ src: CLIENT, dst: LAN_ADDR, sport: 40000, dport: 9470, flags: 'S', seq: 1 })), Verdict.Accept, 'iifname lan accept (forward)');
    assert.equal(r.counters[C.to_node], 0);
    assert.equal(r.counters[C.forwarded], 2);
  });
});
