/**
 * The FTP helper through the whole datapath (in-process, fake device): a control connection
 * given the helper by `ct helper set` announces its data connection (PORT, 227, EPRT), and
 * that connection's first packet is `ct state related` under a ruleset that drops every
 * other new connection.
 */
import assert from 'node:assert/strict';
import { buildTcp, parseBuilt } from '../../packet/build.js';
import { formatAddress } from '../../packet/address.js';
import { readCounters } from '../shared/counters.js';
import type { PlainRoute } from '../shared/messages.js';
import { buildMemoryDatapath, type MemoryDatapath } from './memory-datapath.js';

const ROUTES: PlainRoute[] = [
  { family: 4, prefix: [10, 0, 0, 0], len: 24, ifname: 'lan', src: [10, 0, 0, 1] },
  { family: 4, prefix: [198, 51, 100, 0], len: 24, ifname: 'wan', src: [198, 51, 100, 2] },
  { family: 4, prefix: [0, 0, 0, 0], len: 0, ifname: 'wan' },
  { family: 6, prefix: [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], len: 64, ifname: 'lan' },
  { family: 6, prefix: new Array<number>(16).fill(0), len: 0, ifname: 'wan' },
];

/** Strict: only FTP control connections may be opened; data connections only as related. */
const RULESET = `table inet f {
  ct helper ftp-std { type "ftp" protocol tcp; }
  chain pre { type filter hook prerouting priority filter; policy accept;
    tcp dport 21 ct helper set "ftp-std"
  }
  chain fw { type filter hook forward priority filter; policy drop;
    ct state established accept
    ct state related accept
    tcp dport 21 ct state new accept
  }
}`;

const C4 = '10.0.0.5';
const S4 = '203.0.113.9';
const C6 = '2001:db8:1::5';
const S6 = '2001:db8:2::9';

type Built = MemoryDatapath;
const build = (): Promise<Built> => buildMemoryDatapath(ROUTES);

/** Sends one packet; true when the datapath let it through. */
async function pass(b: Built, pkt: Uint8Array): Promise<boolean> {
  const before = b.dev.outbound.length;
  b.dev.send(pkt);
  await b.dev.idle();
  return b.dev.outbound.length > before;
}

const tcp = (src: string, dst: string, sport: number, dport: number, flags: string, seq: number, ack: number, payload?: string): Uint8Array =>
  buildTcp({ src, dst, sport, dport, flags, seq, ack, payload, vnet: true });

/** A control connection's handshake; returns the next client and server sequence numbers. */
async function control(b: Built, c: string, s: string, sport: number): Promise<{ cs: number; ss: number }> {
  assert.ok(await pass(b, tcp(c, s, sport, 21, 'S', 1000, 0)), 'SYN to 21');
  assert.ok(await pass(b, tcp(s, c, 21, sport, 'SA', 5000, 1001)), 'SYN-ACK');
  assert.ok(await pass(b, tcp(c, s, sport, 21, 'A', 1001, 5001)), 'ACK');
  return { cs: 1001, ss: 5001 };
}

