import assert from 'node:assert/strict';
import { RulesetEngine } from '../engine.js';
import { RulesetError } from '../errors.js';
import { ClassifyContext, Hook } from '../context.js';
import { convertRuleset } from '../check.js';
import { fillPacket, type TestPacket } from '../test-packets.js';

/** `nft list ruleset` of Debian's nft 1.0.6 (copied unchanged); the second rule was written `dnat ip addr . port to ...`. */
const CONCAT_NAT = `table ip t {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		dnat ip to ip saddr . tcp dport map { 198.51.100.1 . 80 : 192.0.2.10 . 8080 }
		dnat ip to ip daddr . tcp dport map { 198.51.100.1 . 80 : 192.0.2.10 . 8080 }
	}

	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		snat ip to ip saddr . tcp dport map { 198.51.100.1 . 80 : 192.0.2.10 . 8080 }
	}
}
table ip6 t6 {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		dnat ip6 to ip6 saddr . tcp dport map { 2001:db8::1 . 80 : 2001:db8::10 . 8080 }
	}
}
table inet ti {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		dnat ip6 to ip6 saddr . tcp dport map { 2001:db8::1 . 80 : 2001:db8::10 . 8080 }
	}
}
`;

const P = (protocol: string, field: string) => ({ payload: { protocol, field } });
/** What `nft -j list ruleset` (nft 1.0.6) wrote for the rules of CONCAT_NAT. */
const NFT_JSON = [
  { dnat: { family: 'ip', addr: { map: { key: { concat: [P('ip', 'saddr'), P('tcp', 'dport')] }, data: { set: [[{ concat: ['198.51.100.1', 80] }, { concat: ['192.0.2.10', 8080] }]] } } } } },
  { dnat: { family: 'ip', addr: { map: { key: { concat: [P('ip', 'daddr'), P('tcp', 'dport')] }, data: { set: [[{ concat: ['198.51.100.1', 80] }, { concat: ['192.0.2.10', 8080] }]] } } } } },
  { snat: { family: 'ip', addr: { map: { key: { concat: [P('ip', 'saddr'), P('tcp', 'dport')] }, data: { set: [[{ concat: ['198.51.100.1', 80] }, { concat: ['192.0.2.10', 8080] }]] } } } } },
  { dnat: { family: 'ip6', addr: { map: { key: { concat: [P('ip6', 'saddr'), P('tcp', 'dport')] }, data: { set: [[{ concat: ['2001:db8::1', 80] }, { concat: ['2001:db8::10', 8080] }]] } } } } },
  { dnat: { family: 'ip6', addr: { map: { key: { concat: [P('ip6', 'saddr'), P('tcp', 'dport')] }, data: { set: [[{ concat: ['2001:db8::1', 80] }, { concat: ['2001:db8::10', 8080] }]] } } } } },
];

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

const hexOf = (a: Uint8Array | null | undefined) => (a ? Buffer.from(a).toString('hex') : 'none');

