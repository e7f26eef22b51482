/**
 * Interface name wildcards as nft has them: a trailing `*` matches every name with that
 * prefix (`iifname "eth*"`), `\*` is a literal `*`; in rules, anonymous sets, maps and
 * named interval sets. Text, JSON and packets, IPv4 and IPv6.
 */
import assert from 'node:assert/strict';
import { buildUdp } from '../packet/build.js';
import { parsePacket } from '../packet/parse.js';
import { RulesetEngine } from './engine.js';
import { ClassifyContext, Hook, Verdict } from './context.js';

const V4 = buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1000, dport: 53 });
const V6 = buildUdp({ src: '2001:db8::1', dst: '2001:db8:1::1', sport: 1000, dport: 53 });

function engine(body: string): RulesetEngine {
  const e = new RulesetEngine();
  e.load(`table inet t {\n${body}\n}`, 'x.nft');
  return e;
}

const chain = (rules: string) => `chain fw { type filter hook forward priority filter; policy accept;\n${rules}\n}`;

function verdict(e: RulesetEngine, iif: string, oif: string, bytes = V4): Verdict {
  const ctx = new ClassifyContext();
  const copy = bytes.slice();
  parsePacket(ctx.pkt, copy, 0, copy.length, 0);
  ctx.iif = e.ifnames.idOf(iif);
  ctx.oif = e.ifnames.idOf(oif);
  return e.compiled.classify(ctx, Hook.Forward);
}

function loadError(body: string): string {
  try {
    engine(body);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

const Drop = Verdict.Drop;
const Accept = Verdict.Accept;

describe('interface name wildcards', () => {
  it('iifname "eth*" / oifname "wg*": a trailing * matches the prefix (and the bare prefix), IPv4 and IPv6', () => {
    const e = engine(chain('iifname "eth*" oifname "wg*" drop'));
    for (const bytes of [V4, V6]) {
      assert.equal(verdict(e, 'eth0', 'wg0', bytes), Drop);
      assert.equal(verdict(e, 'eth', 'wg-site-b', bytes), Drop, 'as the kernel: only the prefix is compared');
      assert.equal(verdict(e, 'eth1.100', 'wg1', bytes), Drop);
      assert.equal(verdict(e, 'veth0', 'wg0', bytes), Accept, 'a prefix, not a substring');
      assert.equal(verdict(e, 'et', 'wg0', bytes), Accept);
      assert.equal(verdict(e, 'eth0', 'lan', bytes), Accept);
    }
    const exact = engine(chain('iifname "eth0" drop'));
    assert.equal(verdict(exact, 'eth0', 'x'), Drop);
    assert.equal(verdict(exact, 'eth00', 'x'), Accept, 'no *: the whole name');
    const notExact = engine(chain('iifname != "eth0" oifname != "x" drop'));
    assert.equal(verdict(notExact, 'eth0', 'y', V6), Accept);
    assert.equal(verdict(notExact, 'eth1', 'x'), Accept);
    assert.equal(verdict(notExact, 'eth1', 'y'), Drop);
    const neg = engine(chain('iifname != "veth*" drop'));
    assert.equal(verdict(neg, 'veth12', 'x'), Accept);
    assert.equal(verdict(neg, 'eth0', 'x', V6), Drop);
  });

  it('in anonymous sets, verdict maps and named interval sets', () => {
    const e = engine(`set ifs { type ifname; flags interval; elements = { "dmz*", "wg0" } }
${chain('iifname { "lan*", "mgmt0" } drop\noifname @ifs drop\niifname vmap { "ext*" : drop, "int0" : accept }')}`);
    assert.equal(verdict(e, 'lan3', 'x'), Drop);
    assert.equal(verdict(e, 'mgmt0', 'x', V6), Drop);
    assert.equal(verdict(e, 'mgmt1', 'x'), Accept);
    assert.equal(verdict(e, 'a', 'dmz-web', V6), Drop);
    assert.equal(verdict(e, 'a', 'wg0'), Drop);
    assert.equal(verdict(e, 'a', 'wg1'), Accept);
    assert.equal(verdict(e, 'ext-uplink', 'x', V6), Drop);
    assert.equal(verdict(e, 'int0', 'x'), Accept, 'the vmap accepts it');
    // A later element add, through a transaction.
    e.transaction('add element inet t ifs { "vpn*" }');
    assert.equal(verdict(e, 'a', 'vpn7'), Drop);
    // As nft: a named set needs flags interval for a wildcard, as for a prefix.
    assert.match(loadError('set s { type ifname; elements = { "eth*" } }'), /^x\.nft:2:\d+: set 's' needs 'flags interval' for ranges, prefixes and interface wildcards/);
  });

  it('a backslash makes the * literal, as nft ("a\\*" is the name a*)', () => {
    const e = engine(chain('iifname "a\\*" drop'));
    assert.equal(verdict(e, 'a*', 'x'), Drop);
    assert.equal(verdict(e, 'ab', 'x'), Accept);
    assert.match(e.list(), /iifname "a\\\*" drop/);
  });

  it('prints back as written and round-trips through text and JSON', () => {
    const e = engine(`set ifs { type ifname; flags interval; elements = { "dmz*", "wg0" } }
${chain('iifname "eth*" oifname "wg*" accept\niifname { "lan*", "mgmt0" } drop\niifname "a\\*" accept')}`);
    const text = e.list();
    assert.match(text, /iifname "eth\*" oifname "wg\*" accept/);
    assert.match(text, /iifname \{ "lan\*", "mgmt0" \} drop/);
    assert.match(text, /elements = \{ "dmz\*",\s+"wg0" \}/);
    assert.equal(engine(text.replace(/^table inet t \{\n|\}\n?$/g, '')).list(), text);
    const json = JSON.stringify(e.toJSON());
    // nft -j writes the wildcard as the string "eth*", the escaped star as "a\\*".
    assert.ok(json.includes('"right":"eth*"') && json.includes('"right":"a\\\\*"'), json);
    const back = new RulesetEngine();
    back.load(json);
    assert.equal(back.list(), text);
    assert.equal(verdict(back, 'eth9', 'wg2'), Accept);
  });

  it('refuses names too long, with the place', () => {
    assert.match(loadError(chain('iifname "abcdefghijklmnop*" drop')), /^x\.nft:3:9: 'abcdefghijklmnop\*' is not a valid interface name \(1-15 bytes before the \*\)/);
    assert.match(loadError(chain('iifname "abcdefghijklmnop" drop')), /^x\.nft:3:9: 'abcdefghijklmnop' is not a valid interface name \(1-15 bytes\)/);
    assert.equal(loadError(chain('iifname "abcdefghijklmno*" drop')), 'accepted', 'a 15-byte prefix');
  });
});
