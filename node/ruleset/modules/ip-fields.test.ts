import assert from 'node:assert/strict';
import { drops, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { buildIcmpEcho, buildIcmpError, buildIp, buildUdp } from '../../packet/build.js';


const V4 = { src: '192.0.2.1', dst: '198.51.100.1' };
const V6 = { src: '2001:db8::1', dst: '2001:db8:1::1' };
const payload = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);

describe('ip id, ip frag-off, icmp/icmpv6 id and sequence', () => {
  it('ip id is the IPv4 identification; never matches IPv6', () => {
    const v4 = buildUdp({ ...V4, sport: 1, dport: 2, ipId: 0xbeef });
    assert.equal(drops('ip id 48879', v4), true);
    assert.equal(drops('ip id 0xbeef', v4), true);
    assert.equal(drops('ip id != 48879', v4), false);
    assert.equal(drops('ip id 1-100', v4), false);
    assert.equal(drops('ip id != 1', buildUdp({ ...V6, sport: 1, dport: 2 })), false);
  });

  it('ip frag-off with the usual masks: non-first fragment, any fragment, DF', () => {
    const whole = buildUdp({ ...V4, sport: 1, dport: 2, payload: 40 }); // DF set, as Linux does
    const first = buildIp({ ...V4, proto: 17, payload: payload(24), fragment: { offset: 0, more: true } });
    const later = buildIp({ ...V4, proto: 17, payload: payload(16), fragment: { offset: 24, more: false } });
    const nonFirst = 'ip frag-off & 0x1fff != 0';
    assert.deepEqual([whole, first, later].map((p) => drops(nonFirst, p)), [false, false, true]);
    assert.deepEqual([whole, first, later].map((p) => drops('ip frag-off & 0x3fff != 0', p)), [false, true, true]);
    assert.deepEqual([whole, first, later].map((p) => drops('ip frag-off & 0x4000 != 0', p)), [true, false, false]);
    assert.deepEqual([whole, first, later].map((p) => drops('ip frag-off & 0x1fff == 0', p)), [true, true, false]);
    // The raw word: offset 24 bytes = 3 units.
    assert.equal(drops('ip frag-off 3', later), true);
    assert.equal(drops('ip frag-off 0x4000', whole), true);
    assert.equal(drops(nonFirst, buildUdp({ ...V6, sport: 1, dport: 2 })), false, 'an ip match never matches IPv6');
  });

  for (const [fam, addrs, proto] of [['IPv4', V4, 'icmp'], ['IPv6', V6, 'icmpv6']] as const) {
    it(`${proto} id and sequence match ${fam} echo requests and replies only`, () => {
      const req = buildIcmpEcho({ ...addrs, id: 0x1234, seq: 7 });
      const rep = buildIcmpEcho({ ...addrs, id: 0x1234, seq: 7, reply: true });
      assert.equal(drops(`${proto} id 4660`, req), true);
      assert.equal(drops(`${proto} id 4660`, rep), true);
      assert.equal(drops(`${proto} id 4661`, req), false);
      assert.equal(drops(`${proto} sequence 7`, req), true);
      assert.equal(drops(`${proto} sequence { 1, 7 }`, rep), true);
      assert.equal(drops(`${proto} sequence > 7`, req), false);
      assert.equal(drops(`${proto} id 4660 ${proto} sequence 7`, req), true);
      // The same bytes in another ICMP message are no echo identifier.
      const err = buildIcmpError({ ...addrs, type: fam === 'IPv4' ? 3 : 1, rest: (0x1234 << 16) | 7, quote: buildUdp({ ...addrs, sport: 1, dport: 2 }) });
      assert.equal(drops(`${proto} id 4660`, err), false);
      assert.equal(drops(`${proto} sequence 7`, err), false);
      // Not ICMP of that family.
      assert.equal(drops(`${proto} id != 1`, buildUdp({ ...addrs, sport: 0x1234, dport: 7 })), false);
      const other = fam === 'IPv4' ? V6 : V4;
      assert.equal(drops(`${proto} id != 1`, buildIcmpEcho({ ...other, id: 1 })), false);
    });
  }

  it('an ICMP timestamp request carries an identifier, but nft\'s icmp id means echo only', () => {
    const ts = buildIcmpError({ ...V4, type: 13, rest: (0x1234 << 16) | 7, quote: new Uint8Array(12) });
    assert.equal(drops('icmp type timestamp-request', ts), true);
    assert.equal(drops('icmp id 4660', ts), false);
  });

  it('print and JSON round trips, as nft 1.0.6 lists them (masks of plain integers in decimal) and libnftables names them', () => {
    const frag = (mask: number) => ({ '&': [{ payload: { protocol: 'ip', field: 'frag-off' } }, mask] });
    assert.deepEqual(roundTrips('ip frag-off & 0x1fff != 0 drop', 'ip frag-off & 8191 != 0 drop')[0], { match: { op: '!=', left: frag(0x1fff), right: 0 } });
    assert.deepEqual(roundTrips('ip frag-off & 0x3fff == 0 accept', 'ip frag-off & 16383 == 0 accept')[0], { match: { op: '==', left: frag(0x3fff), right: 0 } });
    assert.deepEqual(roundTrips('ip id 22 drop')[0], { match: { op: '==', left: { payload: { protocol: 'ip', field: 'id' } }, right: 22 } });
    assert.deepEqual(roundTrips('ip frag-off 33-45 drop')[0], {
      match: { op: '==', left: { payload: { protocol: 'ip', field: 'frag-off' } }, right: { range: [33, 45] } },
    });
    // nft 1.0.6 writes the echo dependency out and lists it (recorded with nft -a list ruleset).
    const echo = { match: { op: '==', left: { payload: { protocol: 'icmp', field: 'type' } }, right: { set: ['echo-reply', 'echo-request'] } } };
    const echo6 = { match: { op: '==', left: { payload: { protocol: 'icmpv6', field: 'type' } }, right: { set: ['echo-request', 'echo-reply'] } } };
    assert.deepEqual(roundTrips('icmp id 1245 drop', 'icmp type { echo-reply, echo-request } icmp id 1245 drop').slice(0, 2), [
      echo, { match: { op: '==', left: { payload: { protocol: 'icmp', field: 'id' } }, right: 1245 } },
    ]);
    assert.deepEqual(roundTrips('icmp sequence != { 33, 55 } drop', 'icmp type { echo-reply, echo-request } icmp sequence != { 33, 55 } drop')[1], {
      match: { op: '!=', left: { payload: { protocol: 'icmp', field: 'sequence' } }, right: { set: [33, 55] } },
    });
    assert.deepEqual(roundTrips('icmpv6 id 1 icmpv6 sequence 2 accept', 'icmpv6 type { echo-request, echo-reply } icmpv6 id 1 icmpv6 sequence 2 accept').slice(0, 3), [
      echo6,
      { match: { op: '==', left: { payload: { protocol: 'icmpv6', field: 'id' } }, right: 1 } },
      { match: { op: '==', left: { payload: { protocol: 'icmpv6', field: 'sequence' } }, right: 2 } },
    ]);
    // A rule that names the type already gets none.
    assert.equal(roundTrips('icmp type echo-request icmp id 3 accept').length, 3);
  });

  it('refuses values a 16-bit field cannot hold, and the IPv4 fields in an ip6 table, with their place', () => {
    const bad = (text: string) => {
      try {
        new RulesetEngine().load(text, 'x.nft');
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    const chain = (fam: string, rule: string) => `table ${fam} t { chain c { type filter hook forward priority 0;\n${rule}\n} }`;
    assert.match(bad(chain('inet', 'ip id 65536 drop')), /^x\.nft:2:\d+: 65536 is out of range for ip_id/);
    assert.match(bad(chain('inet', 'icmpv6 sequence 70000 drop')), /^x\.nft:2:\d+: 70000 is out of range/);
    assert.match(bad(chain('ip6', 'ip frag-off & 0x1fff != 0 drop')), /^x\.nft:2:\d+: /);
    assert.match(bad(chain('ip', 'icmpv6 id 1 drop')), /^x\.nft:2:\d+: /);
  });
});
