/**
 * Set attributes real listings carry: `size` (a cap, enforced), `policy` (kept, listed as nft
 * does), `auto-merge` (overlapping intervals accepted, matching as their union). Text, JSON,
 * and packets on IPv4 and IPv6.
 */
import assert from 'node:assert/strict';
import { buildUdp } from '../packet/build.js';
import { parsePacket } from '../packet/parse.js';
import { RulesetEngine } from './engine.js';
import { ClassifyContext, Hook, Verdict } from './context.js';

function load(text: string): RulesetEngine {
  const e = new RulesetEngine();
  e.load(text, 'x.nft');
  return e;
}

function loadError(text: string | object): string {
  try {
    new RulesetEngine().load(text, 'x.nft');
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

function verdict(e: RulesetEngine, src: string): Verdict {
  const v6 = src.includes(':');
  const bytes = buildUdp({ src, dst: v6 ? '2001:db8:1::1' : '198.51.100.1', sport: 1000, dport: 53 });
  const ctx = new ClassifyContext();
  parsePacket(ctx.pkt, bytes, 0, bytes.length, 0);
  return e.compiled.classify(ctx, Hook.Forward);
}

const CHAIN = 'chain fw { type filter hook forward priority filter; policy accept; ip saddr @s4 drop; ip6 saddr @s6 drop; }';

describe('set attributes: size, policy, auto-merge', () => {
  it('are kept and listed back in nft order, and the listing loads again (text and JSON)', () => {
    const e = load(`table inet t {
  set s4 { type ipv4_addr; flags interval; auto-merge; size 100; policy memory; comment "c"; elements = { 192.0.2.0/28 } }
  set s6 { type ipv6_addr; policy performance; size 65536; elements = { 2001:db8::1 } }
  ${CHAIN}
}`);
    const text = e.list();
    assert.match(text, /set s4 \{\n\t\ttype ipv4_addr\n\t\tpolicy memory\n\t\tsize 100\n\t\tflags interval\n\t\tauto-merge\n\t\tcomment "c"\n/);
    // performance is nft's default: nft 1.0.6 lists no policy line for it, text or JSON.
    assert.match(text, /set s6 \{\n\t\ttype ipv6_addr\n\t\tsize 65536\n\t\telements/);
    assert.equal(load(text).list(), text);
    const json = e.toJSON();
    const s4 = json.nftables.find((o) => 'set' in o && o.set.name === 's4') as { set: Record<string, unknown> };
    assert.equal(s4.set.size, 100);
    assert.equal(s4.set.policy, 'memory');
    assert.equal(s4.set['auto-merge'], true);
    const back = new RulesetEngine();
    back.load(JSON.parse(JSON.stringify(json)));
    assert.equal(back.list(), text);
  });

  it('refuses bad values with their place, in text and JSON', () => {
    const set = (attrs: string) => `table ip t {\n  set s { type ipv4_addr; ${attrs} }\n}`;
    assert.equal(loadError(set('size 0')), "x.nft:2:32: set size must be an integer from 1 to 4294967295, got 0");
    assert.equal(loadError(set('policy fast')), "x.nft:2:34: set policy must be performance or memory, got 'fast'");
    assert.equal(loadError('table ip t {\n  map m { type ipv4_addr : mark; auto-merge }\n}'), 'x.nft:2:34: auto-merge applies to sets, not maps');
    const jset = (extra: object, kind = 'set') => ({ nftables: [{ table: { family: 'ip', name: 't' } }, { [kind]: { family: 'ip', table: 't', name: 's', type: 'ipv4_addr', ...(kind === 'map' ? { map: 'mark' } : {}), ...extra } }] });
    assert.match(loadError(jset({ size: -1 })), /\/nftables\/1\/set: "size" must be an integer from 1 to 4294967295/);
    assert.match(loadError(jset({ policy: 'fast' })), /\/nftables\/1\/set: "policy" must be "performance" or "memory"/);
    assert.match(loadError(jset({ 'auto-merge': 'yes' })), /"auto-merge" must be true or false/);
    assert.match(loadError(jset({ 'auto-merge': true }, 'map')), /\/nftables\/1\/map: auto-merge applies to sets, not maps/);
  });

  it('size is a cap: a batch past it is refused with the set\'s place, and nothing changes', () => {
    assert.equal(
      loadError(`table inet t {\n  set s4 { type ipv4_addr; size 2; elements = { 192.0.2.1, 192.0.2.2,\n 192.0.2.3 } }\n  set s6 { type ipv6_addr; }\n  ${CHAIN}\n}`),
      "x.nft:2:3: set 's4' is full: its size is 2; raise 'size' in its declaration or remove elements first",
    );
    const e = load(`table inet t {\n  set s4 { type ipv4_addr; size 2; elements = { 192.0.2.1 } }\n  set s6 { type ipv6_addr; size 1; elements = { 2001:db8::1 } }\n  ${CHAIN}\n}`);
    const gen = e.generation;
    assert.throws(() => e.transaction('add element inet t s6 { 2001:db8::2 }'), /set 's6' is full: its size is 1/);
    assert.throws(() => e.transaction('add element inet t s4 { 192.0.2.2, 192.0.2.3 }'), /<transaction>:1:\d+: set 's4' is full: its size is 2/);
    assert.equal(e.generation, gen, 'nothing committed');
    assert.equal(verdict(e, '192.0.2.2'), Verdict.Accept, 'the refused batch added nothing');
    // An element already there is no new element; a delete in the same batch makes room.
    e.transaction('add element inet t s6 { 2001:db8::1 }');
    e.transaction('delete element inet t s6 { 2001:db8::1 }\nadd element inet t s6 { 2001:db8::2 }');
    assert.equal(verdict(e, '2001:db8::2'), Verdict.Drop);
    assert.equal(verdict(e, '2001:db8::1'), Verdict.Accept);
    e.transaction('add element inet t s4 { 192.0.2.2 }');
    assert.equal(verdict(e, '192.0.2.2'), Verdict.Drop);
  });

  it('auto-merge: overlapping intervals load and match as their union (IPv4, IPv6); without it they conflict', () => {
    const sets = (am: string) => `table inet t {
  set s4 { type ipv4_addr; flags interval; ${am} elements = { 192.0.2.0/28, 192.0.2.8-192.0.2.40, 192.0.2.64/26 } }
  set s6 { type ipv6_addr; flags interval; ${am} elements = { 2001:db8::/64, 2001:db8::8000:0:0:0/65, 2001:db8:0:1::/64 } }
  ${CHAIN}
}`;
    assert.match(loadError(sets('')), /set 's4': conflicting intervals in set/);
    const e = load(sets('auto-merge;'));
    for (const [src, v] of [['192.0.2.0', Verdict.Drop], ['192.0.2.30', Verdict.Drop], ['192.0.2.40', Verdict.Drop], ['192.0.2.41', Verdict.Accept], ['192.0.2.100', Verdict.Drop], ['192.0.3.0', Verdict.Accept]] as const) {
      assert.equal(verdict(e, src), v, src);
    }
    for (const [src, v] of [['2001:db8::1', Verdict.Drop], ['2001:db8::ffff:0:0:1', Verdict.Drop], ['2001:db8:0:1::5', Verdict.Drop], ['2001:db8:0:2::1', Verdict.Accept]] as const) {
      assert.equal(verdict(e, src), v, src);
    }
    // A later add overlapping what is there merges too.
    e.transaction('add element inet t s4 { 192.0.2.30-192.0.2.50 }');
    assert.equal(verdict(e, '192.0.2.45'), Verdict.Drop);
    assert.equal(verdict(e, '192.0.2.51'), Verdict.Accept);
    const again = load(e.list());
    assert.equal(verdict(again, '192.0.2.45'), Verdict.Drop);
  });
});
