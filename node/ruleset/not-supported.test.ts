import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { refusal } from './test-refusal.js';

/** A JSON ruleset with one rule of `expr` in table inet t. */
const json = (expr: unknown[]) => () =>
  new RulesetEngine().load({
    nftables: [
      { table: { family: 'inet', name: 't' } },
      { chain: { family: 'inet', table: 't', name: 'c', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
      { rule: { family: 'inet', table: 't', chain: 'c', expr } },
    ],
  });
const match = (left: unknown, right: unknown = 1) => [{ match: { op: '==', left, right } }];

describe('the rest of nft(8): refused with the reason, in text and JSON', () => {
  it('text: the place and the reason, not "unknown"', () => {
    const text = (rule: string) => () => new RulesetEngine().load(`table inet t {\n chain c {\n  ${rule}\n }\n}\n`, 'x.nft');
    assert.match(refusal(text('tcp sequence 1 accept')), /^x\.nft:3:3: this TCP header field is not supported yet: hafw reads tcp sport, dport, flags and options/);
    assert.match(refusal(text('meta cpu 1 accept')), /^x\.nft:3:3: 'meta cpu' is the kernel CPU handling the packet/);
    assert.match(refusal(text('ct original bytes > 10 accept')), /^x\.nft:3:3: 'ct original\|reply bytes\|packets\|avgpkt' read the kernel's conntrack accounting/);
    assert.match(refusal(text('socket transparent 1 accept')), /^x\.nft:3:3: 'socket' looks the packet up in the kernel's socket tables/);
    assert.match(refusal(text('udplite dport 53 accept')), /^x\.nft:3:3: 'udplite' is not supported yet: match the protocol with meta l4proto udplite/);
    assert.match(refusal(text('@ll,0,8 1 accept')), /^x\.nft:3:3: '@ll' reads the link-layer header/);
    assert.match(refusal(text('reset tcp option sack-perm')), /^x\.nft:3:3: 'reset tcp option' is not supported yet/);
    assert.match(refusal(text('meta l4proto tcp tproxy ip to 192.0.2.1:80')), /^x\.nft:3:20: 'tproxy' hands the packet to a local socket/);
    assert.match(refusal(text('ip saddr set 192.0.2.1')), /^x\.nft:3:3: ip saddr cannot be set: addresses and ports change through snat \/ dnat/);
    assert.match(refusal(text('add @m { ip saddr : accept }')), /^x\.nft:3:23: a verdict cannot be map data from the packet path \(nft refuses 'accept' here too\)/);
    // meta iif / meta oif read as iifname / oifname, as iif / oif do.
    const e = new RulesetEngine();
    e.load('table inet t {\n chain c {\n  meta iif "lan" meta oif "wan" accept\n }\n}\n');
    assert.match(e.list(), /\t\tiifname "lan" oifname "wan" accept\n/);
  });

  it('JSON: libnftables\' objects of those constructs, refused with the same reasons', () => {
    assert.match(refusal(json(match({ payload: { protocol: 'tcp', field: 'sequence' } }))), /this TCP header field is not supported yet/);
    assert.match(refusal(json(match({ meta: { key: 'cpu' } }))), /'meta cpu' is the kernel CPU/);
    assert.match(refusal(json(match({ ct: { key: 'bytes', dir: 'original' } }))), /read the kernel's conntrack accounting/);
    assert.match(refusal(json(match({ ct: { key: 'id' } }))), /'ct id' is the kernel's id/);
    assert.match(refusal(json(match({ payload: { base: 'th', offset: 0, len: 4 } }))), /'@th,0,4': hafw takes raw payloads of whole bytes/);
    assert.match(refusal(json(match({ payload: { base: 'll', offset: 0, len: 8 } }))), /'@ll' reads the link-layer header/);
    assert.match(refusal(json(match({ 'tcp option': { base: 5, offset: 4, len: 4 } }))), /hafw takes raw TCP options of whole bytes/);
    assert.match(refusal(json(match({ 'ip option': { name: 'rr' } }, true))), /'ip option' \(IPv4 options/);
    assert.match(refusal(json(match({ socket: { key: 'transparent' } }))), /'socket' looks the packet up/);
    assert.match(refusal(json(match({ osf: { key: 'name' } }, 'Linux'))), /'osf' \(passive OS fingerprinting\)/);
    assert.match(refusal(json([{ tproxy: { family: 'ip', addr: '192.0.2.1', port: 80 } }])), /'tproxy' hands the packet to a local socket/);
    assert.match(refusal(json([{ synproxy: { mss: 1460 } }])), /'synproxy' .* is not supported yet/);
    assert.match(refusal(json([{ xt: { type: 'match', name: 'conntrack' } }])), /'xt' is the compatibility expression iptables-nft writes/);
  });
});
