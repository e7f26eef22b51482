import assert from 'node:assert/strict';
import { buildIcmpEcho, buildTcp, buildUdp, parseBuilt } from '../../packet/build.js';
import { VnetFlags } from '../../packet/packet-info.js';
import { Verdict } from './stage.js';
import { CLIENT, LAN6_PREFIX, REMOTE, REMOTE6, rig } from './testing.js';

/** A ruleset that drops exactly what conntrack calls invalid. */
const INVALID_DROP = `table inet f { chain fw { type filter hook forward priority 0; policy accept;
  ct state invalid drop
} }`;

/** The packet with its last byte changed after its checksum was computed. */
function corrupt(pkt: Uint8Array): Uint8Array {
  const out = pkt.slice();
  out[out.length - 1] ^= 0x5a;
  return out;
}

const CLIENT6 = `${LAN6_PREFIX}5`;

describe('FilterStage: a bad L4 checksum is ct state invalid (Linux, nf_conntrack_checksum=1)', () => {
  for (const [fam, src, dst] of [['IPv4', CLIENT, REMOTE], ['IPv6', CLIENT6, REMOTE6]] as const) {
    it(`${fam}: a corrupted TCP SYN, UDP datagram or ICMP echo is invalid and opens nothing; the intact one opens its connection`, () => {
      const r = rig(INVALID_DROP);
      const packets = [
        buildTcp({ src, dst, sport: 40000, dport: 80, flags: 'S', seq: 1, payload: 8 }),
        buildUdp({ src, dst, sport: 40001, dport: 53, payload: 12 }),
        buildIcmpEcho({ src, dst, id: 7, seq: 1, payload: 16 }),
      ];
      for (const p of packets) {
        assert.equal(r.send(corrupt(p)).v, Verdict.Drop, 'bad checksum: invalid, dropped by the rule');
        assert.equal(r.ct.count(), 0, 'no connection opened');
      }
      assert.equal(r.ct.stats.badChecksum, 3);
      for (const p of packets) assert.equal(r.send(p).v, Verdict.Accept);
      assert.equal(r.ct.count(), 3);
    });
  }

  it('a corrupted segment of an established connection is invalid and does not move its state', () => {
    const r = rig(INVALID_DROP);
    const syn = buildTcp({ src: CLIENT, dst: REMOTE, sport: 40000, dport: 80, flags: 'S', seq: 100 });
    const synAck = buildTcp({ src: REMOTE, dst: CLIENT, sport: 80, dport: 40000, flags: 'SA', seq: 500, ack: 101 });
    const rst = buildTcp({ src: REMOTE, dst: CLIENT, sport: 80, dport: 40000, flags: 'R', seq: 501, payload: 2 });
    assert.equal(r.send(syn).v, Verdict.Accept);
    assert.equal(r.send(synAck).v, Verdict.Accept);
    assert.equal(r.send(corrupt(rst)).v, Verdict.Drop);
    assert.equal(r.ct.count(), 1, 'the corrupted reset did not close the connection');
  });

  it('conntrack.checksum false (nf_conntrack_checksum=0): a corrupted packet is tracked like any other, nothing summed', () => {
    const r = rig(INVALID_DROP, { checksum: false });
    const syn = buildTcp({ src: CLIENT, dst: REMOTE, sport: 40000, dport: 80, flags: 'S', seq: 1, payload: 8 });
    const udp = buildUdp({ src: CLIENT6, dst: REMOTE6, sport: 40001, dport: 53, payload: 12 });
    assert.equal(r.send(corrupt(syn)).v, Verdict.Accept);
    assert.equal(r.send(corrupt(udp)).v, Verdict.Accept);
    assert.equal(r.ct.count(), 2, 'both opened their connection');
    assert.equal(r.ct.stats.badChecksum, 0);
  });

  it('a UDP checksum of 0 ("none") passes in both families, as in Linux\'s udp_error', () => {
    const r = rig(INVALID_DROP);
    const v4 = buildUdp({ src: CLIENT, dst: REMOTE, sport: 40000, dport: 53, payload: 4, noChecksum: true });
    assert.equal(r.send(v4).v, Verdict.Accept);
    const v6 = buildUdp({ src: CLIENT6, dst: REMOTE6, sport: 40000, dport: 53, payload: 4 });
    const at = 40 + 6;
    v6[at] = 0;
    v6[at + 1] = 0;
    assert.equal(r.send(v6).v, Verdict.Accept);
  });

  it('trusts the virtio-net header: DataValid (the NIC checked) and NeedsCsum (offloaded) are not verified again', () => {
    const r = rig(INVALID_DROP);
    let now = 5000;
    for (const [k, flags] of [[0, VnetFlags.DataValid], [1, VnetFlags.NeedsCsum]] as const) {
      const pkt = corrupt(buildUdp({ src: CLIENT, dst: REMOTE, sport: 41000 + k, dport: 53, payload: 12, vnet: { flags } }));
      assert.equal(r.stage.process(parseBuilt(pkt, 10), (now += 1)), Verdict.Accept, `vnet flags ${flags}`);
    }
    // The same corruption behind an all-zero header (CHECKSUM_NONE) is checked.
    const plain = corrupt(buildUdp({ src: CLIENT, dst: REMOTE, sport: 41002, dport: 53, payload: 12, vnet: true }));
    assert.equal(r.stage.process(parseBuilt(plain, 10), (now += 1)), Verdict.Drop);
  });
});
