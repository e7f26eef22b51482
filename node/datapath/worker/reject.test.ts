import assert from 'node:assert/strict';
import { RejectReplies } from './reject.js';
import { buildTcp, buildUdp, buildIcmpError, parseBuilt, parseQuoted } from '../../packet/build.js';
import { verifyIpv4HeaderChecksum, verifyL4Checksum } from '../../packet/checksum.js';
import { formatAddress } from '../../packet/address.js';
import { IpProto, TcpFlag, type PacketInfo } from '../../packet/packet-info.js';
import { RejectKind, IcmpxCode } from '../../ruleset/index.js';

const V4 = { src: '192.0.2.100', dst: '198.51.100.100' };
const V6 = { src: '2001:db8:1::100', dst: '2001:db8:2::100' };

function collect(limits?: { perSecond?: number; burst?: number }) {
  const out: Uint8Array[] = [];
  const r = new RejectReplies((b, o, l) => out.push(b.slice(o, o + l)), limits);
  return { r, out };
}

function replyOf(out: Uint8Array[]): PacketInfo {
  assert.equal(out.length, 1, 'one reply injected');
  const p = parseBuilt(out[0]!, 10);
  assert.equal(p.status, 0, 'the reply parses');
  if (p.family === 4) assert.ok(verifyIpv4HeaderChecksum(p), 'IPv4 header checksum');
  assert.ok(verifyL4Checksum(p), 'L4 checksum');
  return p;
}

const addr = (p: PacketInfo, off: number): string => formatAddress(p.buf, off, p.addrLen);