describe('FTP helper in the datapath (ct helper set, ct state related)', () => {
  let b: Built;
  beforeEach(async () => {
    b = await build();
    assert.deepEqual(b.ask({ type: 'ruleset-load', id: 1, text: RULESET }), { type: 'ruleset-result', id: 1, ok: true, generation: 1 });
  });
  afterEach(() => b.dp.handle({ type: 'stop' }));

  it('active mode (PORT): the server\'s data connection is related and accepted once; others stay dropped', async () => {
    const { cs, ss } = await control(b, C4, S4, 40000);
    // Before the announcement the strict ruleset drops the data connection.
    assert.equal(await pass(b, tcp(S4, C4, 20, 50000, 'S', 9000, 0)), false, 'not yet announced');
    const port = 'PORT 10,0,0,5,195,80\r\n'; // 10.0.0.5:50000
    assert.ok(await pass(b, tcp(C4, S4, 40000, 21, 'PA', cs, ss, port)));
    assert.ok(await pass(b, tcp(S4, C4, 20, 50000, 'S', 9000, 0)), 'the announced data connection is related');
    assert.ok(await pass(b, tcp(C4, S4, 50000, 20, 'SA', 7000, 9001)), 'its reply is established');
    // The expectation is used up: another connection to the same port is new, and dropped.
    assert.equal(await pass(b, tcp(S4, C4, 21000, 50000, 'S', 9500, 0)), false, 'used once');
    // A PORT naming another host than the client opens nothing (Linux's loose=0).
    assert.ok(await pass(b, tcp(C4, S4, 40000, 21, 'PA', cs + port.length, ss, 'PORT 10,0,0,99,195,81\r\n')));
    assert.equal(await pass(b, tcp(S4, '10.0.0.99', 20, 50001, 'S', 9000, 0)), false, 'third host');
    const c = readCounters(b.data.counters);
    assert.deepEqual([c.ct_expect_created, c.ct_expect_matched, c.ct_ftp_foreign, c.ct_expectations], [1, 1, 1, 0]);
  });

  it('passive mode (227): the client\'s data connection to the announced port is related', async () => {
    const { cs, ss } = await control(b, C4, S4, 40001);
    assert.ok(await pass(b, tcp(C4, S4, 40001, 21, 'PA', cs, ss, 'PASV\r\n')));
    assert.ok(await pass(b, tcp(S4, C4, 21, 40001, 'PA', ss, cs + 6, '227 Entering Passive Mode (203,0,113,9,195,81).\r\n')));
    assert.ok(await pass(b, tcp(C4, S4, 40002, 50001, 'S', 3000, 0)), 'related');
    assert.equal(await pass(b, tcp(C4, S4, 40003, 50002, 'S', 3000, 0)), false, 'another port stays new and dropped');
  });

  it('IPv6: EPRT and 229 make the data connection related', async () => {
    let { cs, ss } = await control(b, C6, S6, 40010);
    const eprt = `EPRT |2|${C6}|50010|\r\n`;
    assert.ok(await pass(b, tcp(C6, S6, 40010, 21, 'PA', cs, ss, eprt)));
    cs += eprt.length;
    assert.ok(await pass(b, tcp(S6, C6, 20, 50010, 'S', 9000, 0)), 'EPRT data connection related');
    assert.ok(await pass(b, tcp(C6, S6, 40010, 21, 'PA', cs, ss, 'EPSV\r\n')));
    cs += 6;
    const reply = '229 Entering Extended Passive Mode (|||50011|)\r\n';
    assert.ok(await pass(b, tcp(S6, C6, 21, 40010, 'PA', ss, cs, reply)));
    ss += reply.length;
    assert.ok(await pass(b, tcp(C6, S6, 40011, 50011, 'S', 3000, 0)), 'EPSV data connection related');
    assert.equal(await pass(b, tcp(C6, S6, 40012, 50012, 'S', 3000, 0)), false);
  });

  it('a connection that existed before the ct helper set rule gets no helper from it (only new connections do, as in the kernel)', async () => {
    const without = RULESET.replace('tcp dport 21 ct helper set "ftp-std"', '');
    assert.equal((b.ask({ type: 'ruleset-load', id: 2, text: without }) as { ok: boolean }).ok, true);
    const { cs, ss } = await control(b, C4, S4, 40030);
    // `ct helper "ftp"` after the set, in the same packet: still no helper for this connection.
    const strict = RULESET.replace('ct state established accept', 'ct helper "ftp" drop\n    ct state established accept');
    assert.equal((b.ask({ type: 'ruleset-load', id: 3, text: strict }) as { ok: boolean }).ok, true);
    assert.ok(await pass(b, tcp(C4, S4, 40030, 21, 'PA', cs, ss, 'PORT 10,0,0,5,195,95\r\n')), 'the connection has no helper');
    assert.equal(await pass(b, tcp(S4, C4, 20, 50015, 'S', 9000, 0)), false);
  });

  it('through the client\'s masquerade: passive mode works (active mode: ftp-nat-datapath.test.ts)', async () => {
    const masq = RULESET.replace('table inet f {', 'table ip nat {\n  chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade }\n}\ntable inet f {');
    assert.equal((b.ask({ type: 'ruleset-load', id: 2, text: masq }) as { ok: boolean }).ok, true);
    const WAN = '198.51.100.2';
    assert.ok(await pass(b, tcp(C4, S4, 40040, 21, 'S', 1000, 0)));
    const syn = parseBuilt(b.dev.outbound.at(-1)!, 10);
    assert.equal(formatAddress(syn.buf, syn.srcOff, 4), WAN, 'masqueraded');
    const mport = syn.sport;
    assert.ok(await pass(b, tcp(S4, WAN, 21, mport, 'SA', 5000, 1001)));
    assert.ok(await pass(b, tcp(C4, S4, 40040, 21, 'A', 1001, 5001)));
    assert.ok(await pass(b, tcp(C4, S4, 40040, 21, 'PA', 1001, 5001, 'PASV\r\n')));
    assert.ok(await pass(b, tcp(S4, WAN, 21, mport, 'PA', 5001, 1007, '227 Entering Passive Mode (203,0,113,9,195,90).\r\n')));
    assert.ok(await pass(b, tcp(C4, S4, 40041, 50010, 'S', 3000, 0)), 'the passive data connection is related');
    const data = parseBuilt(b.dev.outbound.at(-1)!, 10);
    assert.equal(formatAddress(data.buf, data.srcOff, 4), WAN, 'and masqueraded like any new connection');
  });

  it('a connection without the helper announces nothing: its PORT opens no data connection', async () => {
    b.ask({ type: 'ruleset-load', id: 2, text: RULESET.replace('tcp dport 21 ct helper set "ftp-std"', 'tcp dport 2121 ct helper set "ftp-std"').replace('tcp dport 21 ct state new', 'tcp dport { 21, 2121 } ct state new') });
    const { cs, ss } = await control(b, C4, S4, 40020);
    assert.ok(await pass(b, tcp(C4, S4, 40020, 21, 'PA', cs, ss, 'PORT 10,0,0,5,195,90\r\n')));
    assert.equal(await pass(b, tcp(S4, C4, 20, 50010, 'S', 9000, 0)), false);
  });
});
