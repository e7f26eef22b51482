import assert from 'node:assert/strict';
import { drops, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { buildIp, buildTcp, buildUdp, type Ipv6ExtHeader } from '../../packet/build.js';

const V6 = { src: '2001:db8::1', dst: '2001:db8:1::1' };
const udp = (ext: Ipv6ExtHeader[]) => buildUdp({ ...V6, sport: 1, dport: 2, payload: 8, ext });

describe('ip6 extension headers: exthdr hbh|rt|frag|dst|mh, their fields', () => {
  // Routing header type 4 (SRv6-like body): type 4, segments left 1, then 4 reserved bytes and one address.
  const rtBody = Uint8Array.of(4, 1, 0, 0, 0, 0, ...new Array<number>(16).fill(0x20));
  const chain = udp([{ type: 'hop' }, { type: 'routing', body: rtBody }, { type: 'dst', body: new Uint8Array(10) }]);

  it('exists / missing along the header chain, as the kernel\'s ipv6_find_hdr walks it', () => {
    for (const h of ['hbh', 'rt', 'dst']) {
      assert.equal(drops(`exthdr ${h} exists`, chain), true, h);
      assert.equal(drops(`exthdr ${h} missing`, chain), false, h);
    }
    assert.equal(drops('exthdr frag missing', chain), true);
    assert.equal(drops('exthdr mh missing', chain), true);
    const bare = udp([]);
    for (const h of ['hbh', 'rt', 'frag', 'dst', 'mh']) assert.equal(drops(`exthdr ${h} missing`, bare), true, h);
    // Behind an AH header, still found (AH's length counts 4-byte words, less 2).
    assert.equal(drops('exthdr dst exists', udp([{ type: 'ah' }, { type: 'dst' }])), true);
    // IPv4 has none: neither exists nor missing matches.
    const v4 = buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 2 });
    assert.equal(drops('exthdr hbh missing', v4), false);
    assert.equal(drops('hbh nexthdr != 1', v4), false);
  });

  it('ip6 nexthdr is the fixed header\'s Next Header, as nft reads it; meta l4proto the protocol after the chain', () => {
    const hop = udp([{ type: 'hop' }]);
    assert.equal(drops('ip6 nexthdr hopopt', hop), true);
    assert.equal(drops('ip6 nexthdr udp', hop), false);
    assert.equal(drops('meta l4proto udp', hop), true);
    assert.equal(drops('ip6 nexthdr udp', udp([])), true);
  });

  it('the fields of each header', () => {
    assert.equal(drops('hbh nexthdr ipv6-route', chain), true);
    assert.equal(drops('hbh nexthdr 43', chain), true);
    assert.equal(drops('hbh hdrlength 0', chain), true);
    assert.equal(drops('rt type 4', chain), true);
    assert.equal(drops('rt seg-left 1', chain), true);
    assert.equal(drops('rt seg-left 0', chain), false);
    assert.equal(drops('rt hdrlength 2', chain), true, '(2 + 22 bytes) / 8 - 1');
    assert.equal(drops('rt nexthdr ipv6-opts', chain), true);
    assert.equal(drops('dst nexthdr udp', chain), true);
    assert.equal(drops('dst hdrlength 1', chain), true);
    // Absent header: its fields match nothing, not even !=.
    assert.equal(drops('mh type != 1', chain), false);
  });

  it('the fragment header of an atomic fragment (kept by reassembly), and a non-first fragment ends the walk', () => {
    const atomic = udp([{ type: 'fragment', offset: 0, more: false, id: 0xdeadbeef }]);
    assert.equal(drops('exthdr frag exists', atomic), true);
    assert.equal(drops('frag id 0xdeadbeef', atomic), true);
    assert.equal(drops('frag frag-off 0', atomic), true);
    assert.equal(drops('frag more-fragments 0', atomic), true);
    assert.equal(drops('frag nexthdr udp', atomic), true);
    assert.equal(drops('frag reserved 0 frag reserved2 0', atomic), true);
    const first = buildIp({ ...V6, proto: 17, payload: new Uint8Array(16), ext: [{ type: 'fragment', offset: 0, more: true, id: 7 }] });
    assert.equal(drops('frag more-fragments 1', first), true);
    const later = buildIp({ ...V6, proto: 60, payload: new Uint8Array(16), ext: [{ type: 'fragment', offset: 24, more: false, id: 7 }] });
    assert.equal(drops('frag frag-off 3', later), true, '24 bytes: 3 units');
    // The payload of a non-first fragment is no header, whatever nexthdr says.
    assert.equal(drops('exthdr dst exists', later), false);
  });

  it('the mobility header and its type names (RFC 6275)', () => {
    // Binding update: payload proto 59, length 1 (16 bytes), type 5, reserved, checksum 0x1234.
    const mh = buildIp({ ...V6, proto: 135, payload: Uint8Array.of(59, 1, 5, 0, 0x12, 0x34, ...new Array<number>(10).fill(0)) });
    assert.equal(drops('exthdr mh exists', mh), true);
    assert.equal(drops('mh type binding-update', mh), true);
    assert.equal(drops('mh type 5', mh), true);
    assert.equal(drops('mh type { home-test, care-of-test }', mh), false);
    assert.equal(drops('mh checksum 0x1234', mh), true);
    assert.equal(drops('mh nexthdr ipv6-nonxt mh hdrlength 1 mh reserved 0', mh), true);
    // A header cut short: its later fields are absent.
    const cut = buildIp({ ...V6, proto: 135, payload: Uint8Array.of(59, 0, 5) });
    assert.equal(drops('mh type 5', cut), true);
    assert.equal(drops('mh checksum != 1', cut), false);
    assert.equal(drops('exthdr mh exists', buildTcp({ ...V6, sport: 1, dport: 2 })), false);
  });

  it('lists and writes JSON as nft 1.0.6 ({"exthdr": {"name", "field"}}), both round trips', () => {
    const x = (name: string, field?: string) => ({ exthdr: field === undefined ? { name } : { name, field } });
    assert.deepEqual(roundTrips('exthdr hbh exists accept')[0], { match: { op: '==', left: x('hbh'), right: true } });
    assert.deepEqual(roundTrips('exthdr rt missing drop')[0], { match: { op: '==', left: x('rt'), right: false } });
    assert.deepEqual(roundTrips('rt type 2 accept')[0], { match: { op: '==', left: x('rt', 'type'), right: 2 } });
    assert.deepEqual(roundTrips('rt seg-left > 0 drop')[0], { match: { op: '>', left: x('rt', 'seg-left'), right: 0 } });
    assert.deepEqual(roundTrips('frag more-fragments 1 accept')[0], { match: { op: '==', left: x('frag', 'more-fragments'), right: 1 } });
    assert.deepEqual(roundTrips('frag frag-off 100-200 accept')[0], { match: { op: '==', left: x('frag', 'frag-off'), right: { range: [100, 200] } } });
    assert.deepEqual(roundTrips('frag id 5 accept')[0], { match: { op: '==', left: x('frag', 'id'), right: 5 } });
    assert.deepEqual(roundTrips('mh type 1 accept', 'mh type home-test-init accept')[0], { match: { op: '==', left: x('mh', 'type'), right: 'home-test-init' } });
    assert.deepEqual(roundTrips('dst nexthdr tcp accept')[0], { match: { op: '==', left: x('dst', 'nexthdr'), right: 'tcp' } });
  });

  it('refuses them in an ip table, values too wide and unknown fields, with their place', () => {
    const bad = (rule: string, family = 'inet') => {
      try {
        new RulesetEngine().load(`table ${family} t { chain c { type filter hook forward priority 0;\n${rule}\n} }`, 'x.nft');
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.match(bad('exthdr hbh exists drop', 'ip'), /^x\.nft:2:\d+: exthdr hbh cannot be used in a table of family ip/);
    assert.match(bad('frag more-fragments 2 drop'), /^x\.nft:2:\d+: 2 is out of range for frag_more_fragments/);
    assert.match(bad('frag frag-off 8192 drop'), /^x\.nft:2:\d+: 8192 is out of range/);
    assert.match(bad('mh type bogus drop'), /^x\.nft:2:\d+: 'bogus' is not a valid mh_type/);
    assert.match(bad('rt foo 1 drop'), /^x\.nft:2:\d+: unknown field 'foo' after 'rt'/);
    assert.match(bad('exthdr hbh 1 drop'), /^x\.nft:2:\d+: /);
  });
});