describe('concatenated NAT maps (dnat/snat to KEY map { K : ADDR . PORT })', () => {
  it("lists as nft 1.0.6 lists them (the explicit 'addr . port' form too), writes nft -j's JSON, and JSON loads back the same", () => {
    const written = CONCAT_NAT.replace('dnat ip to ip daddr', 'dnat ip addr . port to ip daddr');
    const e = new RulesetEngine();
    e.load(written, 'c.nft');
    assert.equal(e.list(), CONCAT_NAT);
    const exprs = e.toJSON().nftables.filter((x) => 'rule' in x).map((x) => (x as { rule: { expr: unknown[] } }).rule.expr[0]);
    assert.deepEqual(exprs, NFT_JSON);
    const fromJson = new RulesetEngine();
    fromJson.load(e.toJSON());
    assert.equal(fromJson.list(), CONCAT_NAT);
    assert.equal(convertRuleset(convertRuleset(CONCAT_NAT, 'json'), 'nft'), CONCAT_NAT);
  });

  it('asks for the mapped address and port, IPv4 and IPv6; no element or the other family: no NAT', () => {
    const e = new RulesetEngine();
    e.load(CONCAT_NAT);
    const v4 = run(e, Hook.Prerouting, { src: '198.51.100.1', dst: '203.0.113.1', sport: 4000, dport: 80 });
    assert.deepEqual([hexOf(v4.natDst?.addrMin), v4.natDst?.portMin, v4.natDst?.portMax], ['c000020a', 8080, 8080]);
    const post = run(e, Hook.Postrouting, { src: '198.51.100.1', dst: '203.0.113.1', sport: 4000, dport: 80 });
    assert.deepEqual([post.natDst, hexOf(post.natSrc?.addrMin), post.natSrc?.portMin], [null, 'c000020a', 8080]);
    assert.equal(run(e, Hook.Prerouting, { src: '198.51.100.1', dst: '203.0.113.1', sport: 4000, dport: 81 }).natDst, null);
    const v6 = run(e, Hook.Prerouting, { src: '2001:db8::1', dst: '2001:db8::99', sport: 4000, dport: 80 });
    assert.deepEqual([hexOf(v6.natDst?.addrMin), v6.natDst?.portMin], ['20010db8000000000000000000000010', 8080]);
  });

  it('reads port and address ranges in the data (dnat ip to ... map { K : A-B . P-Q })', () => {
    const e = new RulesetEngine();
    const rule = 'dnat ip to tcp dport map { 80 : 192.0.2.10-192.0.2.12 . 8080-8089 }';
    e.load(`table ip t {\n chain pre { type nat hook prerouting priority dstnat; ${rule} }\n}`);
    assert.match(e.list(), /dnat ip to tcp dport map \{ 80 : 192\.0\.2\.10-192\.0\.2\.12 \. 8080-8089 \}/);
    const c = run(e, Hook.Prerouting, { src: '198.51.100.1', dst: '203.0.113.1', sport: 4000, dport: 80 });
    assert.deepEqual([hexOf(c.natDst?.addrMax), c.natDst?.portMin, c.natDst?.portMax], ['c000020c', 8080, 8089]);
  });

  it('refuses misuse with its place', () => {
    const at = (rule: string, word: string, re: RegExp, table = 'ip') => {
      const line = ` chain pre { type nat hook prerouting priority dstnat; ${rule} }`;
      const err = loadError(`table ${table} t {\n${line}\n}`);
      assert.match(err.message, re, rule);
      assert.deepEqual([err.line, err.col], [2, line.indexOf(word) + 1], `${rule}: ${err.message}`);
    };
    at('dnat ip addr . port to ip daddr . tcp dport map { 198.51.100.1 . 80 : 192.0.2.10 }', 'addr', /needs ADDR \. PORT data in every element/);
    at('dnat ip addr to ip daddr map { 198.51.100.1 : 192.0.2.10 }', 'addr', /expected 'addr \. port to SELECTOR map/);
    at('dnat ip addr . port to 192.0.2.1', 'addr', /addr \. port needs 'to SELECTOR map/);
    at('dnat ip to ip daddr . tcp dport map { 198.51.100.1 . 80 : 192.0.2.10 . 8080 . 1 }', '. 1 }', /too many parts: the data is ipv4_addr \. inet_service/);
    at('dnat ip to ip daddr . tcp dport map @m', 'dnat', /unknown map 'm'/);
    at('dnat ip to ip daddr . tcp dport map { 198.51.100.1 . 80 : 192.0.2.10 . 99999 }', '99999', /99999/);
    at('dnat ip to ip daddr . tcp dport map { 198.51.100.1 . 80 : 192.0.2.10 . 8080, 198.51.100.1 . 81 : 192.0.2.11 }', 'dnat', /every element maps to ADDR \. PORT, or every element to ADDR, not a mix/);
  });

  it('refuses a bad JSON element with the rule position', () => {
    const doc = (data: unknown) => JSON.stringify({
      nftables: [
        { table: { family: 'ip', name: 't' } },
        { chain: { family: 'ip', table: 't', name: 'pre', type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
        { rule: { family: 'ip', table: 't', chain: 'pre', expr: [{ dnat: { family: 'ip', addr: { map: { key: P('tcp', 'dport'), data: { set: [[80, data]] } } } } }] } },
      ],
    }, null, 1);
    for (const bad of [{ concat: ['192.0.2.1'] }, { concat: ['192.0.2.1', '80'] }, { concat: [1, 80] }, { concat: ['192.0.2.1', 80], x: 1 }]) {
      const err = loadError(doc(bad));
      assert.match(err.message, /map elements must be \[KEY, ADDR\] or \[KEY, \{"concat": \[ADDR, PORT\]\}\]/, JSON.stringify(bad));
      assert.ok(err.line > 1);
    }
    assert.match(loadError(doc({ concat: ['2001:db8::1', 80] })).message, /'2001:db8::1' is not an IPv4 address/);
  });
});
