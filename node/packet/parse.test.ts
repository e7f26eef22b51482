import assert from 'node:assert/strict';
import { buildIcmpEcho, buildIcmpError, buildIp, buildTcp, buildUdp, fragmentPacket, parseBuilt, parseQuoted } from './build.js';
import { GsoType, IpProto, PacketInfo, ParseStatus, TcpFlag, VnetFlags } from './packet-info.js';
import { MAX_IPV6_EXT_HEADERS, parseInner, parsePacket } from './parse.js';

const V4 = { src: '192.0.2.100', dst: '198.51.100.100' };
const V6 = { src: '2001:db8::100', dst: '2001:db8:1::100' };

describe('parsePacket', () => {
  describe('IPv4', () => {
    it('reads every IPv4 and TCP field of a SYN', () => {
      const p = buildTcp({ ...V4, ttl: 61, tos: 0x2e, ipId: 777, sport: 40000, dport: 443, flags: 'S', seq: 0xfffffff0, ack: 5, window: 29200, mss: 1460, wscale: 7, sackPerm: true, payload: 3 });
      const i = parseBuilt(p);
      assert.equal(i.status, ParseStatus.Ok);
      assert.equal(i.family, 4);
      assert.equal(i.l3Off, 0);
      assert.equal(i.l3HdrLen, 20);
      assert.equal(i.end, p.length);
      assert.equal(i.addrLen, 4);
      assert.deepEqual([...p.subarray(i.srcOff, i.srcOff + 4)], [192, 0, 2, 100]);
      assert.deepEqual([...p.subarray(i.dstOff, i.dstOff + 4)], [198, 51, 100, 100]);
      assert.equal(i.ttl, 61);
      assert.equal(i.tos, 0x2e);
      assert.equal(i.ipId, 777);
      assert.equal(i.isFragment, false);
      assert.equal(i.l4proto, IpProto.Tcp);
      assert.equal(i.l4Off, 20);
      assert.equal(i.l4Valid, true);
      assert.equal(i.sport, 40000);
      assert.equal(i.dport, 443);
      assert.equal(i.tcpFlags, TcpFlag.Syn);
      assert.equal(i.seq, 0xfffffff0);
      assert.equal(i.ack, 5);
      assert.equal(i.window, 29200);
      assert.equal(i.tcpHdrLen, 32);
      assert.equal(i.tcpOptOff, 40);
      assert.equal(i.tcpOptLen, 12);
      assert.equal(i.payloadLen, 3);
      assert.equal(i.segments, 1);
    });

    it('skips IPv4 options to find the L4 header', () => {
      const opts = Uint8Array.from([0x94, 0x04, 0x00, 0x00]); // router alert
      const p = buildUdp({ ...V4, ipOptions: opts, sport: 5000, dport: 53, payload: 'abc' });
      const i = parseBuilt(p);
      assert.equal(i.status, ParseStatus.Ok);
      assert.equal(i.l3HdrLen, 24);
      assert.equal(i.l4Off, 24);
      assert.equal(i.sport, 5000);
      assert.equal(i.dport, 53);
      assert.equal(i.payloadLen, 3);
    });

    it('ignores trailing padding after the IPv4 total length', () => {
      const p = buildUdp({ ...V4, sport: 1, dport: 2, payload: 'x' });
      const padded = new Uint8Array(p.length + 17);
      padded.set(p);
      const i = parseBuilt(padded);
      assert.equal(i.status, ParseStatus.Ok);
      assert.equal(i.end, p.length);
      assert.equal(i.payloadLen, 1);
    });

    it('parses a packet at a non-zero offset of a larger batch buffer', () => {
      const p = buildTcp({ ...V4, sport: 1234, dport: 80 });
      const batch = new Uint8Array(1000).fill(0xee);
      batch.set(p, 300);
      const i = new PacketInfo();
      assert.equal(parsePacket(i, batch, 300, p.length, 0), ParseStatus.Ok);
      assert.equal(i.l3Off, 300);
      assert.equal(i.l4Off, 320);
      assert.equal(i.end, 300 + p.length);
      assert.equal(i.dport, 80);
    });

    it('classifies malformed IPv4 headers', () => {
      const base = buildTcp({ ...V4, sport: 1, dport: 2 });
      const cases: Array<[string, (b: Uint8Array) => void, ParseStatus]> = [
        ['IHL below 5', (b) => (b[0] = 0x44), ParseStatus.Malformed],
        ['total length below header', (b) => ((b[2] = 0), (b[3] = 19)), ParseStatus.Malformed],
        ['total length beyond buffer', (b) => ((b[2] = 0x10), (b[3] = 0)), ParseStatus.Truncated],
        ['TCP data offset below 5', (b) => (b[32] = 0x40), ParseStatus.Malformed],
        ['TCP data offset beyond packet', (b) => (b[32] = 0xf0), ParseStatus.Truncated],
        ['version 5', (b) => (b[0] = 0x55), ParseStatus.Unsupported],
        ['IHL beyond buffer', (b) => ((b[0] = 0x4f), (b[2] = 0), (b[3] = 40)), ParseStatus.Truncated],
      ];
      for (const [name, mutate, want] of cases) {
        const b = base.slice();
        mutate(b);
        assert.equal(parseBuilt(b).status, want, name);
      }
    });

    it('classifies a UDP length shorter than 8 as malformed and longer than the packet as truncated', () => {
      const b = buildUdp({ ...V4, sport: 1, dport: 2, payload: 4 });
      const short = b.slice();
      short[25] = 7;
      assert.equal(parseBuilt(short).status, ParseStatus.Malformed);
      const long = b.slice();
      long[25] = 13;
      assert.equal(parseBuilt(long).status, ParseStatus.Truncated);
      const shorter = b.slice();
      shorter[25] = 10; // legal: UDP says 2 payload bytes, IP carries 4
      const i = parseBuilt(shorter);
      assert.equal(i.status, ParseStatus.Ok);
      assert.equal(i.payloadLen, 2);
    });

    it('marks an empty buffer and a buffer of only part of a header as truncated', () => {
      const i = new PacketInfo();
      assert.equal(parsePacket(i, new Uint8Array(0), 0, 0, 0), ParseStatus.Truncated);
      assert.equal(parsePacket(i, Uint8Array.from([0x45, 0, 0]), 0, 3, 0), ParseStatus.Truncated);
      assert.equal(i.status, ParseStatus.Truncated);
    });
  });

  describe('fragments', () => {
    it('gives L4 fields for the first IPv4 fragment and none for later ones', () => {
      const whole = buildUdp({ ...V4, sport: 7000, dport: 8000, payload: 100 });
      const frags = fragmentPacket(whole, 48, 0xbeef);
      assert.equal(frags.length, 3);
      const first = parseBuilt(frags[0]);
      assert.equal(first.status, ParseStatus.Ok);
      assert.equal(first.isFragment, true);
      assert.equal(first.moreFragments, true);
      assert.equal(first.fragOffset, 0);
      assert.equal(first.ipId, 0xbeef);
      assert.equal(first.l4Valid, true);
      assert.equal(first.sport, 7000);
      const second = parseBuilt(frags[1]);
      assert.equal(second.status, ParseStatus.Ok);
      assert.equal(second.isFragment, true);
      assert.equal(second.fragOffset, 48);
      assert.equal(second.l4Valid, false);
      assert.equal(second.sport, 0);
      assert.equal(second.l4proto, IpProto.Udp);
      assert.equal(second.payloadLen, 48);
      const last = parseBuilt(frags[2]);
      assert.equal(last.moreFragments, false);
      assert.equal(last.fragOffset, 96);
      assert.equal(last.payloadLen, 108 - 96);
    });

    it('walks the IPv6 fragment header and stops after it in non-first fragments', () => {
      const whole = buildTcp({ ...V6, ext: [{ type: 'hop' }], sport: 1, dport: 22, payload: 200 });
      const frags = fragmentPacket(whole, 100, 0x11223344);
      const first = parseBuilt(frags[0]);
      assert.equal(first.status, ParseStatus.Ok);
      assert.equal(first.isFragment, true);
      assert.equal(first.moreFragments, true);
      assert.equal(first.ipId, 0x11223344);
      assert.equal(first.l4proto, IpProto.Tcp);
      assert.equal(first.l3HdrLen, 40 + 8 + 8);
      assert.equal(first.dport, 22);
      const second = parseBuilt(frags[1]);
      assert.equal(second.status, ParseStatus.Ok);
      assert.equal(second.fragOffset, 96);
      assert.equal(second.l4Valid, false);
      assert.equal(second.l4proto, IpProto.Tcp);
      assert.equal(second.l4Off, 56);
    });

    it('treats an IPv6 atomic fragment as a whole packet (RFC 6946)', () => {
      const p = buildUdp({ ...V6, ext: [{ type: 'fragment', offset: 0, more: false, id: 9 }], sport: 53, dport: 5353 });
      const i = parseBuilt(p);
      assert.equal(i.status, ParseStatus.Ok);
      assert.equal(i.isFragment, false);
      assert.equal(i.ipId, 9);
      assert.equal(i.l4Valid, true);
      assert.equal(i.dport, 5353);
    });
  });

  describe('IPv6 extension headers', () => {
    it('walks hop-by-hop, routing, destination options and AH to TCP', () => {
      const p = buildTcp({
        ...V6,
        ext: [{ type: 'hop' }, { type: 'dst', body: new Uint8Array(10) }, { type: 'routing', body: new Uint8Array(22) }, { type: 'ah' }, { type: 'dst' }],
        sport: 33000,
        dport: 80,
        flags: 'SA',
      });
      const i = parseBuilt(p);
      assert.equal(i.status, ParseStatus.Ok);
      assert.equal(i.family, 6);
      assert.equal(i.l3HdrLen, 40 + 8 + 16 + 24 + 24 + 8);
      assert.equal(i.l4proto, IpProto.Tcp);
      assert.equal(i.sport, 33000);
      assert.equal(i.tcpFlags, TcpFlag.Syn | TcpFlag.Ack);
    });

    it('reads traffic class, hop limit and addresses', () => {
      const i = parseBuilt(buildUdp({ ...V6, tos: 0xb8, ttl: 3, flowLabel: 0xabcde, sport: 1, dport: 2 }));
      assert.equal(i.tos, 0xb8);
      assert.equal(i.ttl, 3);
      assert.equal(i.srcOff, 8);
      assert.equal(i.dstOff, 24);
      assert.equal(i.addrLen, 16);
      assert.equal(i.buf[i.srcOff], 0x20);
      assert.equal(i.buf[i.dstOff + 15], 0x00);
      assert.equal(i.buf[i.dstOff + 14], 0x01);
    });

    it('ends the chain at ESP and at No Next Header with l4proto set', () => {
      const esp = parseBuilt(buildIp({ ...V6, ext: [{ type: 'dst' }], proto: IpProto.Esp, payload: new Uint8Array(32) }));
      assert.equal(esp.status, ParseStatus.Ok);
      assert.equal(esp.l4proto, IpProto.Esp);
      assert.equal(esp.l4Off, 48);
      assert.equal(esp.l4Valid, false);
      assert.equal(esp.payloadLen, 32);
      const nonext = parseBuilt(buildIp({ ...V6, proto: IpProto.NoNext, payload: new Uint8Array(0) }));
      assert.equal(nonext.status, ParseStatus.Ok);
      assert.equal(nonext.l4proto, IpProto.NoNext);
      assert.equal(nonext.payloadLen, 0);
    });

    it('rejects hop-by-hop options that are not first', () => {
      const p = buildUdp({ ...V6, ext: [{ type: 'dst' }, { type: 'hop' }], sport: 1, dport: 2 });
      assert.equal(parseBuilt(p).status, ParseStatus.Malformed);
    });

    it('gives up on chains longer than MAX_IPV6_EXT_HEADERS', () => {
      const ok = buildUdp({ ...V6, ext: new Array(MAX_IPV6_EXT_HEADERS).fill({ type: 'dst' }), sport: 1, dport: 2 });
      assert.equal(parseBuilt(ok).status, ParseStatus.Ok);
      const tooLong = buildUdp({ ...V6, ext: new Array(MAX_IPV6_EXT_HEADERS + 1).fill({ type: 'dst' }), sport: 1, dport: 2 });
      assert.equal(parseBuilt(tooLong).status, ParseStatus.Unsupported);
    });

    it('reports an extension header that runs past the payload length as truncated', () => {
      const p = buildUdp({ ...V6, ext: [{ type: 'dst' }], sport: 1, dport: 2 });
      p[41] = 9; // claims 80 bytes
      assert.equal(parseBuilt(p).status, ParseStatus.Truncated);
    });

    it('reports truncation at every cut of a TCP/IPv6 packet with extension headers and never Ok', () => {
      const p = buildTcp({ ...V6, ext: [{ type: 'hop' }, { type: 'fragment', offset: 0, more: true }, { type: 'dst' }], sport: 1, dport: 2, mss: 1440, payload: 5, vnet: true });
      const i = new PacketInfo();
      assert.equal(parsePacket(i, p, 0, p.length, 10), ParseStatus.Ok);
      for (let len = 0; len < p.length; len++) {
        const st = parsePacket(i, p, 0, len, 10);
        assert.equal(st, ParseStatus.Truncated, `cut at ${len}`);
        assert.equal(i.status, ParseStatus.Truncated);
      }
    });

    it('reports truncation at every cut of a TCP/IPv4 packet', () => {
      const p = buildTcp({ ...V4, sport: 1, dport: 2, wscale: 2, payload: 3 });
      const i = new PacketInfo();
      for (let len = 0; len < p.length; len++) {
        assert.equal(parsePacket(i, p, 0, len, 0), ParseStatus.Truncated, `cut at ${len}`);
      }
    });
  });

  describe('ICMP', () => {
    it('reads type, code and echo id of ICMP and ICMPv6 echoes', () => {
      const v4 = parseBuilt(buildIcmpEcho({ ...V4, id: 0x1234, seq: 7, payload: 56 }));
      assert.equal(v4.status, ParseStatus.Ok);
      assert.equal(v4.l4proto, IpProto.Icmp);
      assert.equal(v4.icmpType, 8);
      assert.equal(v4.icmpCode, 0);
      assert.equal(v4.icmpId, 0x1234);
      assert.equal(v4.icmpInnerOff, 0);
      assert.equal(v4.payloadLen, 56);
      const v6 = parseBuilt(buildIcmpEcho({ ...V6, reply: true, id: 0xabcd }));
      assert.equal(v6.l4proto, IpProto.Icmpv6);
      assert.equal(v6.icmpType, 129);
      assert.equal(v6.icmpId, 0xabcd);
    });

    it('points icmpInnerOff at the quoted IP header of an ICMP error', () => {
      const orig = buildUdp({ ...V4, sport: 5353, dport: 53, payload: 20 });
      const err = buildIcmpError({ src: '203.0.113.1', dst: V4.src, type: 3, code: 3, quote: orig });
      const i = parseBuilt(err);
      assert.equal(i.status, ParseStatus.Ok);
      assert.equal(i.icmpType, 3);
      assert.equal(i.icmpCode, 3);
      assert.equal(i.icmpId, 0);
      assert.equal(i.icmpInnerOff, 28);
      assert.deepEqual(err.subarray(28), orig);
    });

    it('treats ICMPv6 types below 128 as errors', () => {
      const orig = buildTcp({ ...V6, sport: 1, dport: 2 });
      const i = parseBuilt(buildIcmpError({ src: '2001:db8::1', dst: V6.src, type: 2, rest: 1280, quote: orig }));
      assert.equal(i.icmpType, 2);
      assert.equal(i.icmpInnerOff, 48);
    });
  });

  describe('parseInner', () => {
    it('reads the ports of a quoted TCP packet cut to 8 bytes of TCP (RFC 792)', () => {
      const orig = buildTcp({ ...V4, sport: 40001, dport: 443, seq: 99, flags: 'S', payload: 100 });
      const outer = parseBuilt(buildIcmpError({ src: '203.0.113.1', dst: V4.src, type: 11, quote: orig, quoteLen: 28 }));
      const inner = parseQuoted(outer);
      assert.equal(inner.status, ParseStatus.Ok);
      assert.equal(inner.inner, true);
      assert.equal(inner.family, 4);
      assert.equal(inner.l4proto, IpProto.Tcp);
      assert.equal(inner.l4Valid, true);
      assert.equal(inner.sport, 40001);
      assert.equal(inner.dport, 443);
      assert.equal(inner.seq, 99);
      assert.equal(inner.tcpHdrLen, 0);
      assert.equal(inner.end, outer.end);
      assert.equal(inner.srcOff, outer.icmpInnerOff + 12);
    });

    it('reads a quoted IPv6 UDP header and a quoted ICMPv6 echo id', () => {
      const udp = buildUdp({ ...V6, ext: [{ type: 'dst' }], sport: 1111, dport: 2222, payload: 500 });
      const o1 = parseBuilt(buildIcmpError({ src: '2001:db8::1', dst: V6.src, type: 1, code: 4, quote: udp, quoteLen: 60 }));
      const i1 = parseQuoted(o1);
      assert.equal(i1.status, ParseStatus.Ok);
      assert.equal(i1.sport, 1111);
      assert.equal(i1.dport, 2222);
      const echo = buildIcmpEcho({ ...V6, id: 4242, payload: 100 });
      const i2 = parseQuoted(parseBuilt(buildIcmpError({ src: '2001:db8::1', dst: V6.src, type: 3, quote: echo, quoteLen: 48 })));
      assert.equal(i2.status, ParseStatus.Ok);
      assert.equal(i2.icmpType, 128);
      assert.equal(i2.icmpId, 4242);
    });

    it('reports a quote too short for the ports as truncated', () => {
      const orig = buildUdp({ ...V4, sport: 1, dport: 2 });
      const i = new PacketInfo();
      assert.equal(parseInner(i, orig, 0, 23), ParseStatus.Truncated);
      assert.equal(parseInner(i, orig, 0, 24), ParseStatus.Ok);
      assert.equal(i.dport, 2);
      assert.equal(parseInner(i, orig, 0, 19), ParseStatus.Truncated);
    });
  });

  describe('virtio-net header and GSO', () => {
    it('reads the virtio header fields (little-endian)', () => {
      const p = buildTcp({ ...V4, sport: 1, dport: 2, payload: 10, vnet: { flags: VnetFlags.DataValid, csumStart: 0x1234, csumOffset: 0x56 } });
      const i = new PacketInfo();
      assert.equal(parsePacket(i, p, 0, p.length, 10), ParseStatus.Ok);
      assert.equal(i.vnetLen, 10);
      assert.equal(i.vnetFlags, VnetFlags.DataValid);
      assert.equal(i.csumStart, 0x1234);
      assert.equal(i.csumOffset, 0x56);
      assert.equal(i.l3Off, 10);
      assert.equal(i.sport, 1);
    });

    it('counts the segments of a TCP super-packet', () => {
      const p = buildTcp({ ...V4, sport: 1, dport: 2, payload: 1448 * 10 + 1, gso: 1448 });
      const i = parseBuilt(p, 10);
      assert.equal(i.status, ParseStatus.Ok);
      assert.equal(i.gsoType, GsoType.TcpV4);
      assert.equal(i.gsoSize, 1448);
      assert.equal(i.gsoHdrLen, 40);
      assert.equal(i.vnetFlags & VnetFlags.NeedsCsum, VnetFlags.NeedsCsum);
      assert.equal(i.csumStart, 20);
      assert.equal(i.csumOffset, 16);
      assert.equal(i.payloadLen, 14481);
      assert.equal(i.segments, 11);
      const v6 = parseBuilt(buildTcp({ ...V6, sport: 1, dport: 2, payload: 1428 * 3, gso: 1428 }), 10);
      assert.equal(v6.gsoType, GsoType.TcpV6);
      assert.equal(v6.segments, 3);
    });

    it('accepts a super-packet with IPv4 total length 0 (BIG TCP) by the buffer length', () => {
      const p = buildTcp({ ...V4, sport: 1, dport: 2, payload: 3000, gso: 1000 });
      p[12] = 0;
      p[13] = 0;
      const i = parseBuilt(p, 10);
      assert.equal(i.status, ParseStatus.Ok);
      assert.equal(i.end, p.length);
      assert.equal(i.segments, 3);
      // Without GSO the same length field is malformed.
      p[1] = GsoType.None;
      assert.equal(parseBuilt(p, 10).status, ParseStatus.Malformed);
    });

    it('rejects a GSO type that does not match the packet', () => {
      const p = buildTcp({ ...V6, sport: 1, dport: 2, payload: 3000, gso: 1000 });
      p[1] = GsoType.TcpV4;
      assert.equal(parseBuilt(p, 10).status, ParseStatus.Malformed);
      const u = buildUdp({ ...V4, sport: 1, dport: 2, vnet: { gsoType: GsoType.TcpV4, gsoSize: 100 } });
      assert.equal(parseBuilt(u, 10).status, ParseStatus.Malformed);
    });

    it('accepts a 12-byte virtio header (with num_buffers)', () => {
      const p = buildUdp({ ...V6, sport: 7, dport: 8, vnet: { len: 12 } });
      const i = new PacketInfo();
      assert.equal(parsePacket(i, p, 0, p.length, 12), ParseStatus.Ok);
      assert.equal(i.l3Off, 12);
      assert.equal(i.dport, 8);
      assert.equal(parsePacket(i, p, 0, p.length, 8), ParseStatus.Malformed, 'shorter than any virtio header');
    });

    it('reports a buffer shorter than the virtio header as truncated', () => {
      const i = new PacketInfo();
      assert.equal(parsePacket(i, new Uint8Array(9), 0, 9, 10), ParseStatus.Truncated);
    });
  });
});
