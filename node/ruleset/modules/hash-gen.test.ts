import assert from 'node:assert/strict';
import { RulesetEngine } from '../engine.js';
import { RulesetError } from '../errors.js';
import { ClassifyContext, Hook, Verdict } from '../context.js';
import { convertRuleset } from '../check.js';
import { fillPacket, type TestPacket } from '../test-packets.js';
import { engine, roundTrips } from './rule-test-kit.js';
import { jhashBytes, scale } from '../jhash.js';

/** `nft list ruleset` of Debian's nft 1.0.6 after loading these rules (copied unchanged). */
const LB_RULESET = `table ip t {
	chain a {
	}

	chain b {
	}

	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		dnat to numgen inc mod 2 map { 0 : 192.0.2.1, 1 : 192.0.2.2 }
		dnat to numgen random mod 2 offset 5 map { 5 : 192.0.2.1, 6 : 192.0.2.2 }
		dnat to jhash ip saddr . tcp dport mod 2 seed 0xdead offset 1 map { 1 : 192.0.2.1, 2 : 192.0.2.2 }
		dnat to jhash ip saddr mod 2 map { 0 : 192.0.2.1, 1 : 192.0.2.2 }
		dnat to symhash mod 2 map { 0 : 192.0.2.1, 1 : 192.0.2.2 }
	}

	chain f {
		type filter hook forward priority filter; policy accept;
		meta mark set numgen inc mod 2
		meta mark set jhash ip saddr mod 4 seed 0x1
		meta mark set symhash mod 3 offset 100
		numgen inc mod 2 vmap { 0 : jump a, 1 : jump b }
		numgen random mod 10 < 3 accept
		jhash ip saddr mod 2 1 accept
		symhash mod 2 1 accept
		ct mark set numgen random mod 4 offset 1
	}
}
table ip6 t6 {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		dnat to numgen inc mod 2 map { 0 : 2001:db8::1, 1 : 2001:db8::2 }
	}
}
table inet ti {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		dnat ip to numgen inc mod 2 map { 0 : 192.0.2.1, 1 : 192.0.2.2 }
	}
}
`;

/** The rules' statements as `nft -j list ruleset` (nft 1.0.6) wrote them for LB_RULESET. */
const SADDR = { payload: { protocol: 'ip', field: 'saddr' } };
const NFT_JSON_EXPRS: unknown[][] = [
  [{ dnat: { addr: { map: { key: { numgen: { mode: 'inc', mod: 2, offset: 0 } }, data: { set: [[0, '192.0.2.1'], [1, '192.0.2.2']] } } } } }],
  [{ dnat: { addr: { map: { key: { numgen: { mode: 'random', mod: 2, offset: 5 } }, data: { set: [[5, '192.0.2.1'], [6, '192.0.2.2']] } } } } }],
  [{ dnat: { addr: { map: { key: { jhash: { mod: 2, seed: 57005, offset: 1, expr: { concat: [SADDR, { payload: { protocol: 'tcp', field: 'dport' } }] } } }, data: { set: [[1, '192.0.2.1'], [2, '192.0.2.2']] } } } } }],
  [{ dnat: { addr: { map: { key: { jhash: { mod: 2, expr: SADDR } }, data: { set: [[0, '192.0.2.1'], [1, '192.0.2.2']] } } } } }],
  [{ dnat: { addr: { map: { key: { symhash: { mod: 2 } }, data: { set: [[0, '192.0.2.1'], [1, '192.0.2.2']] } } } } }],
  [{ mangle: { key: { meta: { key: 'mark' } }, value: { numgen: { mode: 'inc', mod: 2, offset: 0 } } } }],
  [{ mangle: { key: { meta: { key: 'mark' } }, value: { jhash: { mod: 4, seed: 1, expr: SADDR } } } }],
  [{ mangle: { key: { meta: { key: 'mark' } }, value: { symhash: { mod: 3, offset: 100 } } } }],
  [{ vmap: { key: { numgen: { mode: 'inc', mod: 2, offset: 0 } }, data: { set: [[0, { jump: { target: 'a' } }], [1, { jump: { target: 'b' } }]] } } }],
  [{ match: { op: '<', left: { numgen: { mode: 'random', mod: 10, offset: 0 } }, right: 3 } }, { accept: null }],
  [{ match: { op: '==', left: { jhash: { mod: 2, expr: SADDR } }, right: 1 } }, { accept: null }],
  [{ match: { op: '==', left: { symhash: { mod: 2 } }, right: 1 } }, { accept: null }],
  [{ mangle: { key: { ct: { key: 'mark' } }, value: { numgen: { mode: 'random', mod: 4, offset: 1 } } } }],
  [{ dnat: { addr: { map: { key: { numgen: { mode: 'inc', mod: 2, offset: 0 } }, data: { set: [[0, '2001:db8::1'], [1, '2001:db8::2']] } } } } }],
  [{ dnat: { family: 'ip', addr: { map: { key: { numgen: { mode: 'inc', mod: 2, offset: 0 } }, data: { set: [[0, '192.0.2.1'], [1, '192.0.2.2']] } } } } }],
];

