/**
 * What nft 1.0.6 refuses, hafw refuses too, at the place nft points to (each case was tried
 * with Debian's nft 1.0.6 in a throw-away namespace; its message is quoted in ours).
 */
import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { NFT_KEYWORDS } from './nft-keywords.js';

function loadError(text: string): string {
  try {
    new RulesetEngine().load(text, 'x.nft');
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

const inChain = (hook: string, rule: string) =>
  `table ip t {\n chain c {\n  type ${hook === 'postrouting' || hook === 'prerouting' ? 'nat' : 'filter'} hook ${hook} priority 0;\n  ${rule}\n }\n}\n`;

describe('nft keywords cannot name things (nft 1.0.6: syntax error, unexpected KEYWORD, expecting string)', () => {
  it('a chain, table, set, map, object or flowtable named by a keyword, or a jump to one, is refused at the name', () => {
    assert.equal(loadError('table ip t {\n chain ipsec {\n }\n}\n'), "x.nft:2:8: 'ipsec' is an nft keyword and cannot name a chain (nft 1.0.6: syntax error, unexpected ipsec, expecting string): rename it");
    assert.match(loadError('table ip fib {\n}\n'), /^x\.nft:1:10: 'fib' is an nft keyword and cannot name a table/);
    assert.match(loadError('table fwd {\n}\n'), /^x\.nft:1:7: 'fwd' is an nft keyword and cannot name a table/);
    assert.match(loadError('table ip t {\n set flow {\n  type ipv4_addr\n }\n}\n'), /^x\.nft:2:6: 'flow' is an nft keyword and cannot name a set/);
    assert.match(loadError('table ip t {\n map meter {\n  type ipv4_addr : verdict\n }\n}\n'), /^x\.nft:2:6: 'meter' is an nft keyword and cannot name a map/);
    assert.match(loadError('table ip t {\n counter log {\n }\n}\n'), /^x\.nft:2:10: 'log' is an nft keyword and cannot name a counter/);
    assert.match(loadError('table ip t {\n chain c {\n  jump dup\n }\n}\n'), /^x\.nft:3:8: 'dup' is an nft keyword and cannot name a chain/);
    assert.match(loadError('table ip t {\n chain c {\n  tcp dport vmap { 22 : goto ipsec }\n }\n}\n'), /^x\.nft:3:30: 'ipsec' is an nft keyword/);
    assert.match(loadError('table ip t {\n}\nadd chain ip t queue\n'), /^x\.nft:3:16: 'queue' is an nft keyword and cannot name a chain/);
    assert.match(loadError('table ip t {\n chain c {\n }\n}\nadd rule ip t ct accept\n'), /^x\.nft:5:15: 'ct' is an nft keyword/);
  });

  it('words that are keywords only inside a statement (filter, input, forward, nat, saddr, to, level) name things freely, as in nft', () => {
    for (const n of ['filter', 'input', 'forward', 'output', 'nat', 'saddr', 'to', 'level', 'ipsec_in', 'fw']) {
      assert.equal(loadError(`table ip ${n} {\n chain ${n} {\n  jump x_${n}\n }\n chain x_${n} {\n }\n set s_${n} {\n  type ipv4_addr\n }\n}\n`), 'accepted', n);
    }
    assert.ok(NFT_KEYWORDS.has('ipsec') && NFT_KEYWORDS.has('fwd') && !NFT_KEYWORDS.has('filter'));
  });

  it('JSON refuses a keyword name too: nft -j takes it, but its text listing would not load back (found by the fuzz pass)', () => {
    const json = { nftables: [{ table: { family: 'ip', name: 't' } }, { chain: { family: 'ip', table: 't', name: 'ipsec', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } }] };
    assert.match(loadError(JSON.stringify(json)), /"name" "ipsec" is an nft keyword: nft -j takes it, but its text listing cannot be loaded back/);
    const ok = { nftables: [{ table: { family: 'ip', name: 't' } }, { chain: { family: 'ip', table: 't', name: 'ipsec_in', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } }] };
    assert.equal(loadError(JSON.stringify(ok)), 'accepted');
  });
});

describe('a transport protocol before a port (nft 1.0.6 refuses one without it)', () => {
  it('NAT to a port: refused without a transport protocol match before it in the rule', () => {
    const msg = /^x\.nft:4:\d+: (masquerade|snat|dnat|redirect) to \.\.\.:PORT needs a transport protocol match earlier in the rule .*transport protocol mapping is only valid after transport protocol match/;
    assert.match(loadError(inChain('postrouting', 'masquerade to :1024-2000')), msg);
    assert.match(loadError(inChain('postrouting', 'snat to 198.51.100.1:1024')), msg);
    assert.match(loadError(inChain('prerouting', 'dnat to 198.51.100.1:80')), msg);
    assert.match(loadError(inChain('prerouting', 'redirect to :8080')), msg);
    assert.match(loadError(inChain('postrouting', 'meta l4proto != tcp masquerade to :1024')), msg, '!= states no protocol');
    assert.match(loadError(inChain('postrouting', 'th dport 53 masquerade to :1024')), msg, 'th is any transport header');
    assert.match(loadError(inChain('postrouting', 'ip daddr 192.0.2.1 masquerade to :1024')), msg);
  });

  it('NAT to a port after meta l4proto, ip protocol, a transport header field, or a set of protocols: accepted; NAT without a port needs none', () => {
    for (const r of [
      'meta l4proto tcp masquerade to :1024-2000',
      'ip protocol tcp masquerade to :1024',
      'meta l4proto { tcp, udp } masquerade to :1024',
      'udp dport 53 masquerade to :1024',
      'meta l4proto tcp counter masquerade to :1024 random',
      'icmp type echo-request masquerade to :1024',
      'masquerade',
      'snat to 198.51.100.1',
    ]) {
      assert.equal(loadError(inChain('postrouting', r)), 'accepted', r);
    }
  });

  it('ct original|reply proto-src|proto-dst: refused without a transport protocol match before it (nft: "Can\'t parse symbolic invalid expressions")', () => {
    const msg = /^x\.nft:4:\d+: ct (original|reply) proto-(src|dst) needs a transport protocol match earlier in the rule .*Can't parse symbolic invalid expressions/;
    assert.match(loadError(inChain('forward', 'ct original proto-dst 53 accept')), msg);
    assert.match(loadError(inChain('forward', 'ct reply proto-src { 53, 80 } accept')), msg);
    assert.match(loadError(inChain('forward', 'ct original proto-dst != 53 accept')), msg);
    assert.match(loadError(inChain('forward', 'meta l4proto != udp ct original proto-dst 53 accept')), msg);
    assert.match(loadError(inChain('forward', 'th dport 53 ct original proto-dst 53 accept')), msg);
    assert.equal(loadError(inChain('forward', 'meta l4proto udp ct original proto-dst 53 accept')), 'accepted');
    assert.equal(loadError(inChain('forward', 'ip protocol udp ct reply proto-src 53 accept')), 'accepted');
    assert.equal(loadError(inChain('forward', 'tcp dport 22 ct original proto-dst 53 accept')), 'accepted');
  });

  it('the same in JSON (nft -j refuses both too)', () => {
    const rule = (expr: unknown[], type = 'nat', hook = 'postrouting') =>
      JSON.stringify({
        nftables: [
          { table: { family: 'ip', name: 't' } },
          { chain: { family: 'ip', table: 't', name: 'c', type, hook, prio: 100, policy: 'accept' } },
          { rule: { family: 'ip', table: 't', chain: 'c', expr } },
        ],
      });
    assert.match(loadError(rule([{ masquerade: { port: 1024 } }])), /masquerade to \.\.\.:PORT needs a transport protocol match/);
    assert.equal(loadError(rule([{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } }, { masquerade: { port: 1024 } }])), 'accepted');
    assert.match(loadError(rule([{ match: { op: '==', left: { ct: { key: 'proto-dst', dir: 'original' } }, right: 53 } }], 'filter', 'forward')), /ct original proto-dst needs a transport protocol match/);
  });
});
