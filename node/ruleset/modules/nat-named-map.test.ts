import assert from 'node:assert/strict';
import { RulesetEngine } from '../engine.js';
import { RulesetError } from '../errors.js';
import { ClassifyContext, Hook } from '../context.js';
import { fillPacket, type TestPacket } from '../test-packets.js';

/** As Debian's nft 1.0.6 lists it, byte for byte, except that its `typeof` declaration of portfwd6 lists here as the types it names. */
const NAMED = `table ip nat {
	map portfwd {
		type ipv4_addr . inet_service : ipv4_addr . inet_service
		elements = { 198.51.100.1 . 80 : 192.0.2.10 . 8080,
			     198.51.100.1 . 443 : 192.0.2.11 . 8443 }
	}

	map one {
		type ipv4_addr : ipv4_addr
		elements = { 198.51.100.2 : 192.0.2.12 }
	}

	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		dnat ip to ip daddr . tcp dport map @portfwd
		dnat to ip daddr map @one
	}

	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		snat ip to ip saddr . tcp sport map @portfwd
	}
}
table ip6 nat6 {
	map portfwd6 {
		type ipv6_addr . inet_service : ipv6_addr . inet_service
		elements = { 2001:db8:1::1 . 80 : 2001:db8::10 . 8080 }
	}

	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		dnat ip6 to ip6 daddr . tcp dport map @portfwd6
	}
}
`;

const P = (protocol: string, field: string) => ({ payload: { protocol, field } });

function run(e: RulesetEngine, hook: Hook, p: TestPacket): ClassifyContext {
  const ctx = new ClassifyContext();
  fillPacket(ctx.pkt, p);
  ctx.natChains = true;
  e.compiled.classify(ctx, hook);
  return ctx;
}

const hexOf = (a: Uint8Array | null | undefined) => (a ? Buffer.from(a).toString('hex') : 'none');
const dst = (c: ClassifyContext) => [hexOf(c.natDst?.addrMin), c.natDst?.portMin ?? null];

function loadError(text: string): { line: number; col: number; message: string } {
  try {
    new RulesetEngine().load(text, 'f.nft');
  } catch (e) {
    if (e instanceof RulesetError) return e.errors[0]!;
    throw e;
  }
  throw new Error('expected an error');
}

