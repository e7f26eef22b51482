import assert from 'node:assert/strict';
import { engine, drops, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { buildIcmpEcho, buildTcp, buildUdp } from '../../packet/build.js';


describe('meta length and meta pkttype', () => {
  for (const [fam, src, dst, mcast, hdr] of [
    ['IPv4', '192.0.2.1', '198.51.100.1', '239.1.2.3', 20],
    ['IPv6', '2001:db8::1', '2001:db8:1::1', 'ff02::fb', 40],
  ] as const) {
    it(`meta length is the ${fam} packet's length, IP header included`, () => {
      const udp = buildUdp({ src, dst, sport: 1, dport: 2, payload: 100 });
      const len = hdr + 8 + 100;
      assert.equal(udp.length, len);
      assert.equal(drops(`meta length ${len}`, udp), true);
      assert.equal(drops(`meta length ${len - 1}`, udp), false);
      assert.equal(drops('meta length > 1000', udp), false);
      assert.equal(drops('meta length 100-200', udp), true);
      // Padding after what the IP header says is not part of the packet.
      const padded = new Uint8Array(len + 6);
      padded.set(udp);
      assert.equal(drops(`meta length ${len}`, padded), true);
      const syn = buildTcp({ src, dst, sport: 1, dport: 80, flags: 'S', mss: 1460 });
      assert.equal(drops(`meta length ${hdr + 24}`, syn), true);
    });

    it(`meta pkttype on ${fam}: multicast from the destination, the rest host`, () => {
      const toHost = buildUdp({ src, dst, sport: 1, dport: 2 });
      const toGroup = buildUdp({ src, dst: mcast, sport: 1, dport: 2 });
      assert.equal(drops('meta pkttype host', toHost), true);
      assert.equal(drops('meta pkttype unicast', toHost), true);
      assert.equal(drops('meta pkttype multicast', toHost), false);
      assert.equal(drops('meta pkttype multicast', toGroup), true);
      assert.equal(drops('meta pkttype host', toGroup), false);
      assert.equal(drops('meta pkttype != host', toGroup), true);
      assert.equal(drops('meta pkttype { broadcast, multicast }', toGroup), true);
      assert.equal(drops('meta pkttype broadcast', toGroup), false);
    });
  }

  it('meta pkttype broadcast is the IPv4 limited broadcast; a subnet-directed one is not known (host)', () => {
    const limited = buildUdp({ src: '192.0.2.1', dst: '255.255.255.255', sport: 68, dport: 67 });
    const directed = buildUdp({ src: '192.0.2.1', dst: '192.0.2.255', sport: 1, dport: 2 });
    assert.equal(drops('meta pkttype broadcast', limited), true);
    assert.equal(drops('meta pkttype broadcast', directed), false);
    assert.equal(drops('meta pkttype host', directed), true);
    // 224.0.0.0/4 ends at 239.255.255.255; 240.0.0.1 is not multicast.
    assert.equal(drops('meta pkttype multicast', buildIcmpEcho({ src: '192.0.2.1', dst: '224.0.0.1', id: 1 })), true);
    assert.equal(drops('meta pkttype multicast', buildUdp({ src: '192.0.2.1', dst: '240.0.0.1', sport: 1, dport: 2 })), false);
  });

  it('print and JSON round trips, with libnftables names', () => {
    assert.deepEqual(roundTrips('meta length > 1400 drop')[0], { match: { op: '>', left: { meta: { key: 'length' } }, right: 1400 } });
    assert.deepEqual(roundTrips('meta pkttype broadcast drop')[0], { match: { op: '==', left: { meta: { key: 'pkttype' } }, right: 'broadcast' } });
    assert.deepEqual(roundTrips('meta pkttype { broadcast, multicast } drop')[0], {
      match: { op: '==', left: { meta: { key: 'pkttype' } }, right: { set: ['broadcast', 'multicast'] } },
    });
    // nft lists `unicast` by its first name, `host`.
    assert.deepEqual(roundTrips('meta pkttype unicast accept', 'meta pkttype host accept')[0], {
      match: { op: '==', left: { meta: { key: 'pkttype' } }, right: 'host' },
    });
    // nft -j's own form loads.
    const e = new RulesetEngine();
    e.load({ nftables: [
      { table: { family: 'ip', name: 't' } },
      { chain: { family: 'ip', table: 't', name: 'c', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
      { rule: { family: 'ip', table: 't', chain: 'c', expr: [{ match: { op: '==', left: { meta: { key: 'pkttype' } }, right: 'multicast' } }, { drop: null }] } },
    ] });
    assert.match(e.list(), /meta pkttype multicast drop/);
  });

  it('refuses values out of range, with their place', () => {
    const bad = (rule: string) => {
      try {
        engine(rule);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.match(bad('meta pkttype anycast drop'), /^x\.nft:2:\d+: 'anycast' is not a valid pkt_type/);
    assert.match(bad('meta length 4294967296 drop'), /^x\.nft:2:\d+: 4294967296 is out of range/);
  });
});
