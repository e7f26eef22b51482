import assert from 'node:assert/strict';
import { engine, drops } from './rule-test-kit.js';
import { parsePacket } from '../../packet/parse.js';
import { RulesetEngine } from '../engine.js';
import { buildIp, buildUdp } from '../../packet/build.js';
import { PacketInfo, ParseStatus } from '../../packet/packet-info.js';


/** An SCTP packet (RFC 9260): the 12-byte common header and one 4-byte chunk header (the checksum is not computed). */
function sctp(src: string, dst: string, sport: number, dport: number, bytes = 16): Uint8Array {
  const l4 = new Uint8Array(bytes);
  l4[0] = sport >> 8;
  l4[1] = sport & 0xff;
  l4[2] = dport >> 8;
  l4[3] = dport & 0xff;
  if (bytes >= 16) l4.set([1, 0, 0, 4], 12); // an INIT chunk header
  return buildIp({ src, dst, proto: 132, payload: l4 });
}

describe('sctp sport and dport', () => {
  for (const [fam, src, dst] of [['IPv4', '192.0.2.1', '198.51.100.1'], ['IPv6', '2001:db8::1', '2001:db8:1::1']] as const) {
    it(`the packet parser reads the ${fam} SCTP ports; a header cut short has none`, () => {
      const p = new PacketInfo();
      const pkt = sctp(src, dst, 5000, 36412);
      assert.equal(parsePacket(p, pkt, 0, pkt.length, 0), ParseStatus.Ok);
      assert.deepEqual([p.l4proto, p.l4Valid, p.sport, p.dport], [132, true, 5000, 36412]);
      const short = sctp(src, dst, 5000, 36412, 8);
      assert.equal(parsePacket(p, short, 0, short.length, 0), ParseStatus.Ok);
      assert.equal(p.l4Valid, false);
    });

    it(`sctp sport/dport match ${fam} SCTP only; th ports now see SCTP too`, () => {
      const pkt = sctp(src, dst, 5000, 36412);
      assert.equal(drops('sctp dport 36412', pkt), true);
      assert.equal(drops('sctp sport 5000', pkt), true);
      assert.equal(drops('sctp dport { 2905, 36412 }', pkt), true);
      assert.equal(drops('sctp dport 36413', pkt), false);
      assert.equal(drops('sctp dport != 1', sctp(src, dst, 5000, 36412, 8)), false, 'no ports known: no match');
      assert.equal(drops('th dport 36412', pkt), true);
      assert.equal(drops('tcp dport 36412', pkt), false);
      const udp = buildUdp({ src, dst, sport: 5000, dport: 36412 });
      assert.equal(drops('sctp dport 36412', udp), false);
    });
  }

  it('print and JSON round trips with the libnftables names', () => {
    const e = engine('sctp dport 36412 sctp sport 1024-65535 accept');
    assert.match(e.list(), /\n\t\tsctp dport 36412 sctp sport 1024-65535 accept\n/);
    const again = new RulesetEngine();
    again.load(e.list());
    assert.equal(again.list(), e.list());
    const fromJson = new RulesetEngine();
    fromJson.load(e.toJSON());
    assert.equal(fromJson.list(), e.list());
    const expr = (e.toJSON().nftables.find((x) => 'rule' in x) as { rule: { expr: unknown[] } }).rule.expr;
    assert.deepEqual(expr.slice(0, 2), [
      { match: { op: '==', left: { payload: { protocol: 'sctp', field: 'dport' } }, right: 36412 } },
      { match: { op: '==', left: { payload: { protocol: 'sctp', field: 'sport' } }, right: { range: [1024, 65535] } } },
    ]);
  });
});
