import assert from 'node:assert/strict';
import { buildIcmpError, buildIp, buildTcp, buildUdp, fragmentPacket, parseBuilt, tcpFlagBits } from './build.js';
import { l4PseudoSum, verifyIpv4HeaderChecksum, verifyL4Checksum } from './checksum.js';
import { IpProto, ParseStatus, TcpFlag, VnetFlags } from './packet-info.js';

const V4 = { src: '192.0.2.100', dst: '198.51.100.100' };
const V6 = { src: '2001:db8::100', dst: '2001:db8:1::100' };

describe('packet builders', () => {
  it('turns flag letters into TCP flag bits and refuses unknown letters', () => {
    assert.equal(tcpFlagBits('S'), TcpFlag.Syn);
    assert.equal(tcpFlagBits('sa'), TcpFlag.Syn | TcpFlag.Ack);
    assert.equal(tcpFlagBits('FSRPAUEC'), 0xff);
    assert.equal(tcpFlagBits(0x12), 0x12);
    assert.throws(() => tcpFlagBits('SX'), /unknown TCP flag letter "X"/);
  });

  it('refuses mixed address families and bad addresses', () => {
    assert.throws(() => buildUdp({ src: '192.0.2.1', dst: '2001:db8::1', sport: 1, dport: 2 }), /different families/);
    assert.throws(() => buildUdp({ src: '192.0.2.300', dst: '192.0.2.1', sport: 1, dport: 2 }), /invalid IPv4 address/);
  });

  it('fills payloads from text, a length, or bytes', () => {
    const t = parseBuilt(buildUdp({ ...V4, sport: 1, dport: 2, payload: 'hé' }));
    assert.equal(t.payloadLen, 3);
    const n = buildUdp({ ...V4, sport: 1, dport: 2, payload: 300 });
    assert.equal(n[28 + 299], 299 & 0xff);
    const b = buildUdp({ ...V6, sport: 1, dport: 2, payload: Uint8Array.from([9, 8]) });
    assert.deepEqual([...b.subarray(48)], [9, 8]);
  });

  it('splits packets into fragments that reassemble to the original (IPv4 and IPv6)', () => {
    for (const whole of [
      buildUdp({ ...V4, sport: 1, dport: 2, payload: 1000 }),
      buildTcp({ ...V6, ext: [{ type: 'hop' }, { type: 'routing', body: new Uint8Array(6) }, { type: 'dst' }], sport: 1, dport: 2, payload: 1000 }),
    ]) {
      const w = parseBuilt(whole);
      const frags = fragmentPacket(whole, 300, 77);
      assert.equal(frags.length, Math.ceil((whole.length - (w.family === 4 ? 20 : 56)) / 296));
      const parts: Uint8Array[] = [];
      let expect = 0;
      for (const f of frags) {
        const i = parseBuilt(f);
        assert.equal(i.status, ParseStatus.Ok);
        assert.equal(i.isFragment, true);
        assert.equal(i.ipId, 77);
        assert.equal(i.fragOffset, expect);
        assert.ok(verifyIpv4HeaderChecksum(i));
        // The fragmentable part starts after the fragment header (v6) or the IP header (v4).
        const start = i.family === 4 ? i.l3HdrLen : 40 + 16 + 8;
        const data = f.subarray(start, i.end);
        parts.push(data);
        expect += data.length;
      }
      const fragmentable = whole.subarray(w.family === 4 ? 20 : 56);
      const joined = new Uint8Array(expect);
      let o = 0;
      for (const p of parts) {
        joined.set(p, o);
        o += p.length;
      }
      assert.deepEqual(joined, fragmentable);
    }
  });

  it('builds a TCP super-packet whose checksum field is the partial pseudo-header sum', () => {
    const p = buildTcp({ ...V6, sport: 1, dport: 2, payload: 9000, gso: 1440 });
    const i = parseBuilt(p, 10);
    assert.equal(i.status, ParseStatus.Ok);
    assert.equal(i.vnetFlags, VnetFlags.NeedsCsum);
    assert.equal(i.gsoHdrLen, 60);
    assert.equal(i.csumStart, 40);
    assert.equal((p[i.l4Off + 16] << 8) | p[i.l4Off + 17], l4PseudoSum(i));
    assert.ok(verifyL4Checksum(i));
    assert.equal(i.segments, 7);
  });

  it('quotes at most what a router would in an ICMP error (576 / 1280 bytes in all)', () => {
    const big4 = buildUdp({ ...V4, sport: 1, dport: 2, payload: 1400 });
    assert.equal(buildIcmpError({ ...V4, type: 3, code: 4, quote: big4 }).length, 576);
    const big6 = buildUdp({ ...V6, sport: 1, dport: 2, payload: 1400 });
    assert.equal(buildIcmpError({ ...V6, type: 2, quote: big6 }).length, 1280);
    assert.equal(buildIcmpError({ ...V4, type: 11, quote: big4, quoteLen: 28 }).length, 56);
  });

  it('builds raw IP packets for other protocols with a right IPv4 header checksum', () => {
    const p = buildIp({ ...V4, proto: IpProto.Vrrp, ttl: 255, payload: new Uint8Array(20) });
    const i = parseBuilt(p);
    assert.equal(i.l4proto, IpProto.Vrrp);
    assert.equal(i.ttl, 255);
    assert.ok(verifyIpv4HeaderChecksum(i));
    assert.equal(i.payloadLen, 20);
  });
});