describe('named NAT maps (dnat ip to KEY map @m, concatenated data)', () => {
  it('loads nft 1.0.6\'s listing (typeof too) and lists it back; JSON as nft -j writes it, both ways', () => {
    const e = new RulesetEngine();
    const declared = NAMED.replace('type ipv6_addr . inet_service : ipv6_addr . inet_service', 'typeof ip6 daddr . tcp dport : ip6 daddr . tcp dport');
    e.load(declared, 'n.nft');
    // As nft 1.0.6: listed with the typeof it was declared with; its JSON (below) has the types, and lists as `type`.
    assert.equal(e.list(), declared);
    const json = e.toJSON().nftables;
    const map = json.find((x) => 'map' in x && (x as { map: { name: string } }).map.name === 'portfwd') as { map: Record<string, unknown> };
    // nft -j (1.0.6): "map": "ipv4_addr . inet_service", elements as concat pairs.
    assert.equal(map.map.map, 'ipv4_addr . inet_service');
    assert.deepEqual(map.map.type, ['ipv4_addr', 'inet_service']);
    assert.deepEqual(map.map.elem, [[{ concat: ['198.51.100.1', 80] }, { concat: ['192.0.2.10', 8080] }], [{ concat: ['198.51.100.1', 443] }, { concat: ['192.0.2.11', 8443] }]]);
    const exprs = json.filter((x) => 'rule' in x).map((x) => (x as { rule: { expr: unknown[] } }).rule.expr[0]);
    assert.deepEqual(exprs[0], { dnat: { family: 'ip', addr: { map: { key: { concat: [P('ip', 'daddr'), P('tcp', 'dport')] }, data: '@portfwd' } } } });
    assert.deepEqual(exprs[1], { dnat: { addr: { map: { key: P('ip', 'daddr'), data: '@one' } } } });
    const fromJson = new RulesetEngine();
    fromJson.load(e.toJSON());
    assert.equal(fromJson.list(), NAMED);
  });

  it('translates to the element\'s address and port, IPv4 and IPv6; a key with no element: no NAT', () => {
    const e = new RulesetEngine();
    e.load(NAMED);
    assert.deepEqual(dst(run(e, Hook.Prerouting, { src: '203.0.113.5', dst: '198.51.100.1', sport: 4000, dport: 80 })), ['c000020a', 8080]);
    assert.deepEqual(dst(run(e, Hook.Prerouting, { src: '203.0.113.5', dst: '198.51.100.1', sport: 4000, dport: 443 })), ['c000020b', 8443]);
    assert.deepEqual(dst(run(e, Hook.Prerouting, { src: '203.0.113.5', dst: '198.51.100.2', sport: 4000, dport: 22 })), ['c000020c', 0], 'address-only map: no port (the connection keeps its own)');
    assert.deepEqual(dst(run(e, Hook.Prerouting, { src: '203.0.113.5', dst: '198.51.100.1', sport: 4000, dport: 81 })), ['none', null]);
    const post = run(e, Hook.Postrouting, { src: '198.51.100.1', dst: '203.0.113.5', sport: 443, dport: 4000 });
    assert.deepEqual([hexOf(post.natSrc?.addrMin), post.natSrc?.portMin], ['c000020b', 8443]);
    const v6 = run(e, Hook.Prerouting, { src: '2001:db8:9::5', dst: '2001:db8:1::1', sport: 4000, dport: 80 });
    assert.deepEqual(dst(v6), ['20010db8000000000000000000000010', 8080]);
  });

  it('follows the map\'s elements as they change, without the rule changing', () => {
    const e = new RulesetEngine();
    e.load(NAMED);
    const pkt = { src: '203.0.113.5', dst: '198.51.100.3', sport: 4000, dport: 25 };
    assert.deepEqual(dst(run(e, Hook.Prerouting, pkt)), ['none', null]);
    e.transaction('add element ip nat portfwd { 198.51.100.3 . 25 : 192.0.2.25 . 2525 }');
    assert.deepEqual(dst(run(e, Hook.Prerouting, pkt)), ['c0000219', 2525]);
    e.transaction('delete element ip nat portfwd { 198.51.100.3 . 25 }');
    e.transaction('add element ip nat portfwd { 198.51.100.3 . 25 : 192.0.2.26 . 2526 }');
    assert.deepEqual(dst(run(e, Hook.Prerouting, pkt)), ['c000021a', 2526]);
    e.transaction('delete element ip nat portfwd { 198.51.100.3 . 25 }');
    assert.deepEqual(dst(run(e, Hook.Prerouting, pkt)), ['none', null]);
  });

  it('refuses a map that does not fit the statement, with the rule\'s place', () => {
    const table = (decl: string, rule: string, family = 'ip') => `table ${family} t {\n\tmap m { ${decl}; }\n\tchain pre { type nat hook prerouting priority dstnat;\n${rule}\n} }`;
    const at = (text: string, re: RegExp) => {
      const err = loadError(text);
      assert.match(err.message, re);
      assert.deepEqual([err.line, err.col], [4, 1], err.message);
    };
    at(table('type ipv4_addr . inet_service : inet_service', 'dnat ip to ip daddr . tcp dport map @m'), /needs a map whose data is ipv4_addr or ipv4_addr \. inet_service; 'm' gives inet_service/);
    at(table('type ipv4_addr : ipv4_addr . inet_service', 'dnat ip to ip daddr . tcp dport map @m'), /map 'm' has key type ipv4_addr, the selector gives ipv4_addr \. inet_service/);
    at(table('type ipv6_addr . inet_service : ipv6_addr . inet_service', 'dnat ip to ip daddr . tcp dport map @m'), /has key type ipv6_addr \. inet_service/);
    at(table('type ipv6_addr : ipv4_addr', 'dnat ip6 to ip6 daddr map @m', 'ip6'), /needs a map whose data is ipv6_addr or ipv6_addr \. inet_service/);
    at(table('type ipv4_addr : ipv4_addr', 'dnat ip to ip daddr map @nope'), /unknown map 'nope'/);
    // An element whose data is not the map's data type is refused where it is.
    const bad = loadError('table ip t {\n\tmap m {\n\t\ttype ipv4_addr : ipv4_addr . inet_service\n\t\telements = { 192.0.2.1 : 192.0.2.9 . 99999 }\n\t}\n}');
    assert.match(bad.message, /99999/);
    assert.equal(bad.line, 4);
  });
});
