import assert from 'node:assert/strict';
import { drops, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { buildIp, buildUdp } from '../../packet/build.js';

const be16 = (v: number) => [(v >> 8) & 255, v & 255];
const be32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
/** A chunk (RFC 9260 section 3.2): type, flags, length, value; padded to 4 bytes. */
const chunk = (type: number, flags: number, value: number[]) => {
  const c = [type, flags, ...be16(4 + value.length), ...value];
  while (c.length % 4) c.push(0);
  return c;
};
const INIT = chunk(1, 0, [...be32(0xa1b2c3d4), ...be32(65535), ...be16(10), ...be16(2048), ...be32(7)]);
const DATA = chunk(0, 3, [...be32(100), ...be16(2), ...be16(9), ...be32(46), 0x68, 0x69]);
const SACK = chunk(3, 0, [...be32(99), ...be32(4096), ...be16(1), ...be16(0), ...be16(2), ...be16(3)]);

describe('sctp vtag, checksum and chunks', () => {
  for (const [fam, src, dst] of [['IPv4', '192.0.2.1', '198.51.100.1'], ['IPv6', '2001:db8::1', '2001:db8:1::1']] as const) {
    /** An SCTP packet: common header (ports 5000 > 38412, vtag, checksum 0x01020304) and the chunks. */
    const sctp = (vtag: number, ...chunks: number[][]) =>
      buildIp({ src, dst, proto: 132, payload: Uint8Array.from([...be16(5000), ...be16(38412), ...be32(vtag), 1, 2, 3, 4, ...chunks.flat()]) });
    const init = sctp(0, INIT);
    const data = sctp(0xa1b2c3d4, SACK, DATA);

    it(`vtag and checksum from the ${fam} common header; never on other protocols`, () => {
      assert.equal(drops('sctp vtag 0', init), true);
      assert.equal(drops('sctp vtag 0xa1b2c3d4', data), true);
      assert.equal(drops('sctp checksum 0x01020304', data), true);
      assert.equal(drops('sctp vtag != 1', buildUdp({ src, dst, sport: 5000, dport: 38412 })), false);
    });

    it(`chunks exist or are missing on ${fam}, found as the kernel walks them`, () => {
      assert.equal(drops('sctp chunk init exists', init), true);
      assert.equal(drops('sctp chunk data missing', init), true);
      assert.equal(drops('sctp chunk data exists', data), true, 'the second chunk, after a padded SACK');
      assert.equal(drops('sctp chunk sack exists sctp chunk init missing', data), true);
      // A chunk of length 0 ends the walk: what follows is not read.
      assert.equal(drops('sctp chunk data missing', sctp(1, [9, 0, 0, 0], DATA)), true);
      assert.equal(drops('sctp chunk init missing', buildUdp({ src, dst, sport: 1, dport: 2 })), false, 'not SCTP: no match at all');
    });

    it(`chunk fields on ${fam}: the first chunk of the type, each field where RFC 9260 puts it`, () => {
      assert.equal(drops('sctp chunk init init-tag 0xa1b2c3d4', init), true);
      assert.equal(drops('sctp chunk init a-rwnd 65535 sctp chunk init num-outbound-streams 10 sctp chunk init num-inbound-streams 2048', init), true);
      assert.equal(drops('sctp chunk init initial-tsn 7', init), true);
      assert.equal(drops('sctp chunk init type 1 sctp chunk init length 20 sctp chunk init flags 0', init), true);
      assert.equal(drops('sctp chunk data tsn 100 sctp chunk data stream 2 sctp chunk data ssn 9 sctp chunk data ppid 46', data), true);
      assert.equal(drops('sctp chunk data flags 3 sctp chunk data length 18', data), true);
      assert.equal(drops('sctp chunk sack cum-tsn-ack 99 sctp chunk sack a-rwnd 4096 sctp chunk sack num-gap-ack-blocks 1 sctp chunk sack num-dup-tsns 0', data), true);
      // No such chunk: its fields match nothing, not even !=.
      assert.equal(drops('sctp chunk data tsn != 1', init), false);
      // A chunk too short for the field: absent.
      const shortInit = sctp(0, chunk(1, 0, [...be32(5)]));
      assert.equal(drops('sctp chunk init init-tag 5', shortInit), true);
      assert.equal(drops('sctp chunk init a-rwnd != 1', shortInit), false);
    });
  }

  it('lists and writes JSON as nft 1.0.6 ({"sctp chunk": {"name", "field"}}), both round trips', () => {
    const c = (name: string, field?: string) => ({ 'sctp chunk': field === undefined ? { name } : { name, field } });
    assert.deepEqual(roundTrips('sctp vtag 5 accept')[0], { match: { op: '==', left: { payload: { protocol: 'sctp', field: 'vtag' } }, right: 5 } });
    assert.deepEqual(roundTrips('sctp checksum 5 accept')[0], { match: { op: '==', left: { payload: { protocol: 'sctp', field: 'checksum' } }, right: 5 } });
    assert.deepEqual(roundTrips('sctp chunk init exists accept')[0], { match: { op: '==', left: c('init'), right: true } });
    assert.deepEqual(roundTrips('sctp chunk abort missing drop')[0], { match: { op: '==', left: c('abort'), right: false } });
    assert.deepEqual(roundTrips('sctp chunk init-ack init-tag 5 accept')[0], { match: { op: '==', left: c('init-ack', 'init-tag'), right: 5 } });
    assert.deepEqual(roundTrips('sctp chunk forward-tsn new-cum-tsn > 5 accept')[0], { match: { op: '>', left: c('forward-tsn', 'new-cum-tsn'), right: 5 } });
    assert.deepEqual(roundTrips('sctp chunk asconf seqno { 1, 2 } accept')[0], { match: { op: '==', left: c('asconf', 'seqno'), right: { set: [1, 2] } } });
  });

  it('refuses unknown chunks, fields of another chunk and values too wide, with their place', () => {
    const bad = (rule: string) => {
      try {
        new RulesetEngine().load(`table inet t { chain c { type filter hook forward priority 0;\n${rule}\n} }`, 'x.nft');
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.match(bad('sctp chunk bogus exists drop'), /^x\.nft:2:\d+: /);
    assert.match(bad('sctp chunk init tsn 1 drop'), /^x\.nft:2:\d+: /);
    assert.match(bad('sctp chunk data stream 65536 drop'), /^x\.nft:2:\d+: 65536 is out of range/);
    assert.match(bad('sctp vtag 0x100000000 drop'), /^x\.nft:2:\d+: /);
  });
});
