import assert from 'node:assert/strict';
import { drops, engine, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { ClassifyContext, Hook } from '../context.js';
import { parsePacket } from '../../packet/parse.js';
import { buildTcp, buildUdp, type IpOptions } from '../../packet/build.js';
import { verifyIpv4HeaderChecksum, verifyL4Checksum } from '../../packet/checksum.js';

const V4 = { src: '192.0.2.1', dst: '198.51.100.1' };
const V6 = { src: '2001:db8::1', dst: '2001:db8:1::1' };

/** A copy of `bytes` after one forward chain holding `rules`, and whether its checksums hold. */
function after(rules: string, bytes: Uint8Array): { out: Uint8Array; ipOk: boolean; l4Ok: boolean } {
  const e = engine(rules);
  const ctx = new ClassifyContext();
  const out = bytes.slice();
  parsePacket(ctx.pkt, out, 0, out.length, 0);
  e.compiled.classify(ctx, Hook.Forward);
  return { out, ipOk: verifyIpv4HeaderChecksum(ctx.pkt), l4Ok: verifyL4Checksum(ctx.pkt) };
}

describe('ip version|hdrlength|length|checksum|ecn, ip6 version|length|flowlabel|ecn, meta protocol', () => {
  const udp4 = (o: Partial<IpOptions> = {}) => buildUdp({ ...V4, sport: 1, dport: 2, payload: 12, ...o });
  const udp6 = (o: Partial<IpOptions> = {}) => buildUdp({ ...V6, sport: 1, dport: 2, payload: 12, ...o });

  it('reads the IPv4 header fields; none of them matches IPv6', () => {
    const p = udp4({ tos: (10 << 2) | 2 });
    assert.equal(drops('ip version 4', p), true);
    assert.equal(drops('ip hdrlength 5', p), true);
    assert.equal(drops('ip hdrlength > 5', udp4({ ipOptions: Uint8Array.of(1, 1, 1, 1) })), true, 'options: 6 words');
    assert.equal(drops('ip length 40', p), true, '20 + 8 + 12');
    assert.equal(drops('ip length 41-100', p), false);
    assert.equal(drops(`ip checksum ${(p[10]! << 8) | p[11]!}`, p), true);
    assert.equal(drops('ip ecn ect0', p), true);
    assert.equal(drops('ip ecn 2', p), true);
    assert.equal(drops('ip ecn { not-ect, ce }', p), false);
    assert.equal(drops('ip dscp af11', p), true, 'ECN bits do not disturb the DSCP');
    for (const m of ['ip version != 0', 'ip length != 0', 'ip ecn != ce', 'ip hdrlength != 0']) assert.equal(drops(m, udp6()), false, m);
  });

  it('reads the IPv6 header fields; none of them matches IPv4', () => {
    const p = udp6({ tos: (46 << 2) | 3, flowLabel: 0x12345 });
    assert.equal(drops('ip6 version 6', p), true);
    assert.equal(drops('ip6 length 20', p), true, 'payload length: 8 + 12');
    assert.equal(drops('ip6 flowlabel 74565', p), true);
    assert.equal(drops('ip6 flowlabel 0x12345', p), true);
    assert.equal(drops('ip6 flowlabel != 0x12345', p), false);
    assert.equal(drops('ip6 ecn ce', p), true);
    assert.equal(drops('ip6 dscp ef', p), true);
    for (const m of ['ip6 version != 0', 'ip6 length != 0', 'ip6 flowlabel != 1', 'ip6 ecn != ce']) assert.equal(drops(m, udp4()), false, m);
  });

  it('meta protocol is ip or ip6 by the packet\'s family', () => {
    assert.equal(drops('meta protocol ip', udp4()), true);
    assert.equal(drops('meta protocol ip6', udp4()), false);
    assert.equal(drops('meta protocol ip6', udp6()), true);
    assert.equal(drops('meta protocol { ip, ip6 }', udp6()), true);
    assert.equal(drops('meta protocol arp', udp4()), false);
    assert.equal(drops('meta protocol 0x86dd', udp6()), true);
  });

  it('ip ttl set, ip ecn set, ip dscp set: the bytes a host would have sent, header checksum right', () => {
    const tcp = (o: Partial<IpOptions> = {}) => buildTcp({ ...V4, sport: 40000, dport: 443, flags: 'S', mss: 1460, ...o });
    for (const [rule, want] of [
      ['ip ttl set 1', tcp({ ttl: 1 })],
      ['ip ttl set 255', tcp({ ttl: 255 })],
      ['ip ecn set ce', tcp({ tos: 3 })],
      ['ip ecn set 1', tcp({ tos: 1 })],
      ['ip dscp set ef ip ecn set ect0', tcp({ tos: (46 << 2) | 2 })],
    ] as const) {
      const r = after(rule, tcp({ tos: 0, ttl: 64 }));
      assert.deepEqual(r.out, want, rule);
      assert.ok(r.ipOk && r.l4Ok, `${rule}: checksums`);
    }
    // The DSCP is kept when the ECN is set, and the other way round.
    assert.deepEqual(after('ip ecn set not-ect', tcp({ tos: (10 << 2) | 3 })).out, tcp({ tos: 10 << 2 }));
  });

  it('ip6 hoplimit set, ip6 ecn set, ip6 flowlabel set: the bytes a host would have sent, transport checksum right', () => {
    const tcp = (o: Partial<IpOptions> = {}) => buildTcp({ ...V6, sport: 40000, dport: 443, flags: 'S', mss: 1440, ...o });
    const base = tcp({ tos: (26 << 2) | 1, flowLabel: 0xabcde, ttl: 64 });
    for (const [rule, want] of [
      ['ip6 hoplimit set 1', tcp({ tos: (26 << 2) | 1, flowLabel: 0xabcde, ttl: 1 })],
      ['ip6 ecn set ce', tcp({ tos: (26 << 2) | 3, flowLabel: 0xabcde })],
      ['ip6 flowlabel set 0x12345', tcp({ tos: (26 << 2) | 1, flowLabel: 0x12345 })],
      ['ip6 flowlabel set 0', tcp({ tos: (26 << 2) | 1, flowLabel: 0 })],
    ] as const) {
      const r = after(rule, base);
      assert.deepEqual(r.out, want, rule);
      assert.ok(r.l4Ok, `${rule}: checksum`);
    }
    // An ip6 write leaves IPv4 packets alone, and an ip write IPv6 ones.
    const v4 = buildUdp({ ...V4, sport: 1, dport: 2 });
    assert.deepEqual(after('ip6 hoplimit set 1 ip6 flowlabel set 5', v4).out, v4);
    assert.deepEqual(after('ip ttl set 1 ip ecn set ce', base).out, base);
  });

  it('lists and writes JSON as nft 1.0.6 (ECN and EtherType by name), both round trips', () => {
    const pl = (protocol: string, field: string) => ({ payload: { protocol, field } });
    assert.deepEqual(roundTrips('ip ecn 2 accept', 'ip ecn ect0 accept')[0], { match: { op: '==', left: pl('ip', 'ecn'), right: 'ect0' } });
    assert.deepEqual(roundTrips('ip dscp 8 accept', 'ip dscp cs1 accept')[0], { match: { op: '==', left: pl('ip', 'dscp'), right: 'cs1' } });
    // nft 1.0.6 names DSCP 1 `lephb` (`le` would read as the operator <=).
    assert.deepEqual(roundTrips('ip dscp { 1, 46 } accept', 'ip dscp { lephb, ef } accept')[0], { match: { op: '==', left: pl('ip', 'dscp'), right: { set: ['lephb', 'ef'] } } });
    assert.deepEqual(roundTrips('meta protocol 0x0800 accept', 'meta protocol ip accept')[0], { match: { op: '==', left: { meta: { key: 'protocol' } }, right: 'ip' } });
    assert.deepEqual(roundTrips('meta protocol { ip, ip6 } accept')[0], { match: { op: '==', left: { meta: { key: 'protocol' } }, right: { set: ['ip', 'ip6'] } } });
    assert.deepEqual(roundTrips('ip version != 4 drop')[0], { match: { op: '!=', left: pl('ip', 'version'), right: 4 } });
    assert.deepEqual(roundTrips('ip hdrlength > 5 drop')[0], { match: { op: '>', left: pl('ip', 'hdrlength'), right: 5 } });
    assert.deepEqual(roundTrips('ip length 20-100 accept')[0], { match: { op: '==', left: pl('ip', 'length'), right: { range: [20, 100] } } });
    assert.deepEqual(roundTrips('ip checksum 0x1234 accept', 'ip checksum 4660 accept')[0], { match: { op: '==', left: pl('ip', 'checksum'), right: 4660 } });
    assert.deepEqual(roundTrips('ip6 flowlabel 0x12345 accept', 'ip6 flowlabel 74565 accept')[0], { match: { op: '==', left: pl('ip6', 'flowlabel'), right: 74565 } });
    assert.deepEqual(roundTrips('ip6 length 100 accept')[0], { match: { op: '==', left: pl('ip6', 'length'), right: 100 } });
    assert.deepEqual(roundTrips('ip ttl set 64')[0], { mangle: { key: pl('ip', 'ttl'), value: 64 } });
    assert.deepEqual(roundTrips('ip6 hoplimit set 64')[0], { mangle: { key: pl('ip6', 'hoplimit'), value: 64 } });
    assert.deepEqual(roundTrips('ip ecn set 1', 'ip ecn set ect1')[0], { mangle: { key: pl('ip', 'ecn'), value: 'ect1' } });
    assert.deepEqual(roundTrips('ip6 ecn set ce')[0], { mangle: { key: pl('ip6', 'ecn'), value: 'ce' } });
    assert.deepEqual(roundTrips('ip6 flowlabel set 0x12345', 'ip6 flowlabel set 74565')[0], { mangle: { key: pl('ip6', 'flowlabel'), value: 74565 } });
  });

  it('refuses values too wide for the field, unknown names, and writes to read-only fields, with their place', () => {
    const bad = (rule: string, family = 'inet') => {
      try {
        new RulesetEngine().load(`table ${family} t { chain c { type filter hook forward priority 0;\n${rule}\n} }`, 'x.nft');
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.match(bad('ip version 16 drop'), /^x\.nft:2:\d+: 16 is out of range for ip_version/);
    assert.match(bad('ip6 flowlabel 0x100000 drop'), /^x\.nft:2:\d+: 0x100000 is out of range for ip6_flowlabel/);
    assert.match(bad('ip ecn ect2 drop'), /^x\.nft:2:\d+: 'ect2' is not a valid ecn/);
    assert.match(bad('ip ttl set 256'), /^x\.nft:2:\d+: /);
    assert.match(bad('ip6 flowlabel set 0x100000'), /^x\.nft:2:\d+: /);
    assert.match(bad('ip length set 20'), /^x\.nft:2:\d+: ip length cannot be set/);
    assert.match(bad('ip6 flowlabel 1 drop', 'ip'), /^x\.nft:2:\d+: /);
    assert.match(bad('meta protocol foo drop'), /^x\.nft:2:\d+: 'foo' is not a valid ether_type/);
  });
});
