import assert from 'node:assert/strict';
import { engine, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { ClassifyContext, Hook, type RouteMtu } from '../context.js';
import { parsePacket } from '../../packet/parse.js';
import { buildTcp } from '../../packet/build.js';

const CLAMP = 'tcp flags syn tcp option maxseg size set rt mtu';

/** Routes by the first byte of the address (IPv4) or its third 16-bit group (IPv6): MTU or 0. */
function routes(mtus: Record<number, number>): RouteMtu {
  return { mtuTo: (buf, off, family) => mtus[family === 4 ? buf[off]! : buf[off + 5]!] ?? 0 };
}

/** The bytes of a copy of `bytes` after the forward chain, with these route MTUs. */
function after(e: RulesetEngine, bytes: Uint8Array, routeMtu: RouteMtu | null): Uint8Array {
  const ctx = new ClassifyContext();
  ctx.routeMtu = routeMtu;
  const copy = bytes.slice();
  parsePacket(ctx.pkt, copy, 0, copy.length, 0);
  e.compiled.classify(ctx, Hook.Forward);
  return copy;
}

describe('rt mtu: MSS clamping to the route MTU', () => {
  // IPv4: 192.0.2.0/24 on one side, 198.51.100.0/24 on the other; IPv6 2001:db8:1:: / 2001:db8:2::.
  for (const [fam, src, dst, mtus, headers] of [
    ['IPv4', '192.0.2.10', '198.51.100.10', { 192: 1500, 198: 1400 }, 40],
    ['IPv6', '2001:db8:1::10', '2001:db8:2::10', { 1: 1500, 2: 1400 }, 60],
  ] as const) {
    const syn = (mss?: number, flags = 'S') => buildTcp({ src, dst, sport: 40000, dport: 443, flags, seq: 7, ...(mss !== undefined ? { mss } : {}), sackPerm: true });

    it(`sets the ${fam} SYN's MSS to the smaller route MTU less ${headers} bytes, checksum kept right`, () => {
      const e = engine(CLAMP);
      // Byte for byte the segment the host would have sent with that MSS.
      assert.deepEqual(after(e, syn(1460), routes(mtus)), syn(1400 - headers));
      assert.deepEqual(after(e, syn(1460, 'SA'), routes(mtus)), syn(1400 - headers, 'SA'));
      // The route back to the source counts too (the kernel's min of both).
      const [a, b] = Object.keys(mtus).map(Number);
      assert.deepEqual(after(e, syn(1460), routes({ [a!]: 1280, [b!]: 9000 })), syn(1280 - headers));
      // Like nft, `set` writes whatever the segment carried: a smaller MSS is raised.
      assert.deepEqual(after(e, syn(500), routes(mtus)), syn(1400 - headers));
      // Without the option, or without the syn flag, the segment is untouched.
      assert.deepEqual(after(e, syn(), routes(mtus)), syn());
      assert.deepEqual(after(e, syn(1460, 'A'), routes(mtus)), syn(1460, 'A'));
    });

    it(`${fam}: an MTU too small for the headers gives TCP's default 536; no route known writes nothing`, () => {
      const e = engine(CLAMP);
      const [a, b] = Object.keys(mtus).map(Number);
      assert.deepEqual(after(e, syn(1460), routes({ [a!]: headers, [b!]: 1500 })), syn(536));
      assert.deepEqual(after(e, syn(1460), routes({})), syn(1460), 'no route either way');
      assert.deepEqual(after(e, syn(1460), null), syn(1460), 'no route table');
      // One route known: that one.
      assert.deepEqual(after(e, syn(1460), routes({ [b!]: 1300 })), syn(1300 - headers));
    });

    it(`rt mtu as a match on ${fam}, and the rule stops when it has no value`, () => {
      const e = engine('rt mtu < 1400 meta mark set 1 drop');
      const ctx = new ClassifyContext();
      const bytes = syn(1460);
      parsePacket(ctx.pkt, bytes, 0, bytes.length, 0);
      ctx.routeMtu = routes(mtus);
      assert.equal(e.compiled.classify(ctx, Hook.Forward), 0, `1400 - ${headers} < 1400: dropped`);
      ctx.routeMtu = null;
      assert.equal(e.compiled.classify(ctx, Hook.Forward), 1, 'no route: no match');
    });
  }

  it('lists and writes JSON as nft 1.0.6 ({"rt": {"key": "mtu"}}), both round trips', () => {
    const rule = roundTrips(CLAMP);
    assert.deepEqual(rule[1], { mangle: { key: { 'tcp option': { name: 'maxseg', field: 'size' } }, value: { rt: { key: 'mtu' } } } });
    assert.deepEqual(roundTrips('rt mtu 1400 accept')[0], { match: { op: '==', left: { rt: { key: 'mtu' } }, right: 1400 } });
  });

  it('is refused before the routing decision (prerouting, input), as the kernel refuses it, and the other rt keys with their reason', () => {
    const bad = (hook: string, rule: string) => {
      try {
        new RulesetEngine().load(`table inet t { chain c { type filter hook ${hook} priority 0;\n${rule}\n} }`, 'x.nft');
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.match(bad('prerouting', CLAMP), /^x\.nft:2:\d+: rt mtu cannot be used in a prerouting chain/);
    assert.match(bad('input', 'rt mtu 1400 accept'), /^x\.nft:2:\d+: rt mtu cannot be used in a input chain/);
    for (const hook of ['forward', 'output', 'postrouting']) assert.equal(bad(hook, CLAMP), 'accepted', hook);
    assert.match(bad('forward', 'rt nexthop 192.0.2.1 accept'), /^x\.nft:2:\d+: `rt nexthop` reads the gateway/);
    assert.match(bad('forward', 'rt classid 5 accept'), /^x\.nft:2:\d+: `rt classid` reads the routing realm/);
    assert.match(bad('forward', 'rt ipsec exists accept'), /^x\.nft:2:\d+: `rt ipsec`/);
    // The JSON form is checked the same way.
    const json = (hook: string) => ({ nftables: [
      { table: { family: 'ip', name: 't' } },
      { chain: { family: 'ip', table: 't', name: 'c', type: 'filter', hook, prio: 0, policy: 'accept' } },
      { rule: { family: 'ip', table: 't', chain: 'c', expr: [{ mangle: { key: { 'tcp option': { name: 'maxseg', field: 'size' } }, value: { rt: { key: 'mtu' } } } }] } },
    ] });
    assert.throws(() => new RulesetEngine().load(json('prerouting')), /rt mtu cannot be used in a prerouting chain/);
    new RulesetEngine().load(json('postrouting'));
  });
});
