import assert from 'node:assert/strict';
import { RulesetEngine } from '../ruleset/index.js';
import { redirectPorts, steerRuleArgs, steeringIpRules } from './redirect-steering.js';

function portsOf(text: string): { rules: string[]; warnings: string[] } {
  const e = new RulesetEngine();
  e.load(text, 'r.nft');
  const r = redirectPorts(e.ruleset);
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
