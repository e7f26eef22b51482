import assert from 'node:assert/strict';
import { engine, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { ClassifyContext, Hook, Verdict, type CtEntryReader } from '../context.js';
import { CtState } from '../../ct-state/index.js';
import { parsePacket } from '../../packet/parse.js';
import { buildUdp } from '../../packet/build.js';
import { IPV4_ADDR } from '../l3-ipv4.js';
import { IPV6_ADDR } from '../l3-ipv6.js';

/** One conntrack entry (entry 3), as the datapath's tracker would give it. */
class FakeEntry implements CtEntryReader {
  constructor(
    readonly fam: 4 | 6,
    /** [original src, original dst, reply src, reply dst] */
    readonly addrs: string[],
    /** [original sport, dport, reply sport, dport] */
    readonly ports: number[],
    readonly leftMs: number,
  ) {}
  entryFamily(e: number): number {
    assert.equal(e, 3);
    return this.fam;
  }
  tupleAddr(e: number, dir: number, end: number, out: Uint32Array, off: number, words: number): void {
    assert.equal(e, 3);
    const t = this.fam === 4 ? IPV4_ADDR : IPV6_ADDR;
    assert.equal(words, t.words);
    assert.equal(t.encode(this.addrs[2 * dir + end]!, out, off, undefined as never), null);
  }
  tuplePort(e: number, dir: number, end: number): number {
    assert.equal(e, 3);
    return this.ports[2 * dir + end]!;
  }
  remainingMs(): number {
    return this.leftMs;
  }
}

function run(e: RulesetEngine, reader: FakeEntry, state = CtState.Established): Verdict {
  const ctx = new ClassifyContext();
  const pkt = reader.fam === 4
    ? buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 2 })
    : buildUdp({ src: '2001:db8::1', dst: '2001:db8:1::1', sport: 1, dport: 2 });
  parsePacket(ctx.pkt, pkt, 0, pkt.length, 0);
  ctx.ctState = state;
  ctx.ctEntry = 3;
  ctx.ctReader = reader;
  return e.compiled.classify(ctx, Hook.Forward);
}

const drops = (rule: string, reader: FakeEntry, state?: number) => run(engine(`${rule} drop`), reader, state) === Verdict.Drop;

