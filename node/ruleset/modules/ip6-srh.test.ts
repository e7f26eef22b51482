import assert from 'node:assert/strict';
import { drops, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { buildIp, buildTcp, buildUdp } from '../../packet/build.js';
import { refusal } from '../test-refusal.js';

const V6 = { src: '2001:db8::1', dst: '2001:db8:1::1' };
const SID1 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a];
const SID2 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b];
/**
 * A segment routing header (RFC 8754) after the fixed header's 2 bytes (next header, length,
 * written by the builder): routing type 4, segments left 1, last entry 1, flags 0x80, tag
 * 0x1234, then two segments.
 */
const srhBody = Uint8Array.of(4, 1, 1, 0x80, 0x12, 0x34, ...SID1, ...SID2);
const srh = buildUdp({ ...V6, sport: 1, dport: 2, payload: 8, ext: [{ type: 'hop' }, { type: 'routing', body: srhBody }] });
const plain = buildUdp({ ...V6, sport: 1, dport: 2, payload: 8 });
const v4 = buildTcp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 2 });

describe('segment routing and type 0 routing headers: srh last-entry|flags|tag|sid[N], rt0 addr[N]', () => {
  it('reads the fields of the first routing header, behind other extension headers (IPv6)', () => {
    assert.equal(drops('srh last-entry 1', srh), true);
    assert.equal(drops('srh last-entry 0', srh), false);
    assert.equal(drops('srh flags 128', srh), true);
    assert.equal(drops('srh flags & 0x80 == 0x80', srh), true);
    assert.equal(drops('srh tag 0x1234', srh), true);
    assert.equal(drops('srh tag 1-4659', srh), false, '4660 is 0x1234: outside the range');
    assert.equal(drops('srh tag 1-4660', srh), true);
    assert.equal(drops('srh sid[1] 2001:db8::a', srh), true);
    assert.equal(drops('srh sid[2] 2001:db8::b', srh), true);
    assert.equal(drops('srh sid[2] 2001:db8::a', srh), false);
    assert.equal(drops('srh sid[1] { 2001:db8::5, 2001:db8::a }', srh), true);
    assert.equal(drops('srh sid[1] 2001:db8::/64', srh), true);
    assert.equal(drops('rt0 addr[1] 2001:db8::a', srh), true, 'the same bytes as srh sid[1]');
    assert.equal(drops('rt0 addr[2] != 2001:db8::b', srh), false);
    // The kernel's exthdr reads bytes of the routing header whatever its type: rt type says which.
    assert.equal(drops('rt type 4 srh tag 0x1234', srh), true);
  });

  it('no routing header, a header too short for the field, or IPv4: no match, not even !=', () => {
    assert.equal(drops('srh tag != 1', plain), false);
    assert.equal(drops('srh sid[1] != ::1', plain), false);
    // An 8-byte routing header ending the packet (next header 59, none): it holds the tag
    // but no segment. (As the kernel, a field is read from the packet's bytes after the
    // header's start: with a payload behind, those bytes would be read.)
    const short = buildIp({ ...V6, proto: 59, payload: new Uint8Array(0), ext: [{ type: 'routing', body: Uint8Array.of(4, 1, 0, 0, 0, 0) }] });
    assert.equal(drops('srh tag 0', short), true);
    assert.equal(drops('srh sid[1] != ::1', short), false);
    assert.equal(drops('srh tag != 1', v4), false);
    assert.equal(drops('rt0 addr[1] != ::1', v4), false);
  });

  it('lists and writes JSON as nft 1.0.6 (rt0 addr[N] as srh sid[N], the same kernel expression); both round trips', () => {
    const x = (field: string) => ({ exthdr: { name: 'srh', field } });
    assert.deepEqual(roundTrips('srh tag 1 accept')[0], { match: { op: '==', left: x('tag'), right: 1 } });
    assert.deepEqual(roundTrips('srh tag 0x10 accept', 'srh tag 16 accept')[0], { match: { op: '==', left: x('tag'), right: 16 } });
    assert.deepEqual(roundTrips('srh flags 0 accept')[0], { match: { op: '==', left: x('flags'), right: 0 } });
    assert.deepEqual(roundTrips('srh last-entry { 1, 2 } accept')[0], { match: { op: '==', left: x('last-entry'), right: { set: [1, 2] } } });
    assert.deepEqual(roundTrips('srh sid[1] != 2001:db8::1 accept')[0], { match: { op: '!=', left: x('sid[1]'), right: '2001:db8::1' } });
    assert.deepEqual(roundTrips('rt0 addr[2] 2001:db8::1 accept', 'srh sid[2] 2001:db8::1 accept')[0], { match: { op: '==', left: x('sid[2]'), right: '2001:db8::1' } });
    // nft 1.0.6 lists these two wrongly (`rt unknown & 1 == 1`, `rt unknown 0x0 [invalid type]`,
    // which it cannot read back); hafw lists them as written.
    roundTrips('srh flags & 1 == 1 accept');
    roundTrips('srh sid[1] 2001:db8::/64 accept');
    // JSON as nft -j writes it loads.
    const e = new RulesetEngine();
    e.load({ nftables: [{ table: { family: 'ip6', name: 't' } }, { chain: { family: 'ip6', table: 't', name: 'c' } },
      { rule: { family: 'ip6', table: 't', chain: 'c', expr: [{ match: { op: '==', left: x('sid[1]'), right: '2001:db8::1' } }] } }] });
    assert.match(e.list(), /\t\tsrh sid\[1\] 2001:db8::1\n/);
  });

  it('refuses what nft 1.0.6 cannot use (rt2 addr, sid[3] and beyond), an ip table and wrong values, with the place', () => {
    const load = (rule: string, family = 'inet') => () => new RulesetEngine().load(`table ${family} t { chain c { type filter hook forward priority 0;\n${rule}\n} }`, 'x.nft');
    assert.match(refusal(load('rt2 addr 2001:db8::1 drop')), /^x\.nft:2:1: 'rt2 addr' \(the type 2 routing header's home address\) has no type in nft 1\.0\.6/);
    assert.match(refusal(load('srh sid[3] ::1 drop')), /^x\.nft:2:5: 'srh sid\[3\]': nft 1\.0\.6 has a type for sid\[1\] and sid\[2\] only/);
    assert.match(refusal(load('rt0 addr[0] ::1 drop')), /^x\.nft:2:5: 'rt0 addr\[0\]': nft 1\.0\.6 has a type for addr\[1\] and addr\[2\] only/);
    assert.match(refusal(load('srh tag 1 drop', 'ip')), /^x\.nft:2:\d+: srh tag cannot be used in a table of family ip/);
    assert.match(refusal(load('srh tag 65536 drop')), /^x\.nft:2:9: 65536 is out of range for srh_tag/);
    assert.match(refusal(load('srh last-entry 300 drop')), /^x\.nft:2:16: 300 is out of range/);
    assert.match(refusal(load('srh nexthdr 6 drop')), /^x\.nft:2:5: unknown field 'nexthdr' after 'srh'/);
    const json = (left: unknown) => () => new RulesetEngine().load({ nftables: [{ table: { family: 'ip6', name: 't' } }, { chain: { family: 'ip6', table: 't', name: 'c' } },
      { rule: { family: 'ip6', table: 't', chain: 'c', expr: [{ match: { op: '==', left, right: '::1' } }] } }] });
    assert.match(refusal(json({ exthdr: { name: 'srh', field: 'sid[3]' } })), /nft 1\.0\.6 has a type for sid\[1\] and sid\[2\] only/);
    assert.match(refusal(json({ exthdr: { name: 'rt2', field: 'addr' } })), /'rt2 addr' .* has no type in nft 1\.0\.6/);
  });
});
