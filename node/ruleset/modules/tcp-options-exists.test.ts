import assert from 'node:assert/strict';
import { engine, drops, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { buildTcp, buildUdp } from '../../packet/build.js';


describe('tcp option sack-perm, timestamp, window (exists, kind, length, fields)', () => {
  for (const [fam, src, dst] of [['IPv4', '192.0.2.1', '198.51.100.1'], ['IPv6', '2001:db8::1', '2001:db8:1::1']] as const) {
    const syn = buildTcp({ src, dst, sport: 40000, dport: 443, flags: 'S', mss: 1460, sackPerm: true, timestamp: [0x01020304, 0], wscale: 7 });
    const bare = buildTcp({ src, dst, sport: 40000, dport: 443, flags: 'S' });
    const udp = buildUdp({ src, dst, sport: 40000, dport: 443 });

    it(`exists / missing on ${fam} segments; never on other protocols`, () => {
      for (const name of ['sack-perm', 'timestamp', 'window', 'maxseg']) {
        assert.equal(drops(`tcp option ${name} exists`, syn), true, `${name} exists`);
        assert.equal(drops(`tcp option ${name} missing`, syn), false, `${name} missing`);
        assert.equal(drops(`tcp option ${name} exists`, bare), false, `${name} exists (bare)`);
        assert.equal(drops(`tcp option ${name} missing`, bare), true, `${name} missing (bare)`);
        assert.equal(drops(`tcp option ${name} missing`, udp), false, `${name} on UDP`);
      }
      // Only sack-perm: the others are missing.
      const onlySack = buildTcp({ src, dst, sport: 1, dport: 2, flags: 'S', sackPerm: true });
      assert.equal(drops('tcp option sack-perm exists tcp option timestamp missing tcp option window missing', onlySack), true);
    });

    it(`kind, length, window count and timestamp tsval/tsecr on ${fam}`, () => {
      assert.equal(drops('tcp option window count 7', syn), true);
      assert.equal(drops('tcp option window count > 8', syn), false);
      assert.equal(drops('tcp option window length 3', syn), true);
      assert.equal(drops('tcp option window kind 3', syn), true);
      assert.equal(drops('tcp option sack-perm length 2', syn), true);
      assert.equal(drops('tcp option sack-perm kind 4', syn), true);
      assert.equal(drops('tcp option timestamp length 10', syn), true);
      assert.equal(drops('tcp option timestamp tsval 0x01020304', syn), true);
      assert.equal(drops('tcp option timestamp tsval 16909060', syn), true);
      assert.equal(drops('tcp option timestamp tsecr 0', syn), true);
      assert.equal(drops('tcp option timestamp tsecr != 0', syn), false);
      assert.equal(drops('tcp option maxseg length 4', syn), true);
      // Absent option: its fields match nothing, not even !=.
      assert.equal(drops('tcp option window count != 7', bare), false);
      assert.equal(drops('tcp option timestamp tsval != 1', bare), false);
      // The shift as sent (14 is the most RFC 7323 allows; nft reads the byte).
      const big = buildTcp({ src, dst, sport: 1, dport: 2, flags: 'S', wscale: 15 });
      assert.equal(drops('tcp option window count 15', big), true);
    });

    it(`a malformed option cut short on ${fam}: its fields past its length read as absent`, () => {
      // A window option claiming length 2 (no shift byte), then end of options.
      const cut = buildTcp({ src, dst, sport: 1, dport: 2, flags: 'S', options: Uint8Array.from([3, 2, 0, 0]) });
      assert.equal(drops('tcp option window exists', cut), true);
      assert.equal(drops('tcp option window length 2', cut), true);
      assert.equal(drops('tcp option window count 0', cut), false);
      assert.equal(drops('tcp option window count != 0', cut), false);
    });
  }

  it('print and JSON round trips with the libnftables "tcp option" names (exists is true, missing false)', () => {
    assert.deepEqual(roundTrips('tcp option sack-perm exists accept')[0], { match: { op: '==', left: { 'tcp option': { name: 'sack-perm' } }, right: true } });
    assert.deepEqual(roundTrips('tcp option timestamp missing drop')[0], { match: { op: '==', left: { 'tcp option': { name: 'timestamp' } }, right: false } });
    assert.deepEqual(roundTrips('tcp option window count > 8 drop')[0], { match: { op: '>', left: { 'tcp option': { name: 'window', field: 'count' } }, right: 8 } });
    assert.deepEqual(roundTrips('tcp option window length 1 drop')[0], { match: { op: '==', left: { 'tcp option': { name: 'window', field: 'length' } }, right: 1 } });
    assert.deepEqual(roundTrips('tcp option sack-perm length 1 drop')[0], { match: { op: '==', left: { 'tcp option': { name: 'sack-perm', field: 'length' } }, right: 1 } });
    assert.deepEqual(roundTrips('tcp option timestamp tsval 1 tcp option timestamp tsecr 2 drop').slice(0, 2), [
      { match: { op: '==', left: { 'tcp option': { name: 'timestamp', field: 'tsval' } }, right: 1 } },
      { match: { op: '==', left: { 'tcp option': { name: 'timestamp', field: 'tsecr' } }, right: 2 } },
    ]);
    assert.deepEqual(roundTrips('tcp option window exists tcp option maxseg size set 1360').slice(0, 2), [
      { match: { op: '==', left: { 'tcp option': { name: 'window' } }, right: true } },
      { mangle: { key: { 'tcp option': { name: 'maxseg', field: 'size' } }, value: 1360 } },
    ]);
  });

  it('refuses bad values, ordering on a boolean and JSON numbers for exists, with their place', () => {
    const bad = (rule: string) => {
      try {
        engine(rule);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.match(bad('tcp option sack-perm present'), /^x\.nft:2:\d+: 'present' is not a valid boolean \(expected exists or missing\)/);
    assert.match(bad('tcp option window count 256'), /^x\.nft:2:\d+: 256 is out of range for tcp_wscale/);
    assert.match(bad('tcp option timestamp tsval 4294967296'), /^x\.nft:2:\d+: 4294967296 is out of range/);
    assert.match(bad('tcp option sack-perm > exists'), /^x\.nft:2:\d+: operator > needs an ordered type, boolean is not/);
    assert.match(bad('tcp option sack window 1'), /^x\.nft:2:\d+: /);
    const e = new RulesetEngine();
    assert.throws(() => e.load({ nftables: [
      { table: { family: 'ip', name: 't' } },
      { chain: { family: 'ip', table: 't', name: 'c', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
      { rule: { family: 'ip', table: 't', chain: 'c', expr: [{ match: { op: '==', left: { 'tcp option': { name: 'sack-perm' } }, right: 1 } }] } },
    ] }), /not a valid boolean/);
  });
});
