import assert from 'node:assert/strict';
import { drops, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { buildTcp, buildUdp } from '../../packet/build.js';
import { refusal } from '../test-refusal.js';

// MSS 1460, NOP, window scale 7, an experimental option (kind 99, length 6: aa bb cc dd), two NOPs.
const OPTS = Uint8Array.of(2, 4, 0x05, 0xb4, 1, 3, 3, 7, 99, 6, 0xaa, 0xbb, 0xcc, 0xdd, 1, 1);
const FAMILIES = [
  { name: 'IPv4', src: '192.0.2.1', dst: '198.51.100.1' },
  { name: 'IPv6', src: '2001:db8::1', dst: '2001:db8:1::1' },
];

describe('raw TCP options: tcp option @KIND,OFFSET,LENGTH', () => {
  for (const f of FAMILIES) {
    const syn = buildTcp({ src: f.src, dst: f.dst, sport: 1000, dport: 80, flags: 0x02, options: OPTS });
    it(`reads LENGTH bits at OFFSET inside the first option of KIND; an option too short or absent gives no value (${f.name})`, () => {
      assert.equal(drops('tcp option @99,16,32 0xaabbccdd', syn), true);
      assert.equal(drops('tcp option @99,24,16 0xbbcc', syn), true);
      assert.equal(drops('tcp option @99,8,8 6', syn), true, 'its length byte');
      assert.equal(drops('tcp option @99,40,16 != 0', syn), false, 'bytes 5-6 of a 6-byte option');
      assert.equal(drops('tcp option @98,0,8 != 0', syn), false, 'no such option');
      assert.equal(drops('tcp option @3,16,8 7', syn), true, 'window count, by number');
      assert.equal(drops('tcp option @2,16,16 1460', syn), true, 'maxseg size, by number');
      const udp = buildUdp({ src: f.src, dst: f.dst, sport: 1, dport: 2 });
      assert.equal(drops('tcp option @99,8,8 != 0', udp), false, 'not TCP');
    });
  }

  it('lists as nft 1.0.6: a known field by its name, the rest raw with decimal values; JSON both ways', () => {
    roundTrips('tcp option @5,16,32 1 drop', 'tcp option sack left 1 drop');
    roundTrips('tcp option @5,80,32 1 drop', 'tcp option sack1 left 1 drop');
    roundTrips('tcp option @2,16,16 1460 accept', 'tcp option maxseg size 1460 accept');
    roundTrips('tcp option @30,16,4 1 accept', 'tcp option mptcp subtype 1 accept');
    const raw = { 'tcp option': { base: 99, offset: 16, len: 32 } };
    assert.deepEqual(roundTrips('tcp option @99,16,32 0xaabbccdd drop', 'tcp option @99,16,32 2864434397 drop')[0], { match: { op: '==', left: raw, right: 0xaabbccdd } });
    // nft 1.0.6 lists these as `sack unknown`, `nop kind` (which it cannot read back): hafw keeps them raw.
    roundTrips('tcp option @5,48,16 1 drop');
    roundTrips('tcp option @1,0,8 1 drop');
    roundTrips('tcp option @99,0,8 { 1, 2 } drop');
  });

  it('refuses part-byte, wide and malformed forms with the place', () => {
    const load = (rule: string) => () => new RulesetEngine().load(`table inet t {\n chain c {\n  ${rule}\n }\n}\n`, 'x.nft');
    assert.match(refusal(load('tcp option @99,4,4 1 drop')), /^x\.nft:3:14: 'tcp option @99,4,4': hafw takes raw TCP options of whole bytes/);
    assert.match(refusal(load('tcp option @99,0,64 1 drop')), /^x\.nft:3:14: 'tcp option @99,0,64': hafw takes raw TCP options of at most 32 bits/);
    assert.match(refusal(load('tcp option @256,0,8 1 drop')), /the option kind must be 0 to 255/);
    assert.match(refusal(load('tcp option bogus exists drop')), /^x\.nft:3:14: unknown TCP option 'bogus' \(known: eol, nop, maxseg/);
    const json = (left: unknown) => () => new RulesetEngine().load({ nftables: [{ table: { family: 'ip', name: 't' } }, { chain: { family: 'ip', table: 't', name: 'c' } },
      { rule: { family: 'ip', table: 't', chain: 'c', expr: [{ match: { op: '==', left, right: 1 } }] } }] });
    assert.match(refusal(json({ 'tcp option': { base: 99, offset: 0, len: 4 } })), /whole bytes/);
    assert.match(refusal(json({ 'tcp option': { base: 99, offset: 0, len: 64 } })), /at most 32 bits/);
  });
});
