/**
 * Matches and statements that common nft rulesets use, added so they load unchanged:
 * header fields (ttl / hop limit, DSCP, ICMP codes), ct direction, nft's long and index
 * forms of the interface matches, `ipv6-icmp`, bitwise masks and log flags. IPv4 and IPv6.
 */
import assert from 'node:assert/strict';
import { buildIcmpError, buildTcp, buildUdp } from '../packet/build.js';
import { verifyIpv4HeaderChecksum, verifyL4Checksum } from '../packet/checksum.js';
import { parsePacket } from '../packet/parse.js';
import { PacketInfo } from '../packet/packet-info.js';
import { RulesetEngine } from './engine.js';
import { ClassifyContext, Hook, Verdict } from './context.js';

const V4 = { src: '192.0.2.100', dst: '198.51.100.100' };
const V6 = { src: '2001:db8::100', dst: '2001:db8:1::100' };

function engine(rules: string, log?: (line: string) => void): RulesetEngine {
  const e = new RulesetEngine(log ? { log: { write: (l) => log(l.prefix + l.line) } } : {});
  e.load(`table inet t { chain fw { type filter hook forward priority 0; policy accept;\n${rules}\n} }`, 'x.nft');
  return e;
}

/** Classifies a copy of `bytes`; `ct` sets the conntrack fields the datapath would. */
function run(e: RulesetEngine, bytes: Uint8Array, ct?: { state: number; dir: number }): { v: Verdict; pkt: PacketInfo } {
  const ctx = new ClassifyContext();
  const copy = bytes.slice();
  parsePacket(ctx.pkt, copy, 0, copy.length, 0);
  if (ct) {
    ctx.ctState = ct.state;
    ctx.ctDir = ct.dir;
  }
  return { v: e.compiled.classify(ctx, Hook.Forward), pkt: ctx.pkt };
}

const drops = (rule: string, bytes: Uint8Array, ct?: { state: number; dir: number }) => run(engine(`${rule} drop`), bytes, ct).v === Verdict.Drop;

