/**
 * What a layer-3 (TUN) datapath cannot see or do is refused with the reason and what to
 * write instead, at its place, in text and JSON: never accepted and ignored.
 */
import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';

function refusal(input: string | object, file: string): string {
  const e = new RulesetEngine();
  const before = e.generation;
  try {
    e.load(typeof input === 'string' ? input : JSON.stringify(input), file);
  } catch (err) {
    assert.equal(e.generation, before, 'nothing changed');
    return (err as Error).message;
  }
  return 'accepted';
}

const inRule = (r: string) => `table inet t {\n  chain c {\n    type filter hook forward priority 0;\n    ${r}\n  }\n}\n`;
const jsonRule = (expr: object[], family = 'inet') => ({
  nftables: [{ table: { family, name: 't' } }, { chain: { family, table: 't', name: 'c', type: 'filter', hook: 'forward', prio: 0 } }, { rule: { family, table: 't', chain: 'c', expr } }],
});
const WHY = "hafw's layer-3 datapath \\(TUN\\)";

describe('layer-2 and kernel-only constructs are refused with the reason', () => {
  const words: [string, string, RegExp][] = [
    ['ether', 'ether saddr 00:11:22:33:44:55 drop', new RegExp(`^x\\.nft:4:5: the Ethernet header \\('ether'\\) is not visible to ${WHY}: .* Match on IP addresses \\(ip saddr, ip6 saddr\\) or interfaces`)],
    ['ether after a match', 'tcp dport 22 ether type ip accept', /^x\.nft:4:18: the Ethernet header \('ether'\) is not visible/],
    ['ether in a concatenation', 'ip saddr . ether saddr { 192.0.2.1 . 00:11:22:33:44:55 } accept', /^x\.nft:4:16: the Ethernet header/],
    ['vlan', 'vlan id 10 accept', new RegExp(`^x\\.nft:4:5: VLAN tags \\('vlan'\\) are not visible to ${WHY}: .*its own interface \\(e\\.g\\. eth0\\.10\\) and match it with iifname`)],
    ['arp', 'arp operation request accept', new RegExp(`^x\\.nft:4:5: ARP \\('arp'\\) is not IP and never reaches ${WHY}`)],
    ['queue', 'meta l4proto tcp queue num 0-3 bypass fanout', new RegExp(`^x\\.nft:4:22: 'queue' hands packets to a program through the kernel's NFQUEUE; ${WHY} has no queue.*accept, drop or reject`)],
    ['dup', 'dup to 192.0.2.1 device "eth0"', new RegExp(`^x\\.nft:4:5: 'dup' has the kernel send a copy .*; ${WHY} forwards each packet once.*port mirror`)],
    ['fwd', 'fwd to "eth0"', new RegExp(`^x\\.nft:4:5: 'fwd' sends packets straight out of a device.*Use routes`)],
  ];
  for (const [name, rule, re] of words) {
    it(`${name} (text)`, () => assert.match(refusal(inRule(rule), 'x.nft'), re));
  }

  it('the bridge, netdev and arp families; the ingress and egress hooks (text)', () => {
    assert.match(refusal('table bridge b {\n}\n', 'x.nft'), new RegExp(`^x\\.nft:1:7: family 'bridge' filters bridged \\(layer-2\\) frames; ${WHY} sees routed IP packets only\\. Use a table ip, ip6 or inet`));
    assert.match(refusal('add table netdev n\n', 'x.nft'), /^x\.nft:1:11: family 'netdev' attaches to a device before the IP stack;.*hook prerouting/);
    assert.match(refusal('add chain arp a c\n', 'x.nft'), /^x\.nft:1:11: family 'arp' filters ARP/);
    assert.match(refusal('table inet t {\n  chain c { type filter hook ingress device "eth0" priority 0; }\n}\n', 'x.nft'), new RegExp(`^x\\.nft:2:30: hook 'ingress' runs at a device's layer-2 entry, before ${WHY} sees the packet\\. Use hook prerouting`));
    assert.match(refusal('table ip t {\n  chain c { type filter hook egress device "eth0" priority 0; }\n}\n', 'x.nft'), /^x\.nft:2:30: hook 'egress' .* Use hook postrouting/);
    assert.match(refusal('table inet t {\n  set s { type ether_addr; }\n}\n', 'x.nft'), /^x\.nft:2:11: the Ethernet header/);
    assert.match(refusal('table inet t {\n  set s { typeof ether saddr; }\n}\n', 'x.nft'), /^x\.nft:2:18: the Ethernet header/);
  });

  it('the same in JSON, with the place', () => {
    const payload = (protocol: string, field: string, right: unknown) => ({ match: { op: '==', left: { payload: { protocol, field } }, right } });
    assert.match(refusal(jsonRule([payload('ether', 'saddr', '00:11:22:33:44:55'), { drop: null }]), 'x.json'), /^x\.json:1:\d+: the Ethernet header \('ether'\) is not visible/);
    assert.match(refusal(jsonRule([payload('vlan', 'id', 10), { accept: null }]), 'x.json'), /^x\.json:1:\d+: VLAN tags/);
    assert.match(refusal(jsonRule([payload('arp', 'operation', 'request')]), 'x.json'), /^x\.json:1:\d+: ARP \('arp'\)/);
    assert.match(refusal(jsonRule([{ queue: { num: 1, flags: ['bypass'] } }]), 'x.json'), /^x\.json:1:\d+: 'queue' hands packets/);
    assert.match(refusal(jsonRule([{ dup: { addr: '192.0.2.1', dev: 'eth0' } }]), 'x.json'), /^x\.json:1:\d+: 'dup' has the kernel/);
    assert.match(refusal(jsonRule([{ fwd: { dev: 'eth0' } }]), 'x.json'), /^x\.json:1:\d+: 'fwd' sends packets/);
    assert.match(refusal({ nftables: [{ table: { family: 'bridge', name: 'b' } }] }, 'x.json'), /^x\.json:1:\d+: \/nftables\/0\/table: family 'bridge' filters bridged/);
    assert.match(refusal({ nftables: [{ add: { chain: { family: 'netdev', table: 'n', name: 'c' } } }] }, 'x.json'), /^x\.json:1:\d+: \/nftables\/0\/chain: family 'netdev'/);
    assert.match(refusal({ nftables: [{ table: { family: 'arp', name: 'a' } }] }, 'x.json'), /family 'arp' filters ARP/);
    const hook = (h: string) => ({ nftables: [{ table: { family: 'inet', name: 't' } }, { chain: { family: 'inet', table: 't', name: 'c', type: 'filter', hook: h, prio: 0, dev: 'eth0' } }] });
    assert.match(refusal(hook('ingress'), 'x.json'), /^x\.json:1:\d+: \/nftables\/1\/chain: hook 'ingress' runs at a device's layer-2 entry/);
    assert.match(refusal(hook('egress'), 'x.json'), /hook 'egress' .* Use hook postrouting/);
    assert.match(refusal({ nftables: [{ table: { family: 'inet', name: 't' } }, { set: { family: 'inet', table: 't', name: 's', type: 'ether_addr' } }] }, 'x.json'), /^x\.json:1:\d+: the Ethernet header/);
  });

  it('other unknown words keep the plain message', () => {
    assert.match(refusal(inRule('frobnicate'), 'x.nft'), /^x\.nft:4:5: unknown match or statement 'frobnicate'$/);
  });
});
