/**
 * The FTP helper on NATed control connections through the whole datapath (in-process, fake
 * device): active mode behind masquerade and passive mode behind dnat. The announcement is
 * rewritten to the address the other side knows, the segments after it have their sequence
 * and acknowledgement numbers (and SACK blocks) moved by the length change, and the data
 * connection is related and translated both ways, under a ruleset that drops every other
 * new connection and anything conntrack finds invalid.
 */
import assert from 'node:assert/strict';
import { buildIcmpError, buildTcp, parseBuilt, parseQuoted } from '../../packet/build.js';
import { formatAddress } from '../../packet/address.js';
import { verifyIpv4HeaderChecksum, verifyL4Checksum } from '../../packet/checksum.js';
import type { PacketInfo } from '../../packet/packet-info.js';
import { readCounters } from '../shared/counters.js';
import type { PlainRoute } from '../shared/messages.js';
import { buildMemoryDatapath, type MemoryDatapath } from './memory-datapath.js';

const WAN4 = '198.51.100.2';
const WAN6 = '2001:db8:ff::1';
const ROUTES: PlainRoute[] = [
  { family: 4, prefix: [10, 0, 0, 0], len: 24, ifname: 'lan', src: [10, 0, 0, 1] },
  { family: 4, prefix: [198, 51, 100, 0], len: 24, ifname: 'wan', src: [198, 51, 100, 2] },
  { family: 4, prefix: [0, 0, 0, 0], len: 0, ifname: 'wan' },
  { family: 6, prefix: [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], len: 64, ifname: 'lan' },
  { family: 6, prefix: [0x20, 0x01, 0x0d, 0xb8, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], len: 64, ifname: 'wan', src: [0x20, 0x01, 0x0d, 0xb8, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] },
  { family: 6, prefix: new Array<number>(16).fill(0), len: 0, ifname: 'wan' },
];

/** Strict filter: FTP control connections only, data connections only as related, invalid dropped. */
const FILTER = `table inet f {
  ct helper ftp-std { type "ftp" protocol tcp; }
  chain pre { type filter hook prerouting priority filter; policy accept;
    ct state invalid drop
    tcp dport 21 ct helper set "ftp-std"
  }
  chain fw { type filter hook forward priority filter; policy drop;
    ct state established accept
    ct state related accept
    tcp dport 21 ct state new accept
  }
}`;
const MASQ = `table inet nat {
  chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade }
}
${FILTER}`;
const PUBLIC4 = '198.51.100.10';
const SERVER4 = '10.0.0.20';
const PUBLIC6 = '2001:db8:ff::10';
const SERVER6 = '2001:db8:1::20';
const DNAT = `table ip natv4 {
  chain pre { type nat hook prerouting priority dstnat; ip daddr ${PUBLIC4} tcp dport 21 dnat to ${SERVER4} }
}
table ip6 natv6 {
  chain pre { type nat hook prerouting priority dstnat; ip6 daddr ${PUBLIC6} tcp dport 21 dnat to ${SERVER6} }
}
${FILTER}`;

const C4 = '10.0.0.5';
const S4 = '203.0.113.9';
const C6 = '2001:db8:1::5';
const S6 = '2001:db8:2::9';

type Built = MemoryDatapath;

/** Sends one packet; what the datapath wrote for it (parsed), or null when dropped. */
async function pass(b: Built, pkt: Uint8Array): Promise<PacketInfo | null> {
  const before = b.dev.outbound.length;
  b.dev.send(pkt);
  await b.dev.idle();
  if (b.dev.outbound.length === before) return null;
  return parseBuilt(b.dev.outbound.at(-1)!, 10);
}

const tcp = (src: string, dst: string, sport: number, dport: number, flags: string, seq: number, ack: number, payload?: string, extra: { sack?: [number, number][]; sackPerm?: boolean } = {}): Uint8Array =>
  buildTcp({ src, dst, sport, dport, flags, seq, ack, payload, vnet: true, sackPerm: extra.sackPerm, options: extra.sack ? sackOption(extra.sack) : undefined });

/** A SACK option (RFC 2018) with NOP padding in front. */
function sackOption(blocks: [number, number][]): Uint8Array {
  const o = [1, 1, 5, 2 + 8 * blocks.length];
  for (const [l, r] of blocks) for (const v of [l, r]) o.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  return Uint8Array.from(o);
}

