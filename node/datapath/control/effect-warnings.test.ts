import assert from 'node:assert/strict';
import { RulesetEngine } from '../../ruleset/index.js';
import { clusterSegmentWarnings, effectWarnings } from './effect-warnings.js';

function warn(text: string, interfaces?: string[]): string[] {
  const e = new RulesetEngine();
  e.load(text);
  return effectWarnings(e.ruleset, interfaces ? { interfaces } : {}).map((w) => `${w.where}: ${w.message}`);
}

describe('ruleset check: what has no effect on this datapath', () => {
  it('says nothing about a plain nft-style input/output/forward ruleset that is fully enforced', () => {
    assert.deepEqual(warn(`table inet f {
  chain in { type filter hook input priority 0; policy accept; ct state established,related accept; tcp dport 22 accept; ip protocol icmp accept; meta l4proto esp accept; iifname "lan" accept }
  chain fw { type filter hook forward priority 0; policy drop; iifname "lan" oifname "wan" accept }
}`, ['lan', 'wan']), []);
  });

  it('names input/output rules about ICMPv6, VRRP and other protocols the kernel keeps, with their place', () => {
    const w = warn(`table inet f { chain in { type filter hook input priority 0;
  icmpv6 type echo-request accept
  meta l4proto { vrrp, tcp } accept
  ip protocol 89 accept
  meta l4proto != icmpv6 accept
} }`);
    assert.equal(w.length, 3, w.join('\n'));
    assert.match(w[0]!, /^table inet f chain in handle \d+: ICMPv6 to the node is left to the kernel \(neighbour discovery/);
    assert.match(w[1]!, /VRRP to the node is left to the kernel/);
    assert.match(w[2]!, /OSPF to the node/);
  });

  it('the same rules in the forward chain are enforced: no warning', () => {
    assert.deepEqual(warn(`table inet f { chain fw { type filter hook forward priority 0; icmpv6 type echo-request accept; meta l4proto vrrp drop } }`), []);
  });

  it('oifname in input and iifname in output never match', () => {
    const w = warn(`table inet f {
  chain in { type filter hook input priority 0; oifname "lan" accept }
  chain out { type filter hook output priority 0; iifname "lan" accept; oifname "wan" accept }
}`);
    assert.equal(w.length, 2, w.join('\n'));
    assert.match(w[0]!, /chain in .*oifname in an input chain never matches/);
    assert.match(w[1]!, /chain out .*iifname in an output chain never matches/);
  });

  it('policy drop on input says what still passes', () => {
    const w = warn(`table inet f { chain in { type filter hook input priority 0; policy drop; } }`);
    assert.equal(w.length, 1);
    assert.match(w[0]!, /policy drop on input: ICMPv6 .* VRRP .* pass/);
  });

  it('with the node\'s config: interfaces that are not protected', () => {
    const w = warn(`table inet f { chain fw { type filter hook forward priority 0; iifname { "lan", "dmz" } accept; oifname "wa*" accept; oifname "vpn*" accept } }`, ['lan', 'wan']);
    assert.equal(w.length, 2, w.join('\n'));
    assert.match(w[1]!, /interface "vpn\*" is not in datapath.interfaces/);
    assert.match(w[0]!, /interface "dmz" is not in datapath.interfaces/);
  });

  it('with the node\'s config: flowtable devices that are not protected (nft refuses unknown devices; hafw warns)', () => {
    const text = `table inet f { flowtable ft { hook ingress priority 0; devices = { lan, dmz }; } chain fw { type filter hook forward priority 0; iifname "dmz" accept; meta l4proto tcp flow add @ft } }`;
    const w = warn(text, ['lan', 'wan']);
    assert.equal(w.length, 2, w.join('\n'));
    assert.match(w[0]!, /chain fw handle \d+: interface "dmz" is not in datapath.interfaces/);
    assert.equal(w[1], 'table inet f flowtable ft: device "dmz" is not in datapath.interfaces (nft refuses a device that does not exist): its traffic never reaches the datapath, so no connection through it is offloaded');
    assert.deepEqual(warn(text), [], 'offline without the config: nothing to compare with');
  });

  it('log flags all: the ether and skuid parts cannot be carried', () => {
    const w = warn(`table inet f { chain fw { type filter hook forward priority 0; log flags all; log flags tcp sequence,options,ip options } }`);
    assert.equal(w.length, 1);
    assert.match(w[0]!, /log flags all: .*never the link-layer header \(ether\) nor the socket's owner \(skuid\)/);
  });
});

describe('ruleset check: the cluster\'s own segment', () => {
  const load = (text: string) => {
    const e = new RulesetEngine();
    e.load(text);
    return e.ruleset;
  };
  const closed = load(`table inet f { chain in { type filter hook input priority 0; policy drop; } }`);
  it('warns when sync runs on a protected interface and input or output drops by policy', () => {
    const w = clusterSegmentWarnings(closed, { interfaces: ['lan', 'wan', 'sync'], syncInterface: 'sync' });
    assert.equal(w.length, 1);
    assert.match(w[0]!, /^sync.interface sync is a protected interface: .* table inet f chain in \(policy drop\)/);
  });
  it('is quiet for a sync interface of its own, without sync, or without a dropping policy', () => {
    assert.deepEqual(clusterSegmentWarnings(closed, { interfaces: ['lan', 'wan'], syncInterface: 'sync' }), []);
    assert.deepEqual(clusterSegmentWarnings(closed, { interfaces: ['lan', 'wan'] }), []);
    assert.deepEqual(clusterSegmentWarnings(load(`table inet f { chain in { type filter hook input priority 0; policy accept; } }`), { interfaces: ['lan', 'sync'], syncInterface: 'sync' }), []);
  });
});