function exprsOf(e: RulesetEngine): unknown[][] {
  return e.toJSON().nftables.filter((x) => 'rule' in x).map((x) => (x as { rule: { expr: unknown[] } }).rule.expr);
}

function loadError(text: string | object): { line: number; col: number; message: string } {
  try {
    new RulesetEngine().load(text as string, 'f.nft');
  } catch (e) {
    if (e instanceof RulesetError) return e.errors[0]!;
    throw e;
  }
  throw new Error('expected an error');
}

function run(e: RulesetEngine, hook: Hook, p: TestPacket): ClassifyContext {
  const ctx = new ClassifyContext();
  fillPacket(ctx.pkt, p);
  ctx.natChains = true;
  e.compiled.classify(ctx, hook);
  return ctx;
}

/** The mark `meta mark set ...` (the only rule of a forward chain) gives each packet. */
function marks(rule: string, packets: TestPacket[]): number[] {
  const e = engine(rule);
  return packets.map((p) => run(e, Hook.Forward, p).metaMark);
}

const V4: TestPacket = { src: '198.51.100.7', dst: '192.0.2.9', proto: 'tcp', sport: 40000, dport: 80 };
const V6: TestPacket = { src: '2001:db8:1::7', dst: '2001:db8::9', proto: 'tcp', sport: 40000, dport: 80 };

const addrText = (a: Uint8Array | null | undefined): string => (a ? (a.length === 4 ? [...a].join('.') : Buffer.from(a).toString('hex')) : 'none');

