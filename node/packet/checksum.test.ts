import assert from 'node:assert/strict';
import { parseIPv4, parseIPv6 } from './address.js';
import { buildIcmpEcho, buildIcmpError, buildTcp, buildUdp, fragmentPacket, parseBuilt, parseQuoted } from './build.js';
import {
  computeL4Checksum,
  csumUpdate16,
  csumUpdate32,
  ipv4HeaderChecksum,
  l4PseudoSum,
  onesSum,
  rewriteAddress,
  rewriteIcmpId,
  rewritePort,
  setL4Checksum,
  verifyIpv4HeaderChecksum,
  verifyL4Checksum,
} from './checksum.js';
import { IpProto, PacketInfo, VnetFlags } from './packet-info.js';
import { rng } from '../../inet/index.js';

function field16(info: PacketInfo, rel: number): number {
  return (info.buf[info.l4Off + rel] << 8) | info.buf[info.l4Off + rel + 1];
}

describe('checksum', () => {
  it('computes the IPv4 header checksum of a known header (0xb861)', () => {
    const h = Uint8Array.from([0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7]);
    assert.equal(ipv4HeaderChecksum(h, 0, 20), 0xb861);
    h[10] = 0xb8;
    h[11] = 0x61;
    assert.equal(onesSum(h, 0, 20), 0xffff);
  });

  it('pads an odd trailing byte with zero (RFC 1071)', () => {
    assert.equal(onesSum(Uint8Array.from([0x12, 0x34, 0x56]), 0, 3), 0x1234 + 0x5600);
    assert.equal(onesSum(Uint8Array.from([0xff, 0xff, 0x00, 0x02]), 0, 4), 0x0002);
  });

  it('verifies the checksums of every built packet kind and detects a flipped bit', () => {
    const V4 = { src: '192.0.2.100', dst: '198.51.100.100' };
    const V6 = { src: '2001:db8::100', dst: '2001:db8:1::100' };
    const pkts = [
      buildTcp({ ...V4, sport: 1, dport: 2, flags: 'S', mss: 1460, payload: 33 }),
      buildUdp({ ...V4, sport: 1, dport: 2, payload: 'hello' }),
      buildIcmpEcho({ ...V4, id: 5, payload: 9 }),
      buildTcp({ ...V6, ext: [{ type: 'hop' }], sport: 1, dport: 2, payload: 7 }),
      buildUdp({ ...V6, sport: 1, dport: 2, payload: 1 }),
      buildIcmpEcho({ ...V6, id: 5, payload: 10 }),
    ];
    for (const p of pkts) {
      const i = parseBuilt(p);
      assert.ok(verifyIpv4HeaderChecksum(i));
      assert.ok(verifyL4Checksum(i), `proto ${i.l4proto} family ${i.family}`);
      p[p.length - 1] ^= 0x01;
      assert.ok(!verifyL4Checksum(i), `flip detected, proto ${i.l4proto}`);
    }
  });

  it('covers the pseudo-header for ICMPv6 but not for ICMPv4', () => {
    const v4 = parseBuilt(buildIcmpEcho({ src: '192.0.2.1', dst: '192.0.2.2', id: 1 }));
    v4.buf[v4.dstOff + 3] = 3; // not covered by the ICMP checksum
    assert.ok(verifyL4Checksum(v4));
    const v6 = parseBuilt(buildIcmpEcho({ src: '2001:db8::1', dst: '2001:db8::2', id: 1 }));
    v6.buf[v6.dstOff + 15] = 3;
    assert.ok(!verifyL4Checksum(v6));
  });

  it('updates a checksum per RFC 1624 like a full recomputation (16 and 32 bits)', () => {
    const r = rng(1);
    const buf = new Uint8Array(64);
    for (let n = 0; n < 2000; n++) {
      for (let i = 0; i < buf.length; i++) buf[i] = (r() * 256) | 0;
      buf[10] = buf[11] = 0;
      const c0 = ~onesSum(buf, 0, 64) & 0xffff;
      const k = 2 * ((r() * 14) | 0) + 12; // even offset, not the field
      const old32 = ((buf[k] << 24) | (buf[k + 1] << 16) | (buf[k + 2] << 8) | buf[k + 3]) >>> 0;
      const new32 = (r() * 2 ** 32) >>> 0;
      buf[k] = new32 >>> 24;
      buf[k + 1] = (new32 >>> 16) & 0xff;
      buf[k + 2] = (new32 >>> 8) & 0xff;
      buf[k + 3] = new32 & 0xff;
      assert.equal(csumUpdate32(c0, old32, new32), ~onesSum(buf, 0, 64) & 0xffff);
      const old16 = (buf[k] << 8) | buf[k + 1];
      const new16 = (r() * 65536) | 0;
      buf[k] = new16 >> 8;
      buf[k + 1] = new16 & 0xff;
      const c1 = ~onesSum(buf, 0, 64) & 0xffff;
      assert.equal(csumUpdate16(csumUpdate32(c0, old32, new32), old16, new16), c1);
    }
  });

  describe('rewriteAddress / rewritePort', () => {
    const kinds = ['tcp', 'udp', 'icmp'] as const;

    function randomPacket(r: () => number, v6: boolean, kind: (typeof kinds)[number], partial: boolean): Uint8Array {
      const a = (): string =>
        v6
          ? `2001:db8:${((r() * 65536) | 0).toString(16)}::${((r() * 65536) | 0).toString(16)}`
          : `198.51.${(r() * 256) | 0}.${(r() * 256) | 0}`;
      const ip = { src: a(), dst: a(), partialCsum: partial };
      const payload = (r() * 40) | 0;
      const sport = (r() * 65536) | 0;
      const dport = (r() * 65536) | 0;
      if (kind === 'tcp') return buildTcp({ ...ip, sport, dport, seq: (r() * 2 ** 32) >>> 0, payload });
      if (kind === 'udp') return buildUdp({ ...ip, sport, dport, payload });
      return buildIcmpEcho({ ...ip, id: sport, payload });
    }

    function expectConsistent(i: PacketInfo, what: string): void {
      assert.ok(verifyIpv4HeaderChecksum(i), `${what}: IPv4 header checksum`);
      const f = field16(i, i.l4proto === IpProto.Tcp ? 16 : i.l4proto === IpProto.Udp ? 6 : 2);
      const partial = (i.vnetFlags & VnetFlags.NeedsCsum) !== 0 && i.l4proto !== IpProto.Icmp;
      assert.equal(f, partial ? l4PseudoSum(i) : computeL4Checksum(i), `${what}: L4 field equals full recomputation`);
    }

    it('equals a full recomputation for random IPv4/IPv6 TCP/UDP/ICMP, with and without NeedsCsum', () => {
      const r = rng(42);
      const addr = new Uint8Array(32);
      let cases = 0;
      for (let n = 0; n < 600; n++) {
        const v6 = r() < 0.5;
        const kind = kinds[(r() * 3) | 0];
        const partial = r() < 0.5;
        const pkt = randomPacket(r, v6, kind, partial);
        const i = parseBuilt(pkt, partial ? 10 : 0);
        expectConsistent(i, 'built');
        for (let step = 0; step < 4; step++) {
          const what = `case ${n} step ${step} v${i.family} ${kind} partial=${partial}`;
          const op = (r() * 3) | 0;
          if (op < 2) {
            const off = (r() * 16) | 0;
            for (let k = 0; k < addr.length; k++) addr[k] = (r() * 256) | 0;
            rewriteAddress(i, op === 0 ? 'src' : 'dst', addr, off);
            assert.deepEqual(pkt.subarray(op === 0 ? i.srcOff : i.dstOff, (op === 0 ? i.srcOff : i.dstOff) + i.addrLen), addr.subarray(off, off + i.addrLen));
          } else if (kind === 'icmp') {
            assert.ok(rewriteIcmpId(i, (r() * 65536) | 0));
          } else {
            const port = (r() * 65536) | 0;
            assert.ok(rewritePort(i, r() < 0.5 ? 'src' : 'dst', port));
          }
          expectConsistent(i, what);
          if (!partial) assert.ok(verifyL4Checksum(i), what);
          cases++;
        }
      }
      assert.equal(cases, 2400);
    });

    it('leaves the L4 field alone on a port rewrite under NeedsCsum (ports are not in the pseudo-header)', () => {
      const p = buildTcp({ src: '192.0.2.1', dst: '192.0.2.2', sport: 1000, dport: 80, payload: 100, partialCsum: true });
      const i = parseBuilt(p, 10);
      const before = field16(i, 16);
      assert.ok(rewritePort(i, 'src', 61000));
      assert.equal(i.sport, 61000);
      assert.equal(field16(i, 16), before);
      rewriteAddress(i, 'src', parseIPv4('203.0.113.9'), 0);
      assert.notEqual(field16(i, 16), before);
      assert.equal(field16(i, 16), l4PseudoSum(i));
    });

    it('keeps UDP-over-IPv4 checksum 0 ("none") at 0', () => {
      const p = buildUdp({ src: '192.0.2.1', dst: '192.0.2.2', sport: 1, dport: 2, payload: 8, noChecksum: true });
      const i = parseBuilt(p);
      assert.equal(field16(i, 6), 0);
      rewriteAddress(i, 'dst', parseIPv4('198.51.100.7'), 0);
      rewritePort(i, 'dst', 9999);
      assert.equal(field16(i, 6), 0);
      assert.ok(verifyL4Checksum(i));
      assert.ok(verifyIpv4HeaderChecksum(i));
    });

    it('sends a UDP checksum that computes to 0 as 0xffff, also after an incremental update', () => {
      for (const [src, dst, parse] of [
        ['192.0.2.1', '192.0.2.2', parseIPv4],
        ['2001:db8::1', '2001:db8::2', parseIPv6],
      ] as const) {
        const p = buildUdp({ src, dst, sport: 1, dport: 2, payload: 2 });
        const i = parseBuilt(p);
        // Choose the payload word so that the whole sum is 0xffff: the checksum is then 0.
        p[i.l4Off + 6] = p[i.l4Off + 7] = 0;
        p[i.l4Off + 8] = p[i.l4Off + 9] = 0;
        const s = ~computeL4Checksum(i) & 0xffff; // sum with the word at 0
        const w = ~s & 0xffff;
        p[i.l4Off + 8] = w >> 8;
        p[i.l4Off + 9] = w & 0xff;
        assert.equal(computeL4Checksum(i), 0xffff);
        setL4Checksum(i);
        assert.equal(field16(i, 6), 0xffff);
        assert.ok(verifyL4Checksum(i));
        // Now move away and back with incremental updates: it must land on 0xffff again.
        const orig = p.slice(i.srcOff, i.srcOff + i.addrLen);
        rewriteAddress(i, 'src', parse(src.includes(':') ? '2001:db8::77' : '192.0.2.77'), 0);
        assert.ok(verifyL4Checksum(i));
        rewriteAddress(i, 'src', orig, 0);
        assert.equal(field16(i, 6), 0xffff);
      }
    });

    it('fixes the IPv4 header checksum of a non-first fragment and leaves its payload alone', () => {
      const frags = fragmentPacket(buildUdp({ src: '192.0.2.1', dst: '192.0.2.2', sport: 1, dport: 2, payload: 64 }), 32);
      const i = parseBuilt(frags[1]);
      const payload = frags[1].slice(20);
      rewriteAddress(i, 'src', parseIPv4('203.0.113.5'), 0);
      assert.ok(verifyIpv4HeaderChecksum(i));
      assert.deepEqual(frags[1].subarray(20), payload);
      assert.equal(rewritePort(i, 'src', 5), false);
    });

    it('rewrites a quoted packet inside an ICMP error and lets the outer checksum be recomputed', () => {
      const orig = buildUdp({ src: '192.0.2.100', dst: '198.51.100.100', sport: 5000, dport: 53, payload: 30 });
      const err = buildIcmpError({ src: '203.0.113.1', dst: '198.51.100.100', type: 3, code: 1, quote: orig, quoteLen: 28 });
      const outer = parseBuilt(err);
      const inner = parseQuoted(outer);
      rewriteAddress(inner, 'src', parseIPv4('10.0.0.5'), 0);
      rewritePort(inner, 'src', 40000);
      assert.ok(verifyIpv4HeaderChecksum(inner), 'quoted IPv4 header checksum updated');
      assert.ok(!verifyL4Checksum(outer), 'outer ICMP checksum is stale until recomputed');
      setL4Checksum(outer);
      assert.ok(verifyL4Checksum(outer));
      // The quoted UDP checksum (within the 8 quoted bytes) still matches the original
      // datagram with the new address and port, which we can check by rebuilding it.
      const want = buildUdp({ src: '10.0.0.5', dst: '198.51.100.100', sport: 40000, dport: 53, payload: 30 });
      assert.deepEqual(err.subarray(outer.icmpInnerOff), want.subarray(0, 28));
    });
  });
});
