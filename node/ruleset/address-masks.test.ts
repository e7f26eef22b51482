import assert from 'node:assert/strict';
import { drops, roundTrips } from './modules/rule-test-kit.js';
import { RulesetEngine } from './engine.js';
import { buildTcp, buildUdp } from '../packet/build.js';

const udp4 = (src: string, dst = '198.51.100.1') => buildUdp({ src, dst, sport: 1, dport: 2 });
const udp6 = (src: string, dst = '2001:db8:1::1') => buildUdp({ src, dst, sport: 1, dport: 2 });
const ip = (f: string) => ({ payload: { protocol: 'ip', field: f } });
const ip6 = (f: string) => ({ payload: { protocol: 'ip6', field: f } });

function loadError(rule: string): string {
  try {
    new RulesetEngine().load(`table inet t { chain c { type filter hook forward priority 0;\n${rule}\n} }`, 'x.nft');
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

describe('bitwise masks on addresses and raw numbers (nft: ip saddr & MASK OP VALUE)', () => {
  it('IPv4: the host part under a mask, written as an address or a raw number', () => {
    for (const rule of ['ip saddr & 0.0.0.255 == 0.0.0.1', 'ip saddr & 0xff == 1', 'ip saddr & 255 == 0x1']) {
      assert.equal(drops(rule, udp4('192.0.2.1')), true, rule);
      assert.equal(drops(rule, udp4('203.0.113.1')), true, rule);
      assert.equal(drops(rule, udp4('192.0.2.2')), false, rule);
      assert.equal(drops(rule, udp6('2001:db8::1')), false, `${rule} on IPv6`);
    }
    assert.equal(drops('ip saddr & 0.0.0.255 != 0.0.0.1', udp4('192.0.2.1')), false);
    assert.equal(drops('ip saddr & 0.0.0.255 != 0.0.0.1', udp4('192.0.2.9')), true);
    // A raw number is an address everywhere, as nft reads one (inet_aton's forms).
    assert.equal(drops('ip saddr 0xc0000201', udp4('192.0.2.1')), true);
    assert.equal(drops('ip daddr 3325256705', udp4('192.0.2.1')), true, '198.51.100.1 as a number');
  });

  it('IPv4: ranges, sets and ordered comparisons after a mask', () => {
    const lower = 'ip saddr & 0.0.0.255 < 0.0.0.127';
    assert.equal(drops(lower, udp4('192.0.2.126')), true);
    assert.equal(drops(lower, udp4('192.0.2.127')), false);
    assert.equal(drops(lower, udp4('192.0.2.200')), false);
    assert.equal(drops('ip saddr & 0.0.0.255 >= 0.0.0.128', udp4('203.0.113.130')), true);
    assert.equal(drops('ip saddr & 0.0.0.255 0.0.0.1-0.0.0.9', udp4('192.0.2.5')), true);
    assert.equal(drops('ip saddr & 0.0.0.255 0.0.0.1-0.0.0.9', udp4('192.0.2.10')), false);
    assert.equal(drops('ip saddr & 0.0.0.255 != 0.0.0.1-0.0.0.9', udp4('192.0.2.10')), true);
    assert.equal(drops('ip saddr & 0.0.0.255 == { 0.0.0.1, 0.0.0.3 }', udp4('192.0.2.3')), true);
    assert.equal(drops('ip saddr & 0.0.0.255 == { 0.0.0.1, 0.0.0.3 }', udp4('192.0.2.2')), false);
    assert.equal(drops('ip saddr & 255.255.0.0 == 192.0.0.0', udp4('192.0.2.3')), true);
    assert.equal(drops('tcp dport & 0xff00 == { 0x100, 0x200 }', buildTcp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 0x1ff })), true);
  });

  it('IPv6: a 128-bit mask, compared, ranged and looked up', () => {
    assert.equal(drops('ip6 daddr & ::ffff == ::1', udp6('2001:db8::5', '2001:db8:1::1')), true);
    assert.equal(drops('ip6 daddr & ::ffff == ::1', udp6('2001:db8::5', '2001:db8:1::2')), false);
    assert.equal(drops('ip6 daddr & ::ffff == ::1', udp4('192.0.2.1', '0.0.0.1')), false, 'never matches IPv4');
    assert.equal(drops('ip6 saddr & ffff:ffff:: == 2001:db8::', udp6('2001:db8:ff::1')), true);
    assert.equal(drops('ip6 saddr & ffff:ffff:: != 2001:db8::', udp6('2001:db8:ff::1')), false);
    assert.equal(drops('ip6 saddr & ::ffff:ffff < ::100', udp6('2001:db8::ff')), true);
    assert.equal(drops('ip6 saddr & ::ffff:ffff < ::100', udp6('2001:db8::100')), false);
    assert.equal(drops('ip6 saddr & ::ff { ::1, ::3 }', udp6('2001:db8::7:103')), true);
    assert.equal(drops('ip6 saddr & ::ff ::10-::20', udp6('2001:db8::7:115')), true);
    assert.equal(drops('ip6 saddr & ::ff ::10-::20', udp6('2001:db8::7:121')), false);
  });

  it('listed as nft 1.0.6 lists them (raw numbers as addresses, an explicit ==), JSON as libnftables writes it', () => {
    assert.deepEqual(roundTrips('ip saddr & 0xff == 1 drop', 'ip saddr & 0.0.0.255 == 0.0.0.1 drop')[0], {
      match: { op: '==', left: { '&': [ip('saddr'), '0.0.0.255'] }, right: '0.0.0.1' },
    });
    assert.deepEqual(roundTrips('ip6 daddr & ::ffff == ::1 drop')[0], { match: { op: '==', left: { '&': [ip6('daddr'), '::ffff'] }, right: '::1' } });
    assert.deepEqual(roundTrips('ip saddr & 0.0.0.255 < 0.0.0.127 drop')[0], {
      match: { op: '<', left: { '&': [ip('saddr'), '0.0.0.255'] }, right: '0.0.0.127' },
    });
    assert.deepEqual(roundTrips('ip saddr & 0.0.0.255 0.0.0.1-0.0.0.9 drop', 'ip saddr & 0.0.0.255 == 0.0.0.1-0.0.0.9 drop')[0], {
      match: { op: '==', left: { '&': [ip('saddr'), '0.0.0.255'] }, right: { range: ['0.0.0.1', '0.0.0.9'] } },
    });
    assert.deepEqual(roundTrips('ip saddr & 0.0.0.255 != { 0.0.0.1, 0.0.0.3 } drop')[0], {
      match: { op: '!=', left: { '&': [ip('saddr'), '0.0.0.255'] }, right: { set: ['0.0.0.1', '0.0.0.3'] } },
    });
    assert.deepEqual(roundTrips('tcp dport & 0xff00 == { 1, 2 } drop', 'tcp dport & 65280 == { 1, 2 } drop')[0], {
      match: { op: '==', left: { '&': [{ payload: { protocol: 'tcp', field: 'dport' } }, 65280] }, right: { set: [1, 2] } },
    });
    assert.deepEqual(roundTrips('ip saddr 0xc0000201 drop', 'ip saddr 192.0.2.1 drop')[0], { match: { op: '==', left: ip('saddr'), right: '192.0.2.1' } });
  });

  it('nft -j listings of masked matches load and mean the same', () => {
    const e = new RulesetEngine();
    e.load({
      nftables: [
        { table: { family: 'inet', name: 't' } },
        { chain: { family: 'inet', table: 't', name: 'c', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
        { rule: { family: 'inet', table: 't', chain: 'c', expr: [{ match: { op: '<', left: { '&': [ip('saddr'), '0.0.0.255'] }, right: '0.0.0.127' } }, { drop: null }] } },
        { rule: { family: 'inet', table: 't', chain: 'c', expr: [{ match: { op: '==', left: { '&': [ip6('daddr'), '::ffff'] }, right: '::1' } }, { drop: null }] } },
      ],
    } as never);
    assert.match(e.list(), /ip saddr & 0\.0\.0\.255 < 0\.0\.0\.127 drop\n\t\tip6 daddr & ::ffff == ::1 drop/);
  });

  it('misuse is refused with its place', () => {
    assert.match(loadError('ip saddr & 0.0.0.1-0.0.0.3 == 0.0.0.1 drop'), /^x\.nft:2:12: a mask is one value, not a set, range or prefix/);
    assert.match(loadError('ip6 daddr & 0xffff == ::1 drop'), /^x\.nft:2:13: '0xffff' is not a valid IPv6 address/);
    assert.match(loadError('ip saddr & 0x1ffffffff == 1 drop'), /^x\.nft:2:12: '0x1ffffffff' is not a valid IPv4 address/);
    assert.match(loadError('ip saddr . tcp dport & 0.0.0.255 == 1 drop'), /^x\.nft:2:\d+: /);
    assert.match(loadError('tcp flags & syn < 3 accept'), /^x\.nft:2:17: after a mask of flags only == or != compare, not </);
  });
});
