import assert from 'node:assert/strict';
import { RulesetEngine } from '../ruleset/index.js';
import { parseAddress } from '../packet/address.js';
import { redirectPorts, steerRuleArgs, steeringIpRules } from './redirect-steering.js';

function portsOf(text: string, own: string[] = []): { rules: string[]; warnings: string[] } {
  const e = new RulesetEngine();
  e.load(text, 'r.nft');
  const r = redirectPorts(e.ruleset, own.map((a) => { const p = parseAddress(a); return { family: p.family as 4 | 6, bytes: Array.from(p.bytes) }; }));
  return { rules: r.rules.map((x) => `${x.fam} ${x.proto} ${x.from}-${x.to}`), warnings: r.warnings };
}

describe('redirect steering (which of the node\'s own answers go through the TUN device)', () => {
  it('takes the target port of `redirect to`, with the protocol of the rule\'s port match', () => {
    const r = portsOf(`table ip t { chain p { type nat hook prerouting priority dstnat;
      iifname "lan" tcp dport 80 redirect to :3128
      udp dport { 53, 5353 } redirect to :5300-5301 } }`);
    assert.deepEqual(r.rules, ['-4 tcp 3128-3128', '-4 udp 5300-5301']);
    assert.deepEqual(r.warnings, []);
  });

  it('a bare redirect keeps the destination port: the rule\'s dport match gives the ports; inet gives both families', () => {
    const r = portsOf(`table inet t { chain p { type nat hook prerouting priority dstnat;
      tcp dport 8080-8081 redirect
      meta l4proto { tcp, udp } th dport 53 redirect to :5353 } }`);
    assert.deepEqual(r.rules, ['-4 tcp 5353-5353', '-4 tcp 8080-8081', '-4 udp 5353-5353', '-6 tcp 5353-5353', '-6 tcp 8080-8081', '-6 udp 5353-5353']);
  });

  it('names a redirect whose port cannot be known, and ignores dnat and chains that are not nat', () => {
    const r = portsOf(`table ip6 t {
      chain p { type nat hook prerouting priority dstnat; meta l4proto tcp redirect
        tcp dport 22 dnat to 2001:db8::1 }
      chain f { type filter hook forward priority 0; tcp dport 1 accept } }`);
    assert.deepEqual(r.rules, []);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /table ip6 t chain p handle \d+: redirect without a port/);
  });

  it('steers dnat to one of the node\'s own addresses like a redirect, only while the address is the node\'s', () => {
    const text = `table inet t { chain p { type nat hook prerouting priority dstnat;
      iifname "wan" tcp dport 443 dnat ip to 198.51.100.2:8443
      iifname "wan" udp dport 53 dnat ip to 198.51.100.2
      iifname "wan" tcp dport 80 dnat ip to 192.0.2.10:8080
      iifname "wan" tcp dport 22 dnat ip6 to [2001:db8::2]:2222
      iifname "wan" meta l4proto tcp dnat ip to 198.51.100.2 } }`;
    const own = portsOf(text, ['198.51.100.2', '2001:db8::2', '192.0.2.1']);
    assert.deepEqual(own.rules, ['-4 tcp 8443-8443', '-4 udp 53-53', '-6 tcp 2222-2222']);
    assert.equal(own.warnings.length, 1);
    assert.match(own.warnings[0]!, /dnat to the node's own address 198\.51\.100\.2 without a port and without a destination-port match/);
    // Not (or no longer) the node's: an inside server's answers are forwarded traffic anyway.
    assert.deepEqual(portsOf(text).rules, []);
  });

  it('writes one `ip rule` per range: packets the node sends (iif lo) from those ports, into the TUN table', () => {
    assert.deepEqual(steerRuleArgs({ fam: '-4', proto: 'tcp', from: 3128, to: 3128 }, 100, 99), ['priority', '99', 'iif', 'lo', 'ipproto', 'tcp', 'sport', '3128', 'lookup', '100']);
    assert.deepEqual(steerRuleArgs({ fam: '-6', proto: 'udp', from: 5300, to: 5301 }, 7, 50).slice(6, 8), ['sport', '5300-5301']);
  });

  it('keeps multicast, broadcast and IPv6 link-local out, one priority earlier, only for families with a redirect', () => {
    const rules = steeringIpRules([{ fam: '-4', proto: 'udp', from: 5353, to: 5353 }], 100, 100).map((r) => `${r.fam} ${r.args.join(' ')}`);
    assert.deepEqual(rules, [
      '-4 priority 99 iif lo to 224.0.0.0/4 lookup main',
      '-4 priority 99 iif lo to 255.255.255.255/32 lookup main',
      '-4 priority 100 iif lo ipproto udp sport 5353 lookup 100',
    ]);
    assert.deepEqual(steeringIpRules([], 100, 100), []);
  });
});