describe('numgen, jhash, symhash (load-balancing selectors)', () => {
  it('lists as nft 1.0.6 lists them, writes the JSON nft -j writes, and JSON loads back the same', () => {
    const e = new RulesetEngine();
    e.load(LB_RULESET, 'lb.nft');
    assert.equal(e.list(), LB_RULESET);
    assert.deepEqual(exprsOf(e), NFT_JSON_EXPRS);
    const fromJson = new RulesetEngine();
    fromJson.load(e.toJSON());
    assert.equal(fromJson.list(), LB_RULESET);
    const json = convertRuleset(LB_RULESET, 'json');
    assert.equal(convertRuleset(json, 'nft'), LB_RULESET);
  });

  it('keeps a written seed 0 (`seed 0x0`: without a seed the kernel picks a random one) and reads offset/seed in hex or decimal', () => {
    assert.deepEqual(roundTrips('meta mark set jhash ip saddr . udp sport mod 1000003 seed 0x0'), [
      { mangle: { key: { meta: { key: 'mark' } }, value: { jhash: { mod: 1000003, seed: 0, expr: { concat: [SADDR, { payload: { protocol: 'udp', field: 'sport' } }] } } } } },
    ]);
    roundTrips('meta mark set jhash ip6 saddr mod 8 seed 16 offset 0x10', 'meta mark set jhash ip6 saddr mod 8 seed 0x10 offset 16');
    roundTrips('meta mark set symhash mod 2 offset 0', 'meta mark set symhash mod 2');
  });

  it("jhash gives the kernel's value for the same key and seed (values read back from Linux with nft 1.0.6)", () => {
    // Each packet went through `meta mark set jhash ... ; add @s { key . meta mark }` in a
    // network namespace; the marks below are what the kernel put in the set.
    const udp = (src: string, sport: number): TestPacket => ({ src, dst: '127.0.0.1', proto: 'udp', sport, dport: 9 });
    const pk = [udp('127.0.0.1', 4000), udp('127.0.0.2', 4001), udp('127.0.0.77', 5555), udp('127.1.2.3', 65000), udp('127.9.9.9', 1)];
    assert.deepEqual(marks('meta mark set jhash ip saddr mod 1000003 seed 0x1234', pk), [130069, 262450, 884146, 81889, 971111]);
    assert.deepEqual(marks('meta mark set jhash ip saddr . udp sport mod 1000003 seed 0x0', pk), [323342, 54693, 705025, 989617, 114260]);
    assert.deepEqual(marks('meta mark set jhash udp sport mod 1000003 seed 0x5', pk), [928384, 677227, 205780, 366240, 35517]);
    assert.deepEqual(marks('meta mark set jhash ip saddr . ip daddr mod 4000000000 seed 0x0', pk), [3716271669, 1953003800, 1393321592, 218920272, 2291577054]);
    // lookup3's own published check value: hashlittle("Four score and seven years ago", 30, 0) = 0x17770551.
    const text = new TextEncoder().encode('Four score and seven years ago');
    assert.equal(jhashBytes(text, text.length, 0), 0x17770551);
    assert.equal(scale(0xffffffff, 10), 9);
    assert.equal(scale(0x80000000, 10), 5);
  });

  it('jhash hashes IPv6 fields, and a packet without the field gets no value (the rule stops, the mark stays)', () => {
    const [a, b] = marks('meta mark set jhash ip6 saddr . tcp sport mod 1000 offset 7', [V6, { ...V6, sport: 40001 }]);
    assert.ok(a! >= 7 && a! < 1007 && b! >= 7 && b! < 1007);
    assert.deepEqual(marks('meta mark set jhash ip6 saddr . tcp sport mod 1000 offset 7', [V6, V6]), [a, a], 'the same key, the same value');
    assert.deepEqual(marks('meta mark set jhash ip saddr mod 1000 offset 7', [V6]), [0]);
  });

  it('numgen inc counts OFFSET, OFFSET+1, ... OFFSET+N-1 and round again, one counter per expression, IPv4 and IPv6', () => {
    assert.deepEqual(marks('meta mark set numgen inc mod 3 offset 10', [V4, V6, V4, V6, V4, V6, V4]), [10, 11, 12, 10, 11, 12, 10]);
    // Two rules, two counters: the second rule's counter is not advanced by the first's packets.
    const e = engine('ip saddr 198.51.100.7 meta mark set numgen inc mod 4\nip6 saddr 2001:db8:1::7 meta mark set numgen inc mod 4 offset 100');
    const seen = [V4, V4, V6, V4, V6].map((p) => run(e, Hook.Forward, p).metaMark);
    assert.deepEqual(seen, [0, 1, 100, 2, 101]);
  });

  it('numgen inc in a vmap alternates between the chains', () => {
    const e = new RulesetEngine();
    e.load(`table inet t {
	chain a {
		meta mark set 0xa accept
	}
	chain b {
		meta mark set 0xb drop
	}
	chain fw {
		type filter hook forward priority filter; policy accept;
		numgen inc mod 2 vmap { 0 : jump a, 1 : jump b }
	}
}`);
    const got = [V4, V6, V6, V4].map((p) => {
      const ctx = new ClassifyContext();
      fillPacket(ctx.pkt, p);
      return [e.compiled.classify(ctx, Hook.Forward), ctx.metaMark];
    });
    assert.deepEqual(got, [[Verdict.Accept, 0xa], [Verdict.Drop, 0xb], [Verdict.Accept, 0xa], [Verdict.Drop, 0xb]]);
  });

  it('numgen random stays in OFFSET..OFFSET+N-1, reaches every value, and `< 3` of mod 10 takes about 30%', () => {
    const many = Array.from({ length: 4000 }, (_, i) => (i % 2 ? V4 : V6));
    const got = marks('meta mark set numgen random mod 5 offset 20', many);
    assert.deepEqual([...new Set(got)].sort(), [20, 21, 22, 23, 24]);
    const e = engine('numgen random mod 10 < 3 drop');
    let dropped = 0;
    for (const p of many) {
      const ctx = new ClassifyContext();
      fillPacket(ctx.pkt, p);
      if (e.compiled.classify(ctx, Hook.Forward) === Verdict.Drop) dropped++;
    }
    // 30% of 4000 = 1200, standard deviation about 29: far outside 900..1500 is broken, not bad luck.
    assert.ok(dropped > 900 && dropped < 1500, String(dropped));
  });

  it('symhash gives both directions of a flow the same value, IPv4 and IPv6, and spreads flows', () => {
    const rule = 'meta mark set symhash mod 1000003 offset 1';
    const rev = (p: TestPacket): TestPacket => ({ ...p, src: p.dst, dst: p.src, sport: p.dport, dport: p.sport });
    for (const p of [V4, V6, { ...V4, proto: 'udp' as const }, { src: '192.0.2.1', dst: '192.0.2.1', sport: 5, dport: 6 }]) {
      const [a, b] = marks(rule, [p, rev(p)]);
      assert.equal(a, b, JSON.stringify(p));
      assert.ok(a! >= 1);
    }
    const flows = Array.from({ length: 50 }, (_, i) => ({ ...V4, sport: 1000 + i }));
    assert.ok(new Set(marks(rule, flows)).size > 45);
  });

  it('dnat to numgen inc mod 2 map spreads new connections over the addresses (ip, ip6, inet with family)', () => {
    const e = new RulesetEngine();
    e.load(LB_RULESET);
    const only = (table: string) => {
      const x = new RulesetEngine();
      x.load(e.list().split(/^table /m).filter((s) => s.startsWith(table)).map((s) => 'table ' + s).join(''));
      return x;
    };
    const ip = only('ip t ');
    // The first pre rule (numgen inc) answers every packet.
    assert.deepEqual([V4, V4, V4].map((p) => addrText(run(ip, Hook.Prerouting, p).natDst?.addrMin)), ['192.0.2.1', '192.0.2.2', '192.0.2.1']);
    const v6 = only('ip6 t6 ');
    assert.deepEqual([V6, V6].map((p) => addrText(run(v6, Hook.Prerouting, p).natDst?.addrMin)), ['20010db8000000000000000000000001', '20010db8000000000000000000000002']);
    const inet = only('inet ti ');
    assert.equal(run(inet, Hook.Prerouting, V6).natDst, null, 'dnat ip leaves IPv6 alone');
    assert.equal(addrText(run(inet, Hook.Prerouting, V4).natDst?.addrMin), '192.0.2.1');
  });

  it('snat to jhash ... map asks for a source NAT (natSrc), the same address for the same source', () => {
    const e = new RulesetEngine();
    e.load('table ip n {\n chain post { type nat hook postrouting priority srcnat; snat to jhash ip saddr mod 2 seed 0x1 map { 0 : 203.0.113.1, 1 : 203.0.113.2 } }\n}');
    const a = run(e, Hook.Postrouting, V4);
    assert.equal(a.natDst, null);
    assert.match(addrText(a.natSrc?.addrMin), /^203\.0\.113\.[12]$/);
    assert.equal(addrText(run(e, Hook.Postrouting, { ...V4, sport: 1 }).natSrc?.addrMin), addrText(a.natSrc?.addrMin));
  });

  it('refuses misuse with its place: missing or zero mod, an unknown mode, an offset past 2^32, nested hashes, typeof', () => {
    const cases: [string, string, RegExp][] = [
      ['meta mark set numgen inc', 'inc', /expected a number after numgen mod|expected 'mod N' after numgen/],
      ['meta mark set numgen up mod 2', 'up', /expected 'inc' or 'random' after numgen, got 'up'/],
      ['meta mark set numgen inc mod 0', '0', /numgen mod must be at least 1/],
      ['meta mark set symhash mod 2 offset 4294967295', '4294967295', /symhash offset 4294967295 \+ mod 2 passes 2\^32/],
      ['meta mark set jhash mod 2', 'mod', /expected the fields to hash after jhash/],
      ['meta mark set jhash numgen inc mod 2 mod 2', 'numgen', /jhash hashes packet fields, not numgen/],
      ['meta mark set jhash ip saddr mod 2 seed x', 'x', /jhash seed must be a number/],
    ];
    for (const [rule, word, re] of cases) {
      const line = ` chain c { type filter hook forward priority 0; ${rule} }`;
      const err = loadError(`table ip t {\n${line}\n}`);
      assert.match(err.message, re, rule);
      assert.equal(err.line, 2, rule);
      if (word !== 'inc') assert.equal(err.col, line.lastIndexOf(word) + 1, `${rule}: ${err.message}`);
    }
    const t = loadError('table ip t {\n set s { typeof numgen inc mod 2; }\n}');
    assert.deepEqual([t.line, t.col], [2, 17]);
    assert.match(t.message, /typeof numgen is not supported/);
    // meta mark takes the 32-bit value; a 16-bit field does not.
    assert.match(loadError('table ip t {\n chain c { type filter hook forward priority 0; tcp option maxseg size set numgen inc mod 2 }\n}').message, /needs a .* the field gives integer/);
  });

  it('refuses bad JSON parameters with the rule position', () => {
    const doc = (left: unknown) => ({
      nftables: [
        { table: { family: 'ip', name: 't' } },
        { chain: { family: 'ip', table: 't', name: 'c', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
        { rule: { family: 'ip', table: 't', chain: 'c', expr: [{ match: { op: '==', left, right: 1 } }] } },
      ],
    });
    assert.match(loadError(doc({ numgen: { mode: 'inc', mod: 0, offset: 0 } })).message, /numgen mod must be 1\.\.4294967295, got 0/);
    assert.match(loadError(doc({ numgen: { mode: 'sometimes', mod: 2 } })).message, /numgen mode must be 'inc' or 'random'/);
    assert.match(loadError(doc({ jhash: { mod: 2, expr: { numgen: { mode: 'inc', mod: 2 } } } })).message, /jhash hashes packet fields/);
    assert.match(loadError(doc({ jhash: { mod: 2, seed: -1, expr: SADDR } })).message, /jhash seed must be 0\.\.4294967295/);
    assert.match(loadError(doc({ jhash: { mod: 2 } })).message, /jhash needs the fields to hash/);
    assert.match(loadError(doc({ symhash: { mod: 2, weight: 1 } })).message, /unknown symhash field 'weight'/);
    const err = loadError(JSON.stringify(doc({ symhash: { mod: 2, offset: 4294967295 } }), null, 1));
    assert.match(err.message, /passes 2\^32/);
    assert.ok(err.line > 1, 'the position of the rule in the JSON text');
  });
});
