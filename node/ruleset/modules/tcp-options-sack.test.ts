import assert from 'node:assert/strict';
import { drops, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { buildTcp, buildUdp } from '../../packet/build.js';

const be32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
/** A SACK option (RFC 2018 section 3) with the given [left, right] blocks. */
const sackOpt = (blocks: [number, number][]) => [5, 2 + 8 * blocks.length, ...blocks.flatMap(([l, r]) => [...be32(l), ...be32(r)])];

describe('tcp option sack blocks, eol, nop, md5sig, mptcp, fastopen', () => {
  for (const [fam, src, dst] of [['IPv4', '192.0.2.1', '198.51.100.1'], ['IPv6', '2001:db8::1', '2001:db8:1::1']] as const) {
    const seg = (options: number[]) => buildTcp({ src, dst, sport: 40000, dport: 443, flags: 'A', options: Uint8Array.from(options) });
    const three = seg([1, 1, ...sackOpt([[100, 200], [300, 400], [500, 600]])]);
    const bare = seg([]);

    it(`sack, sack0..sack3 left and right on ${fam} segments: each block where RFC 2018 puts it`, () => {
      assert.equal(drops('tcp option sack left 100', three), true);
      assert.equal(drops('tcp option sack0 right 200', three), true);
      assert.equal(drops('tcp option sack1 left 300 tcp option sack1 right 400', three), true);
      assert.equal(drops('tcp option sack2 right 600', three), true);
      assert.equal(drops('tcp option sack2 left != 500', three), false);
      // A block the option does not hold is absent: no match, not even !=.
      assert.equal(drops('tcp option sack3 left != 1', three), false);
      assert.equal(drops('tcp option sack length 26', three), true);
      assert.equal(drops('tcp option sack3 length 26', three), true, 'the length is the option\'s, whatever the block');
      assert.equal(drops('tcp option sack exists', three), true);
      assert.equal(drops('tcp option sack missing', bare), true);
      assert.equal(drops('tcp option sack left != 1', bare), false);
      assert.equal(drops('tcp option sack exists', buildUdp({ src, dst, sport: 1, dport: 2 })), false);
    });

    it(`eol and nop exist as the kernel walks options on ${fam}: an EOL does not end the walk`, () => {
      // A timestamp, then two bytes of EOL padding: the first is an option start.
      const ts = seg([8, 10, ...be32(7), ...be32(9)]);
      assert.equal(drops('tcp option eol exists', ts), true);
      assert.equal(drops('tcp option nop missing', ts), true);
      assert.equal(drops('tcp option nop exists', seg([1, 1, 1, 1])), true);
      assert.equal(drops('tcp option eol missing', seg([1, 1, 1, 1])), true);
      // The kernel never reads the header's last byte as an option start: one EOL of padding there is unseen.
      assert.equal(drops('tcp option eol missing', seg([1, 8, 10, ...be32(7), ...be32(9)])), true);
      // An EOL then a timestamp: the kernel's exthdr walk steps over the EOL and finds it.
      const after = seg([0, 1, 8, 10, ...be32(7), ...be32(9)]);
      assert.equal(drops('tcp option timestamp tsval 7', after), true);
      // The first option of the kind counts: cut short (length 6), its tsval is there, its tsecr absent, and
      // the later well-formed timestamp is never read.
      const cut = seg([8, 6, 0, 0, 0, 7, 8, 10, ...be32(8), ...be32(9)]);
      assert.equal(drops('tcp option timestamp tsval 7', cut), true);
      assert.equal(drops('tcp option timestamp tsecr != 1', cut), false);
      assert.equal(drops('tcp option timestamp tsval 8', cut), false);
      assert.equal(drops('tcp option timestamp exists', cut), true);
      // An option running past the header: absent, so `exists` is false.
      const over = seg([1, 1, 19, 18]);
      assert.equal(drops('tcp option md5sig missing', over), true);
    });

    it(`md5sig, fastopen and mptcp (with its 4-bit subtype) on ${fam}`, () => {
      const md5 = seg([19, 18, ...new Array<number>(16).fill(0xab)]);
      assert.equal(drops('tcp option md5sig exists', md5), true);
      assert.equal(drops('tcp option md5sig length 18', md5), true);
      const tfo = seg([34, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal(drops('tcp option fastopen exists', tfo), true);
      assert.equal(drops('tcp option fastopen length 10', tfo), true);
      assert.equal(drops('tcp option fastopen exists', md5), false);
      // MP_CAPABLE (subtype 0) and ADD_ADDR (3): the subtype is the byte's high nibble.
      const mpc = seg([30, 4, 0x01, 0x81]);
      const addAddr = seg([30, 8, 0x30, 0, 192, 0, 2, 9]);
      assert.equal(drops('tcp option mptcp subtype 0', mpc), true);
      assert.equal(drops('tcp option mptcp subtype 3', addAddr), true);
      assert.equal(drops('tcp option mptcp subtype 3', mpc), false);
      assert.equal(drops('tcp option mptcp subtype { 1, 2, 3 }', addAddr), true);
    });
  }

  it('lists as nft 1.0.6 lists them (sack0 is sack; sackN length is sack length) and round-trips text and JSON', () => {
    const opt = (name: string, field?: string) => ({ 'tcp option': field === undefined ? { name } : { name, field } });
    assert.deepEqual(roundTrips('tcp option sack left 5 accept')[0], { match: { op: '==', left: opt('sack', 'left'), right: 5 } });
    assert.deepEqual(roundTrips('tcp option sack0 left 5 accept', 'tcp option sack left 5 accept')[0], { match: { op: '==', left: opt('sack', 'left'), right: 5 } });
    assert.deepEqual(roundTrips('tcp option sack3 right 5 accept')[0], { match: { op: '==', left: opt('sack3', 'right'), right: 5 } });
    assert.deepEqual(roundTrips('tcp option sack3 length 10 accept', 'tcp option sack length 10 accept')[0], { match: { op: '==', left: opt('sack', 'length'), right: 10 } });
    assert.deepEqual(roundTrips('tcp option eol exists accept')[0], { match: { op: '==', left: opt('eol'), right: true } });
    assert.deepEqual(roundTrips('tcp option nop missing accept')[0], { match: { op: '==', left: opt('nop'), right: false } });
    assert.deepEqual(roundTrips('tcp option mptcp subtype 1 accept')[0], { match: { op: '==', left: opt('mptcp', 'subtype'), right: 1 } });
    assert.deepEqual(roundTrips('tcp option fastopen length 10 accept')[0], { match: { op: '==', left: opt('fastopen', 'length'), right: 10 } });
    assert.deepEqual(roundTrips('tcp option md5sig exists accept')[0], { match: { op: '==', left: opt('md5sig'), right: true } });
    // By number (presence only, as nft 1.0.6), and listed by name as nft lists it.
    assert.deepEqual(roundTrips('tcp option 30 exists accept', 'tcp option mptcp exists accept')[0], { match: { op: '==', left: opt('mptcp'), right: true } });
    assert.deepEqual(roundTrips('tcp option 0 missing accept', 'tcp option eol missing accept')[0], { match: { op: '==', left: opt('eol'), right: false } });
    assert.deepEqual(roundTrips('tcp option 5 exists accept', 'tcp option sack exists accept')[0], { match: { op: '==', left: opt('sack'), right: true } });
  });

  it('refuses fields nft does not have and values too wide, with their place', () => {
    const bad = (rule: string) => {
      try {
        new RulesetEngine().load(`table inet t { chain c { type filter hook forward priority 0;\n${rule}\n} }`, 'x.nft');
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.match(bad('tcp option mptcp subtype 16 drop'), /^x\.nft:2:\d+: 16 is out of range/);
    assert.match(bad('tcp option eol length 1 drop'), /^x\.nft:2:\d+: /);
    assert.match(bad('tcp option sack4 left 1 drop'), /^x\.nft:2:\d+: /);
    assert.match(bad('tcp option sack1 left 0x100000000 drop'), /^x\.nft:2:\d+: /);
    assert.match(bad('tcp option 2 size 1400 drop'), /^x\.nft:2:\d+: /, 'a number names the option for presence only, as in nft 1.0.6');
    assert.match(bad('tcp option 99 exists drop'), /^x\.nft:2:\d+: /);
  });
});