function loadError(rule: string): string {
  try {
    new RulesetEngine().load(`table inet t { chain c { type filter hook forward priority 0;\n${rule}\n} }`, 'x.nft');
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

// A client 192.0.2.1:5000 asked for 198.51.100.1:80, DNATed to 10.0.0.10:8080.
const V4 = new FakeEntry(4, ['192.0.2.1', '198.51.100.1', '10.0.0.10', '192.0.2.1'], [5000, 80, 8080, 5000], 25_000);
const V6 = new FakeEntry(6, ['2001:db8::1', '2001:db8:1::1', '2001:db8:2::10', '2001:db8::1'], [5000, 80, 8080, 5000], 7_200_000);

describe('ct original|reply addresses and ports, ct expiration', () => {
  it('IPv4: each tuple field of the entry, the NAT target in the reply tuple', () => {
    assert.equal(drops('ct original ip saddr 192.0.2.1', V4), true);
    assert.equal(drops('ct original ip daddr 198.51.100.1', V4), true);
    assert.equal(drops('ct reply ip saddr 10.0.0.10', V4), true);
    assert.equal(drops('ct reply ip saddr 198.51.100.1', V4), false);
    assert.equal(drops('ct reply ip daddr 192.0.2.0/24', V4), true);
    assert.equal(drops('meta l4proto udp ct original proto-src 5000', V4), true);
    assert.equal(drops('meta l4proto udp ct original proto-dst 80', V4), true);
    assert.equal(drops('meta l4proto udp ct reply proto-src { 8080, 8443 }', V4), true);
    assert.equal(drops('meta l4proto udp ct reply proto-dst 80', V4), false);
    assert.equal(drops('ct original ip6 saddr ::/0', V4), false, 'an IPv4 entry has no IPv6 tuple');
  });

  it('IPv6: 128-bit tuple addresses', () => {
    assert.equal(drops('ct original ip6 saddr 2001:db8::1', V6), true);
    assert.equal(drops('ct original ip6 daddr 2001:db8:1::/48', V6), true);
    assert.equal(drops('ct reply ip6 saddr 2001:db8:2::10', V6), true);
    assert.equal(drops('ct reply ip6 saddr 2001:db8:1::1', V6), false);
    assert.equal(drops('meta l4proto udp ct reply proto-src 8080', V6), true);
    assert.equal(drops('ct original ip saddr 0.0.0.0/0', V6), false);
  });

  it('ct expiration: the remaining lifetime against whole seconds', () => {
    assert.equal(drops('ct expiration < 30s', V4), true, '25 s left');
    assert.equal(drops('ct expiration < 20s', V4), false);
    assert.equal(drops('ct expiration 20s-30s', V4), true);
    assert.equal(drops('ct expiration > 1h', V6), true, '2 h left');
    assert.equal(drops('ct expiration 2h', V6), true);
  });

  it('no connection (invalid, untracked): no ct field matches, not even !=', () => {
    for (const st of [CtState.Invalid, CtState.Untracked]) {
      assert.equal(drops('ct original ip saddr != 203.0.113.1', V4, st), false);
      assert.equal(drops('meta l4proto udp ct reply proto-dst != 1', V4, st), false);
      assert.equal(drops('ct expiration >= 0s', V4, st), false);
    }
    assert.equal(drops('ct original ip saddr != 203.0.113.1', V4, CtState.New), true);
  });

  it('listed and written as nft 1.0.6 lists them', () => {
    assert.deepEqual(roundTrips('ct original ip saddr 192.0.2.1 drop')[0], { match: { op: '==', left: { ct: { key: 'ip saddr', dir: 'original' } }, right: '192.0.2.1' } });
    assert.deepEqual(roundTrips('ct reply ip6 daddr 2001:db8::1 drop')[0], { match: { op: '==', left: { ct: { key: 'ip6 daddr', dir: 'reply' } }, right: '2001:db8::1' } });
    assert.deepEqual(roundTrips('meta l4proto tcp ct original proto-src 22 drop')[1], { match: { op: '==', left: { ct: { key: 'proto-src', dir: 'original' } }, right: 22 } });
    assert.deepEqual(roundTrips('meta l4proto tcp ct reply proto-dst { 22, 80 } drop')[1], { match: { op: '==', left: { ct: { key: 'proto-dst', dir: 'reply' } }, right: { set: [22, 80] } } });
    assert.deepEqual(roundTrips('ct expiration < 30s drop')[0], { match: { op: '<', left: { ct: { key: 'expiration' } }, right: 30 } });
    assert.deepEqual(roundTrips('ct expiration 1m-2h drop', 'ct expiration 60s-7200s drop')[0], { match: { op: '==', left: { ct: { key: 'expiration' } }, right: { range: [60, 7200] } } });
  });

  it('refuses the family-less form in an inet table, fractions of seconds and wrong values, with the place', () => {
    assert.match(loadError('ct original saddr 192.0.2.1 drop'), /^x\.nft:2:1: 'ct original saddr' takes the address family from the table, and an inet table has two: write 'ct original ip saddr' or 'ct original ip6 saddr'/);
    assert.match(loadError('ct expiration 500ms drop'), /^x\.nft:2:15: '500ms': ct expiration compares whole seconds/);
    assert.match(loadError('ct expiration soon drop'), /^x\.nft:2:15: 'soon' is not a duration/);
    assert.match(loadError('ct reply ip saddr 2001:db8::1 drop'), /^x\.nft:2:19: '2001:db8::1' is not a valid IPv4 address/);
    const t6 = new RulesetEngine();
    assert.throws(() => t6.load('table ip6 t { chain c { type filter hook forward priority 0;\nct original ip saddr 192.0.2.1 drop\n} }', 'x.nft'), /x\.nft:2:1: .*cannot be used in a table of family ip6/);
  });

  describe('the family-less ct original|reply saddr|daddr, in the table\'s family as nft reads it', () => {
    const table = (family: 'ip' | 'ip6', rule: string) => `table ${family} t {\n\tchain c {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\t${rule}\n\t}\n}\n`;
    /** What nft -j writes for such a rule: the family-less key. */
    const json = (family: 'ip' | 'ip6', key: string, dir: string, right: string) => ({ nftables: [
      { table: { family, name: 't' } },
      { chain: { family, table: 't', name: 'c', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
      { rule: { family, table: 't', chain: 'c', expr: [{ match: { op: '==', left: { ct: { key, dir } }, right } }, { drop: null }] } },
    ] });

    for (const [family, fam, addrs, rule, listed] of [
      ['ip', 4, ['192.0.2.1', '198.51.100.1', '203.0.113.9', '192.0.2.1'], 'ct original saddr 192.0.2.1 ct reply saddr 203.0.113.9', 'ct original ip saddr 192.0.2.1 ct reply ip saddr 203.0.113.9 drop'],
      ['ip6', 6, ['2001:db8::1', '2001:db8:1::1', '2001:db8:9::9', '2001:db8::1'], 'ct original saddr 2001:db8::1 ct reply saddr 2001:db8:9::9', 'ct original ip6 saddr 2001:db8::1 ct reply ip6 saddr 2001:db8:9::9 drop'],
    ] as const) {
      it(`in an ${family} table: read as ct DIR ${family} saddr, listed so (as nft 1.0.6), and matches the entry's tuple`, () => {
        const e = new RulesetEngine();
        e.load(table(family, `${rule} drop`), 'x.nft');
        assert.equal(e.list(), table(family, listed));
        const entry = new FakeEntry(fam, [...addrs], [1, 2, 2, 1], 30_000);
        assert.equal(run(e, entry), Verdict.Drop);
        const other = new FakeEntry(fam, [addrs[1]!, addrs[0]!, addrs[0]!, addrs[1]!], [1, 2, 2, 1], 30_000);
        assert.equal(run(e, other), Verdict.Accept);
      });

      it(`in an ${family} table: nft -j's family-less key loads as the table's family`, () => {
        const e = new RulesetEngine();
        e.load(json(family, 'daddr', 'reply', addrs[3]!));
        assert.equal(e.list(), table(family, `ct reply ${family} daddr ${addrs[3]} drop`));
        assert.equal(run(e, new FakeEntry(fam, [...addrs], [1, 2, 2, 1], 30_000)), Verdict.Drop);
      });
    }

    it('in an inet table the family is unknown: refused in text and JSON, as nft refuses it', () => {
      const e = new RulesetEngine();
      const j = json('ip', 'saddr', 'original', '192.0.2.1') as unknown as { nftables: Record<string, { family: string }>[] };
      for (const o of j.nftables) Object.values(o)[0]!.family = 'inet';
      assert.throws(() => e.load(j), /'ct original saddr' takes the address family from the table, and an inet table has two/);
      assert.match(loadError('ct reply daddr 2001:db8::1 drop'), /^x\.nft:2:1: 'ct reply daddr' takes the address family/);
    });
  });
});