const payloadOf = (p: PacketInfo): string => Buffer.from(p.buf.subarray(p.l4Off + p.tcpHdrLen, p.end)).toString('latin1');
const addr = (p: PacketInfo, which: 'src' | 'dst'): string => formatAddress(p.buf, which === 'src' ? p.srcOff : p.dstOff, p.addrLen);

/** The checksums of a packet the datapath wrote are right. */
function checksumsOk(p: PacketInfo, what: string): void {
  assert.ok(verifyIpv4HeaderChecksum(p), `${what}: IPv4 header checksum`);
  assert.ok(verifyL4Checksum(p), `${what}: TCP checksum`);
}

describe('FTP helper on NATed control connections (payload rewrite, sequence adjustment)', () => {
  let b: Built;
  const load = (text: string): void => {
    assert.equal((b.ask({ type: 'ruleset-load', id: 1, text }) as { ok: boolean }).ok, true);
  };
  beforeEach(async () => {
    b = await buildMemoryDatapath(ROUTES);
  });
  afterEach(() => b.dp.handle({ type: 'stop' }));

  it('active mode behind masquerade (PORT): rewritten to the public address, seq/ack/SACK adjusted both ways, retransmission alike, data connection related and translated', async () => {
    load(MASQ);
    const syn = await pass(b, tcp(C4, S4, 40000, 21, 'S', 1000, 0, undefined, { sackPerm: true }));
    assert.ok(syn && addr(syn, 'src') === WAN4, 'control connection masqueraded');
    const mport = syn.sport;
    assert.ok(await pass(b, tcp(S4, WAN4, 21, mport, 'SA', 5000, 1001, undefined, { sackPerm: true })));
    assert.ok(await pass(b, tcp(C4, S4, 40000, 21, 'A', 1001, 5001)));

    const port = 'PORT 10,0,0,5,195,80\r\n'; // 10.0.0.5:50000, 22 bytes
    const out = await pass(b, tcp(C4, S4, 40000, 21, 'PA', 1001, 5001, port));
    assert.ok(out, 'PORT passes');
    const rewritten = 'PORT 198,51,100,2,195,80\r\n'; // 26 bytes: 4 more
    assert.equal(payloadOf(out), rewritten);
    assert.equal(out.end - out.l3Off, 20 + 20 + rewritten.length, 'IP total length');
    assert.equal(out.seq, 1001, 'the rewritten segment itself keeps its sequence number');
    checksumsOk(out, 'rewritten PORT');
    const first = b.dev.outbound.at(-1)!;

    // The server acknowledges the 26 bytes it got: the client must see 22 acknowledged.
    // Without the tracker taking the offset out, this ACK "acknowledges unseen data": invalid, dropped.
    const ack = await pass(b, tcp(S4, WAN4, 21, mport, 'A', 5001, 1001 + 26));
    assert.ok(ack, 'the server\'s ACK is in window');
    assert.equal(ack.ack, 1001 + 22);
    checksumsOk(ack, 'ACK towards the client');

    // A retransmission of the PORT segment is rewritten to the very same bytes.
    const again = await pass(b, tcp(C4, S4, 40000, 21, 'PA', 1001, 5001, port));
    assert.ok(again);
    assert.deepEqual(b.dev.outbound.at(-1)!, first, 'retransmission rewritten identically');

    // The next command moves by the 4 bytes; the server's SACK block is moved back.
    const list = await pass(b, tcp(C4, S4, 40000, 21, 'PA', 1001 + 22, 5001, 'LIST\r\n'));
    assert.ok(list);
    assert.equal(list.seq, 1001 + 26);
    assert.equal(payloadOf(list), 'LIST\r\n');
    checksumsOk(list, 'LIST');
    const reply = '150 Here it comes.\r\n';
    const r150 = await pass(b, tcp(S4, WAN4, 21, mport, 'PA', 5001, 1001 + 26 + 6, reply, { sack: [[1001 + 26, 1001 + 32]] }));
    assert.ok(r150, 'server reply with SACK passes');
    assert.equal(r150.ack, 1001 + 28);
    const sp = r150.tcpOptOff + 2; // after the two NOPs
    assert.equal(r150.buf[sp], 5);
    const edge = (i: number): number => Buffer.from(r150.buf.buffer, r150.buf.byteOffset, r150.buf.length).readUInt32BE(sp + 2 + 4 * i);
    assert.deepEqual([edge(0), edge(1)], [1001 + 22, 1001 + 28], 'SACK block in the client\'s sequence space');
    checksumsOk(r150, 'reply with SACK');

    // The data connection: from the server to the public address and the announced port.
    const data = await pass(b, tcp(S4, WAN4, 20, 50000, 'S', 9000, 0));
    assert.ok(data, 'data connection related and accepted');
    assert.equal(addr(data, 'dst'), C4, 'translated to the client');
    assert.equal(data.dport, 50000);
    assert.equal(addr(data, 'src'), S4);
    checksumsOk(data, 'data SYN');
    const dataReply = await pass(b, tcp(C4, S4, 50000, 20, 'SA', 7000, 9001));
    assert.ok(dataReply, 'its reply is established');
    assert.equal(addr(dataReply, 'src'), WAN4, 'reply translated back to the public address');
    assert.equal(dataReply.sport, 50000);
    // Used once: another connection to that port is new, and dropped.
    assert.equal(await pass(b, tcp(S4, WAN4, 21000, 50000, 'S', 9500, 0)), null);
    const c = readCounters(b.data.counters);
    assert.deepEqual([c.ct_ftp_nat_rewritten, c.ct_ftp_nat_retransmitted, c.ct_expect_matched, c.ct_ftp_foreign], [1, 1, 1, 0]);
  });

  it('an ICMP error quoting a control segment after the PORT rewrite reaches the client with the segment\'s own sequence numbers (and translated addresses)', async () => {
    load(MASQ);
    const syn = await pass(b, tcp(C4, S4, 40000, 21, 'S', 1000, 0));
    assert.ok(syn);
    const mport = syn.sport;
    assert.ok(await pass(b, tcp(S4, WAN4, 21, mport, 'SA', 5000, 1001)));
    assert.ok(await pass(b, tcp(C4, S4, 40000, 21, 'A', 1001, 5001)));
    assert.ok(await pass(b, tcp(C4, S4, 40000, 21, 'PA', 1001, 5001, 'PORT 10,0,0,5,195,80\r\n'))); // 4 bytes longer on the wire
    // The server's reply moves the server's side too: ack 1027 for the client's 1023.
    assert.ok(await pass(b, tcp(S4, WAN4, 21, mport, 'PA', 5001, 1001 + 26, '200 PORT ok\r\n')));
    const list = await pass(b, tcp(C4, S4, 40000, 21, 'PA', 1001 + 22, 5001 + 13, 'LIST\r\n'));
    assert.ok(list);
    assert.equal(list.seq, 1001 + 26, 'sent on 4 bytes further');
    // A router beyond the firewall cannot forward it (path MTU) and quotes it as it saw it: whole, and cut to 8 bytes of TCP.
    const seen = list.buf.slice(list.l3Off, list.end);
    for (const quoteLen of [seen.length, 28]) {
      const err = await pass(b, buildIcmpError({ src: '198.51.100.77', dst: WAN4, type: 3, code: 4, rest: 1400, quote: seen, quoteLen, vnet: true }));
      assert.ok(err, `the error is related and passes (quote of ${quoteLen} bytes)`);
      assert.equal(addr(err, 'dst'), C4, 'to the client');
      assert.ok(verifyIpv4HeaderChecksum(err));
      assert.ok(verifyL4Checksum(err), 'ICMP checksum');
      const q = parseQuoted(err);
      assert.equal(addr(q, 'src'), C4, 'the quote names the client');
      assert.equal(q.sport, 40000);
      const view = Buffer.from(err.buf.buffer, err.buf.byteOffset, err.buf.length);
      assert.equal(view.readUInt32BE(q.l4Off + 4), 1001 + 22, 'the quoted sequence number is the client\'s own');
      if (quoteLen > 28) {
        assert.equal(view.readUInt32BE(q.l4Off + 8), 5001 + 13, 'and its acknowledgement number the one it sent');
        assert.ok(verifyL4Checksum(parseBuilt(Buffer.from(err.buf.subarray(q.l3Off, q.end)))), 'the whole quoted segment\'s checksum holds');
      }
    }
  });

  it('passive mode behind dnat (227): rewritten to the public address, the client\'s data connection related and sent to the server', async () => {
    load(DNAT);
    const CL = '203.0.113.50';
    const syn = await pass(b, tcp(CL, PUBLIC4, 40100, 21, 'S', 1000, 0));
    assert.ok(syn && addr(syn, 'dst') === SERVER4, 'control connection dnatted');
    assert.ok(await pass(b, tcp(SERVER4, CL, 21, 40100, 'SA', 5000, 1001)));
    assert.ok(await pass(b, tcp(CL, PUBLIC4, 40100, 21, 'A', 1001, 5001)));
    assert.ok(await pass(b, tcp(CL, PUBLIC4, 40100, 21, 'PA', 1001, 5001, 'PASV\r\n')));
    const r227 = '227 Entering Passive Mode (10,0,0,20,195,90).\r\n';
    const out = await pass(b, tcp(SERVER4, CL, 21, 40100, 'PA', 5001, 1007, r227));
    assert.ok(out);
    const rewritten = '227 Entering Passive Mode (198,51,100,10,195,90).\r\n';
    assert.equal(payloadOf(out), rewritten);
    assert.equal(addr(out, 'src'), PUBLIC4);
    checksumsOk(out, '227');
    // The client's ACK counts the longer reply; the server sees its own numbers.
    const ack = await pass(b, tcp(CL, PUBLIC4, 40100, 21, 'A', 1007, 5001 + rewritten.length));
    assert.ok(ack);
    assert.equal(ack.ack, 5001 + r227.length);
    checksumsOk(ack, 'ACK towards the server');
    const data = await pass(b, tcp(CL, PUBLIC4, 40101, 50010, 'S', 3000, 0));
    assert.ok(data, 'the passive data connection is related');
    assert.equal(addr(data, 'dst'), SERVER4);
    assert.equal(data.dport, 50010);
    const dataReply = await pass(b, tcp(SERVER4, CL, 50010, 40101, 'SA', 8000, 3001));
    assert.ok(dataReply);
    assert.equal(addr(dataReply, 'src'), PUBLIC4);
    assert.equal(await pass(b, tcp(CL, PUBLIC4, 40102, 50011, 'S', 3000, 0)), null, 'another port stays new and dropped');
    // A router on the server's side quotes the client's ACK as it was sent on (its ack in the
    // server's numbers): the client gets it back with the acknowledgement number it sent.
    const seen = ack.buf.slice(ack.l3Off, ack.end);
    const err = await pass(b, buildIcmpError({ src: '10.0.0.254', dst: CL, type: 3, code: 4, rest: 1400, quote: seen, vnet: true }));
    assert.ok(err, 'the error is related and passes');
    const q = parseQuoted(err);
    assert.equal(addr(q, 'dst'), PUBLIC4, 'the quote names the public address');
    const view = Buffer.from(err.buf.buffer, err.buf.byteOffset, err.buf.length);
    assert.deepEqual([view.readUInt32BE(q.l4Off + 4), view.readUInt32BE(q.l4Off + 8)], [1007, 5001 + rewritten.length], 'the client\'s own sequence and acknowledgement numbers');
    assert.ok(verifyL4Checksum(err), 'ICMP checksum');
    assert.ok(verifyL4Checksum(parseBuilt(Buffer.from(err.buf.subarray(q.l3Off, q.end)))), 'the quoted segment\'s checksum holds');
  });

  it('IPv6: EPRT behind masquerade shrinks (non-canonical address), 229 behind dnat keeps its port; both data connections related and translated', async () => {
    load(MASQ);
    const syn = await pass(b, tcp(C6, S6, 40200, 21, 'S', 1000, 0));
    assert.ok(syn && addr(syn, 'src') === WAN6);
    const mport = syn.sport;
    assert.ok(await pass(b, tcp(S6, WAN6, 21, mport, 'SA', 5000, 1001)));
    assert.ok(await pass(b, tcp(C6, S6, 40200, 21, 'A', 1001, 5001)));
    const eprt = 'EPRT |2|2001:db8:1:0:0:0:0:5|50020|\r\n';
    const out = await pass(b, tcp(C6, S6, 40200, 21, 'PA', 1001, 5001, eprt));
    assert.ok(out);
    const rewritten = `EPRT |2|${WAN6}|50020|\r\n`;
    assert.ok(rewritten.length < eprt.length);
    assert.equal(payloadOf(out), rewritten);
    assert.equal(out.end - out.l3Off - 40, 20 + rewritten.length, 'IPv6 payload length');
    checksumsOk(out, 'EPRT');
    const ack = await pass(b, tcp(S6, WAN6, 21, mport, 'A', 5001, 1001 + rewritten.length));
    assert.ok(ack);
    assert.equal(ack.ack, 1001 + eprt.length);
    const next = await pass(b, tcp(C6, S6, 40200, 21, 'PA', 1001 + eprt.length, 5001, 'LIST\r\n'));
    assert.ok(next);
    assert.equal(next.seq, 1001 + rewritten.length);
    const data = await pass(b, tcp(S6, WAN6, 20, 50020, 'S', 9000, 0));
    assert.ok(data, 'EPRT data connection related');
    assert.equal(addr(data, 'dst'), C6);
    checksumsOk(data, 'v6 data SYN');

    // 229 behind dnat: only a port in the text; it is free on the public address, so kept.
    b.dp.handle({ type: 'stop' });
    b = await buildMemoryDatapath(ROUTES);
    load(DNAT);
    const CL6 = '2001:db8:2::50';
    assert.ok(await pass(b, tcp(CL6, PUBLIC6, 40300, 21, 'S', 1000, 0)));
    assert.ok(await pass(b, tcp(SERVER6, CL6, 21, 40300, 'SA', 5000, 1001)));
    assert.ok(await pass(b, tcp(CL6, PUBLIC6, 40300, 21, 'A', 1001, 5001)));
    const r229 = '229 Entering Extended Passive Mode (|||50030|)\r\n';
    const o229 = await pass(b, tcp(SERVER6, CL6, 21, 40300, 'PA', 5001, 1001, r229));
    assert.ok(o229);
    assert.equal(payloadOf(o229), r229);
    assert.equal(addr(o229, 'src'), PUBLIC6);
    const d229 = await pass(b, tcp(CL6, PUBLIC6, 40301, 50030, 'S', 3000, 0));
    assert.ok(d229, '229 data connection related');
    assert.equal(addr(d229, 'dst'), SERVER6);
  });

  it('active mode through masquerade when the announced port is taken on the public address: another port is announced and reserved', async () => {
    load(MASQ);
    // A masqueraded connection from another client holds WAN4:50000 (its own port kept).
    const other = await pass(b, tcp('10.0.0.6', S4, 50000, 21, 'S', 100, 0));
    assert.ok(other && other.sport === 50000);
    const syn = await pass(b, tcp(C4, S4, 40000, 21, 'S', 1000, 0));
    assert.ok(syn);
    const mport = syn.sport;
    assert.ok(await pass(b, tcp(S4, WAN4, 21, mport, 'SA', 5000, 1001)));
    assert.ok(await pass(b, tcp(C4, S4, 40000, 21, 'A', 1001, 5001)));
    const out = await pass(b, tcp(C4, S4, 40000, 21, 'PA', 1001, 5001, 'PORT 10,0,0,5,195,80\r\n'));
    assert.ok(out);
    const m = /^PORT 198,51,100,2,(\d+),(\d+)\r\n$/.exec(payloadOf(out));
    assert.ok(m, payloadOf(out));
    const p = Number(m[1]) * 256 + Number(m[2]);
    assert.notEqual(p, 50000);
    const data = await pass(b, tcp(S4, WAN4, 20, p, 'S', 9000, 0));
    assert.ok(data, 'related on the port announced');
    assert.equal(data.dport, 50000, 'and sent to the port the client announced');
    assert.equal(addr(data, 'dst'), C4);
  });

  it('a command cut by the segment\'s end on a NATed connection is dropped (the sender sends it again whole)', async () => {
    load(MASQ);
    const syn = await pass(b, tcp(C4, S4, 40000, 21, 'S', 1000, 0));
    assert.ok(syn);
    const mport = syn.sport;
    assert.ok(await pass(b, tcp(S4, WAN4, 21, mport, 'SA', 5000, 1001)));
    assert.ok(await pass(b, tcp(C4, S4, 40000, 21, 'A', 1001, 5001)));
    assert.equal(await pass(b, tcp(C4, S4, 40000, 21, 'PA', 1001, 5001, 'PORT 10,0,0,5,')), null, 'cut PORT dropped');
    const whole = await pass(b, tcp(C4, S4, 40000, 21, 'PA', 1001, 5001, 'PORT 10,0,0,5,195,80\r\n'));
    assert.ok(whole);
    assert.equal(payloadOf(whole), 'PORT 198,51,100,2,195,80\r\n');
    assert.equal(readCounters(b.data.counters).ct_ftp_nat_split, 1);
  });
});