describe('reject replies', () => {
  for (const [fam, a] of [['IPv4', V4], ['IPv6', V6]] as const) {
    it(`answers a ${fam} SYN with RST+ACK acknowledging SEQ+1, addresses and ports swapped`, () => {
      const { r, out } = collect();
      const syn = parseBuilt(buildTcp({ ...a, sport: 40000, dport: 5002, flags: 'S', seq: 1000, vnet: true }), 10);
      assert.ok(r.reply(syn, RejectKind.TcpReset, 0, 0) > 0);
      const p = replyOf(out);
      assert.equal(p.l4proto, IpProto.Tcp);
      assert.equal(addr(p, p.srcOff), a.dst);
      assert.equal(addr(p, p.dstOff), a.src);
      assert.deepEqual([p.sport, p.dport], [5002, 40000]);
      assert.equal(p.tcpFlags, TcpFlag.Rst | TcpFlag.Ack);
      assert.deepEqual([p.seq, p.ack], [0, 1001]);
    });
  }

  it('answers a segment carrying ACK with a bare RST whose SEQ is its ACK (RFC 9293 3.10.7.1)', () => {
    const { r, out } = collect();
    const seg = parseBuilt(buildTcp({ ...V4, sport: 1, dport: 2, flags: 'PA', seq: 5, ack: 0xfffffff0, payload: 100, vnet: true }), 10);
    r.reply(seg, RejectKind.TcpReset, 0, 0);
    const p = replyOf(out);
    assert.equal(p.tcpFlags, TcpFlag.Rst);
    assert.equal(p.seq, 0xfffffff0);
  });

  it('counts payload and FIN in the acknowledgement of a segment without ACK', () => {
    const { r, out } = collect();
    const seg = parseBuilt(buildTcp({ ...V6, sport: 1, dport: 2, flags: 'F', seq: 0xffffffff, payload: 10, vnet: true }), 10);
    r.reply(seg, RejectKind.TcpReset, 0, 0);
    assert.equal(replyOf(out).ack, 10, 'wraps modulo 2^32: 0xffffffff + 10 + 1');
  });

  it('answers IPv4 UDP with ICMP port unreachable quoting the datagram', () => {
    const { r, out } = collect();
    const udp = parseBuilt(buildUdp({ ...V4, sport: 33333, dport: 53, payload: 40, vnet: true }), 10);
    r.reply(udp, RejectKind.Icmp, 3, 0);
    const p = replyOf(out);
    assert.equal(p.l4proto, IpProto.Icmp);
    assert.deepEqual([p.icmpType, p.icmpCode], [3, 3]);
    assert.equal(addr(p, p.dstOff), V4.src);
    const q = parseQuoted(p);
    assert.deepEqual([q.sport, q.dport, q.l4proto], [33333, 53, IpProto.Udp]);
  });

  it('answers IPv6 UDP with ICMPv6 port unreachable, and maps icmpx codes per family', () => {
    const { r, out } = collect();
    const udp = parseBuilt(buildUdp({ ...V6, sport: 33333, dport: 53, payload: 40, vnet: true }), 10);
    r.reply(udp, RejectKind.Icmpx, IcmpxCode.PortUnreachable, 0);
    const p = replyOf(out);
    assert.equal(p.l4proto, IpProto.Icmpv6);
    assert.deepEqual([p.icmpType, p.icmpCode], [1, 4]);
    assert.equal(parseQuoted(p).dport, 53);
    out.length = 0;
    const udp4 = parseBuilt(buildUdp({ ...V4, sport: 1, dport: 2, vnet: true }), 10);
    r.reply(udp4, RejectKind.Icmpx, IcmpxCode.AdminProhibited, 0);
    assert.deepEqual([replyOf(out).icmpType, replyOf(out).icmpCode], [3, 13]);
  });

  it('quotes at most 576 bytes in all for IPv4 and 1280 for IPv6', () => {
    const { r, out } = collect();
    r.reply(parseBuilt(buildUdp({ ...V4, sport: 1, dport: 2, payload: 1400, vnet: true }), 10), RejectKind.Icmp, 3, 0);
    assert.equal(out[0]!.length - 10, 576);
    r.reply(parseBuilt(buildUdp({ ...V6, sport: 1, dport: 2, payload: 1400, vnet: true }), 10), RejectKind.Icmpv6, 4, 0);
    assert.equal(out[1]!.length - 10, 1280);
  });

  it('never answers a reset, an ICMP error, multicast, or a family-mismatched kind', () => {
    const { r, out } = collect();
    r.reply(parseBuilt(buildTcp({ ...V4, sport: 1, dport: 2, flags: 'R', vnet: true }), 10), RejectKind.TcpReset, 0, 0);
    const inner = buildUdp({ ...V4, sport: 1, dport: 2 });
    r.reply(parseBuilt(buildIcmpError({ ...V4, type: 3, code: 1, quote: inner, vnet: true }), 10), RejectKind.Icmp, 3, 0);
    r.reply(parseBuilt(buildUdp({ src: V4.src, dst: '224.0.0.5', sport: 1, dport: 2, vnet: true }), 10), RejectKind.Icmp, 3, 0);
    r.reply(parseBuilt(buildUdp({ ...V6, sport: 1, dport: 2, vnet: true }), 10), RejectKind.Icmp, 3, 0);
    assert.equal(out.length, 0);
    assert.equal(r.sent, 0);
    assert.equal(r.skipped, 4);
  });

  it('rate limits replies with a token bucket that refills with time', () => {
    const { r, out } = collect({ perSecond: 10, burst: 3 });
    const syn = parseBuilt(buildTcp({ ...V4, sport: 1, dport: 2, flags: 'S', vnet: true }), 10);
    for (let i = 0; i < 10; i++) r.reply(syn, RejectKind.TcpReset, 0, 1000);
    assert.equal(out.length, 3);
    assert.equal(r.limited, 7);
    r.reply(syn, RejectKind.TcpReset, 0, 1100); // 100 ms = one token
    r.reply(syn, RejectKind.TcpReset, 0, 1100);
    assert.equal(out.length, 4);
  });

  it('writes a zero virtio header of the input packet\'s length (no offload flags)', () => {
    const { r, out } = collect();
    const syn = parseBuilt(buildTcp({ ...V4, sport: 1, dport: 2, flags: 'S', vnet: { len: 12 } }), 12);
    r.reply(syn, RejectKind.TcpReset, 0, 0);
    assert.deepEqual([...out[0]!.subarray(0, 12)], new Array(12).fill(0));
    assert.equal(out[0]!.length, 12 + 40);
  });
});