function loadError(rules: string): string {
  try {
    engine(rules);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

describe('nft compatibility: more matches and statements', () => {
  it('ip ttl and ip6 hoplimit', () => {
    const v4 = buildUdp({ ...V4, sport: 1, dport: 2, ttl: 3 });
    const v6 = buildUdp({ ...V6, sport: 1, dport: 2, ttl: 3 });
    assert.equal(drops('ip ttl < 5', v4), true);
    assert.equal(drops('ip ttl 64', v4), false);
    assert.equal(drops('ip ttl 3', v6), false, 'an IPv4 match never matches IPv6');
    assert.equal(drops('ip6 hoplimit 3', v6), true);
    assert.equal(drops('ip6 hoplimit > 3', v6), false);
  });

  it('ip dscp and ip6 dscp: match by name or number; set keeps ECN, and the IPv4 header checksum right', () => {
    const v4 = buildUdp({ ...V4, sport: 1, dport: 2, tos: (46 << 2) | 1 });
    const v6 = buildUdp({ ...V6, sport: 1, dport: 2, tos: (46 << 2) | 2 });
    assert.equal(drops('ip dscp ef', v4), true);
    assert.equal(drops('ip dscp { cs1, af41 }', v4), false);
    assert.equal(drops('ip6 dscp 46', v6), true);
    const r4 = run(engine('ip dscp set cs1'), v4).pkt;
    assert.equal(r4.buf[1], (8 << 2) | 1, 'DSCP cs1, ECN kept');
    assert.ok(verifyIpv4HeaderChecksum(r4));
    assert.deepEqual(r4.buf.slice(0, r4.end), buildUdp({ ...V4, sport: 1, dport: 2, tos: (8 << 2) | 1 }));
    const r6 = run(engine('ip6 dscp set af41'), v6).pkt;
    assert.deepEqual(r6.buf.slice(0, r6.end), buildUdp({ ...V6, sport: 1, dport: 2, tos: (34 << 2) | 2 }));
    assert.ok(verifyL4Checksum(r6), 'the UDP checksum does not cover the traffic class');
    assert.match(loadError('ip dscp set cs9'), /^x\.nft:2:\d+: 'cs9' is not a valid dscp/);
    assert.match(loadError('ip dscp set 64'), /^x\.nft:2:\d+: '64' is not a valid dscp/);
  });

  it('icmp code and icmpv6 code', () => {
    const quoted4 = buildUdp({ src: V4.dst, dst: V4.src, sport: 2, dport: 1 });
    const quoted6 = buildUdp({ src: V6.dst, dst: V6.src, sport: 2, dport: 1 });
    const unreach4 = buildIcmpError({ ...V4, type: 3, code: 13, quote: quoted4 });
    const unreach6 = buildIcmpError({ ...V6, type: 1, code: 4, quote: quoted6 });
    assert.equal(drops('icmp type destination-unreachable icmp code admin-prohibited', unreach4), true);
    assert.equal(drops('icmp code 3', unreach4), false);
    assert.equal(drops('icmpv6 code port-unreachable', unreach6), true);
    assert.equal(drops('icmpv6 code port-unreachable', unreach4), false);
    assert.equal(drops('icmp code 0', quoted4), false, 'no ICMP, no code');
  });

  it('ct direction: original or reply, and nothing for packets outside a connection', () => {
    const p = buildTcp({ ...V4, sport: 1, dport: 2, flags: 'A' });
    const q = buildTcp({ ...V6, sport: 1, dport: 2, flags: 'A' });
    assert.equal(drops('ct direction reply', p, { state: 2, dir: 1 }), true);
    assert.equal(drops('ct direction original', q, { state: 8, dir: 0 }), true);
    assert.equal(drops('ct direction original', q, { state: 2, dir: 1 }), false);
    assert.equal(drops('ct direction original', p, { state: 1, dir: 0 }), false, 'invalid: no direction');
    assert.equal(drops('ct direction != reply', p, { state: 64, dir: 0 }), false, 'untracked: no direction');
  });

  it('reads meta iifname / meta oifname / iif / oif as iifname / oifname, and ipv6-icmp as a protocol', () => {
    const e = engine('meta iifname "lan" accept\niif "lan" oif "wan" accept\nmeta oifname { "wan", "dmz" } accept\nmeta l4proto ipv6-icmp accept\nip6 nexthdr ipv6-icmp accept');
    const rules = e.list().split('\n').map((l) => l.trim()).filter((l) => l.endsWith('accept'));
    assert.deepEqual(rules, ['iifname "lan" accept', 'iifname "lan" oifname "wan" accept', 'oifname { "wan", "dmz" } accept', 'meta l4proto ipv6-icmp accept', 'ip6 nexthdr ipv6-icmp accept']);
    const echo6 = buildIcmpError({ ...V6, type: 1, code: 0, quote: buildUdp({ src: V6.dst, dst: V6.src, sport: 2, dport: 1 }) });
    assert.equal(drops('meta l4proto ipv6-icmp', echo6), true);
  });

  it('bitwise masks: tcp flags & (fin|syn|rst|ack) == syn, flag combinations, marks; printed back so they read the same', () => {
    for (const ends of [V4, V6]) {
      const syn = buildTcp({ ...ends, sport: 1, dport: 2, flags: 'S' });
      const synAck = buildTcp({ ...ends, sport: 1, dport: 2, flags: 'SA' });
      const synRst = buildTcp({ ...ends, sport: 1, dport: 2, flags: 'SR' });
      const none = buildTcp({ ...ends, sport: 1, dport: 2, flags: 0 });
      assert.equal(drops('tcp flags & (fin|syn|rst|ack) == syn', syn), true);
      assert.equal(drops('tcp flags & (fin|syn|rst|ack) == syn', synAck), false);
      assert.equal(drops('tcp flags & (syn|rst) == syn|rst', synRst), true);
      assert.equal(drops('tcp flags & (syn|rst) == syn|rst', syn), false);
      assert.equal(drops('tcp flags & (fin|syn|rst|psh|ack|urg) == 0x0', none), true);
      assert.equal(drops('tcp flags & (fin|syn|rst|psh|ack|urg) == 0x0', syn), false);
      assert.equal(drops('tcp flags & fin,syn != 0', syn), true);
    }
    const e = engine('tcp flags & (syn|rst) == syn|rst drop\ntcp flags & (fin|syn|rst|ack) == syn accept\nct mark & 0xff != 0x1 drop');
    const text = e.list();
    assert.match(text, /tcp flags & \(syn\|rst\) == syn\|rst drop/);
    assert.match(text, /tcp flags syn \/ fin,syn,rst,ack accept/);
    assert.match(text, /ct mark & 0x000000ff != 0x00000001 drop/);
    const again = new RulesetEngine();
    again.load(text);
    assert.equal(again.list(), text);
    const fromJson = new RulesetEngine();
    fromJson.load(e.toJSON());
    assert.equal(fromJson.list(), text);
    assert.match(loadError('tcp flags & syn < 3 accept'), /^x\.nft:2:\d+: after a mask of flags only == or != compare, not </);
  });

  it('log flags: tcp sequence adds SEQ and ACK, tcp options and ip options the options\' bytes; ether and skuid refused; printed as nft does', () => {
    const lines: string[] = [];
    const e = engine('log prefix "x " level info flags tcp sequence,options,ip options', (l) => lines.push(l));
    assert.match(e.list(), /log prefix "x " level info flags tcp sequence,options,ip options/);
    run(e, buildTcp({ ...V4, sport: 1, dport: 2, flags: 'S', seq: 1234, ack: 99, mss: 1460 }));
    assert.match(lines[0]!, /PROTO=TCP SPT=1 DPT=2 SEQ=1234 ACK=99 WINDOW=\d+ RES=0x00 SYN URGP=0 OPT \(020405B4\)$/);
    assert.doesNotThrow(() => engine('log flags all\nlog level audit'));
    assert.match(loadError('log flags tcp foo'), /^x\.nft:2:\d+: unknown log flag 'tcp foo'/);
    assert.match(loadError('log flags ip options,ether'), /^x\.nft:2:22: 'log flags ether' decodes the link-layer \(MAC\) header; .*TUN device/);
    assert.match(loadError('log flags skuid'), /^x\.nft:2:11: 'log flags skuid' prints the user and group owning the sending socket/);
    assert.match(loadError('log prefix "a" level audit'), /^x\.nft:2:22: log level audit doesn't support any further options/);
  });
});
