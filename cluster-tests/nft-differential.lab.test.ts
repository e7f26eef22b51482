/**
 * @lab differential test of the ruleset language: each ruleset below is loaded into a
 * namespace's kernel nftables (kernel-nft.ts), listed back with `nft list ruleset` and
 * `nft -j list ruleset`, and both listings are loaded into hafw's datapath, built in-process
 * on a MemoryDevice exactly as the node's worker builds it (engine, conntrack, NAT, reject).
 * The same crafted packets (IPv4 and IPv6; TCP handshakes, strays and resets, UDP, ICMP
 * echo, bad checksums) go through both, one at a time, and what leaves each (nothing, the
 * packet forwarded and maybe translated, a reject's answer) must be the same, packet by
 * packet. A conformance count per ruleset is printed. Needs root (namespaces, TUN).
 *
 * Deliberate differences are normalised in `summary` and listed in DIFFERENCES with their
 * reason (also in docs/ruleset.md); nothing else is excused.
 */
import assert from 'node:assert/strict';
import { buildIcmpEcho, buildIcmpError, buildTcp, buildUdp, fragmentPacket, parseBuilt, parseQuoted } from '../node/packet/build.js';
import { formatAddress, parseAddress } from '../node/packet/address.js';
import { describePacket } from '../node/packet/describe.js';
import { verifyL4Checksum } from '../node/packet/checksum.js';
import type { PacketInfo } from '../node/packet/packet-info.js';
import type { PlainAddress, PlainRoute } from '../node/datapath/shared/messages.js';
import { buildMemoryDatapath } from '../node/datapath/worker/memory-datapath.js';
import { kernelNft } from './kernel-nft.js';

// The two sides of the firewall, as the oracle's namespace sets them up.
const C4 = '192.0.2.100';
const C4B = '192.0.2.101';
const S4 = '198.51.100.100';
const S4B = '198.51.100.101';
const R4 = '203.0.113.9';
const FW4_WAN = '198.51.100.1';
const C6 = '2001:db8:1::100';
const S6 = '2001:db8:2::100';
const S6B = '2001:db8:2::101';
const R6 = '2001:db8:3::9';
const FW6_WAN = '2001:db8:2::1';

const v4 = (s: string): number[] => [...parseAddress(s).bytes];
const v6 = v4;

const ROUTES: PlainRoute[] = [
  { family: 4, prefix: v4('192.0.2.0'), len: 24, ifname: 'lan', src: v4('192.0.2.1') },
  { family: 4, prefix: v4('198.51.100.0'), len: 24, ifname: 'wan', src: v4(FW4_WAN) },
  { family: 4, prefix: v4('203.0.113.0'), len: 24, ifname: 'wan' },
  { family: 6, prefix: v6('2001:db8:1::'), len: 64, ifname: 'lan', src: v6('2001:db8:1::1') },
  { family: 6, prefix: v6('2001:db8:2::'), len: 64, ifname: 'wan', src: v6(FW6_WAN) },
  { family: 6, prefix: v6('2001:db8:3::'), len: 64, ifname: 'wan' },
];
const ADDRESSES: PlainAddress[] = ROUTES.filter((r) => r.src).map((r) => ({ ifname: r.ifname, family: r.family, bytes: r.src!, vip: false }));

const clientSide = (p: PacketInfo): boolean => {
  const b = p.buf[p.dstOff]!;
  return p.family === 4 ? b === 192 : p.buf[p.dstOff + 5] === 1;
};

/** What a packet that left the firewall is, for comparison: device, addresses, ports, flags, checksum, and what an ICMP error quotes. */
function summary(dev: string, pkt: Uint8Array): string {
  const p = parseBuilt(pkt);
  let s = `${dev} ${describePacket(p)} csum ${verifyL4Checksum(p) ? 'ok' : 'bad'}`;
  if (p.icmpInnerOff !== 0) s += ` quoting {${describePacket(parseQuoted(p))}}`;
  return s;
}

interface Difference {
  name: string;
  reason: string;
  /** Rewrites one side's summary so that the documented difference no longer shows. */
  normalise(summary: string): string;
}

const FW_ADDRESSES = new Set(ADDRESSES.map((a) => formatAddress(Uint8Array.from(a.bytes), 0, a.bytes.length as 4 | 16)));

/**
 * Where hafw differs from the kernel on purpose (docs/ruleset.md, "The differential test").
 * A packet whose outputs differ only by these counts as agreeing, and is counted apart.
 */
const DIFFERENCES: Difference[] = [
  {
    name: 'reject ICMP source',
    reason: "Linux's ICMP/ICMPv6 answer to a reject comes from the firewall's own address towards the sender (icmp_send picks the route's source); " +
      "hafw answers from the rejected packet's destination (reject.ts), the same on both nodes of a pair whatever their interface addresses",
    normalise: (s) =>
      s.replace(/^(lan|wan) (ipv[46]) (\S+) > (\S+) (icmpv?6? type \d+ code \d+ len \d+ csum \w+ quoting \{ipv[46] \S+ > )(\S+)/, (all, dev, fam, src, dst, mid, qdst) => {
        const quotedDst = (qdst as string).replace(/^\[(.*)\]:\d+$/, '$1').replace(/^([\d.]+):\d+$/, '$1');
        return FW_ADDRESSES.has(src) || src === quotedDst ? `${dev} ${fam} <rejecter> > ${dst} ${mid}${qdst}` : all;
      }),
  },
  {
    name: 'IPv6 fragment id',
    reason: 'Linux gives the fragments of a reassembled IPv6 packet a new identification when it fragments it again on output; ' +
      'hafw forwards the fragments as they came (RFC 8200 leaves the choice to the fragmenting node)',
    normalise: (s) => s.replace(/^(\S+ ipv6 .* frag off \d+\+? id )\d+/, '$1<id>'),
  },
];

function normalise(outs: string[]): string[] {
  return outs.map((o) => DIFFERENCES.reduce((x, d) => d.normalise(x), o)).sort();
}

// ---------------------------------------------------------------- packets

let nextPort = 40000;
const vnetless = { df: true };

interface Nat {
  /** Where the reply comes from (the translated destination). */
  from?: [string, number?];
  /** Where the reply goes (the translated source). */
  to?: [string, number?];
}

/** A TCP handshake and a data segment, client to server; the server's replies addressed as `nat` says. */
function tcpConv(c: string, s: string, dport: number, nat: Nat = {}): Uint8Array[] {
  const sport = nextPort++;
  const [rs, rsport] = [nat.from?.[0] ?? s, nat.from?.[1] ?? dport];
  const [rc, rcport] = [nat.to?.[0] ?? c, nat.to?.[1] ?? sport];
  const cisn = 1000 + sport;
  const sisn = 900000 + sport;
  return [
    buildTcp({ ...vnetless, src: c, dst: s, sport, dport, flags: 'S', seq: cisn, window: 64240, mss: 1460, wscale: 7, sackPerm: true }),
    buildTcp({ ...vnetless, src: rs, dst: rc, sport: rsport, dport: rcport, flags: 'SA', seq: sisn, ack: cisn + 1, window: 65160, mss: 1460, wscale: 7, sackPerm: true }),
    buildTcp({ ...vnetless, src: c, dst: s, sport, dport, flags: 'A', seq: cisn + 1, ack: sisn + 1, window: 502 }),
    buildTcp({ ...vnetless, src: c, dst: s, sport, dport, flags: 'PA', seq: cisn + 1, ack: sisn + 1, window: 502, payload: 20 }),
  ];
}

function udpConv(c: string, s: string, dport: number, nat: Nat = {}): Uint8Array[] {
  const sport = nextPort++;
  return [
    buildUdp({ ...vnetless, src: c, dst: s, sport, dport, payload: 12 }),
    buildUdp({ ...vnetless, src: nat.from?.[0] ?? s, dst: nat.to?.[0] ?? c, sport: nat.from?.[1] ?? dport, dport: nat.to?.[1] ?? sport, payload: 30 }),
  ];
}

function ping(c: string, s: string, nat: Nat = {}): Uint8Array[] {
  const id = nextPort++;
  return [
    buildIcmpEcho({ ...vnetless, src: c, dst: s, id, seq: 1, payload: 16 }),
    buildIcmpEcho({ ...vnetless, src: nat.from?.[0] ?? s, dst: nat.to?.[0] ?? c, id, seq: 1, reply: true, payload: 16 }),
  ];
}

/**
 * A UDP datagram, then the far side's ICMP port unreachable about it as the far side got
 * it (`seen`: the translated source and destination), which conntrack calls related and
 * NAT translates back, outer header and quote.
 */
function udpUnreachable(c: string, s: string, dport: number, seen: { src?: string; dst?: string }): Uint8Array[] {
  const sport = nextPort++;
  const out = buildUdp({ ...vnetless, src: c, dst: s, sport, dport, payload: 12 });
  const arrived = buildUdp({ ...vnetless, src: seen.src ?? c, dst: seen.dst ?? s, sport, dport, payload: 12 });
  const icmp = buildIcmpError({ ...vnetless, src: seen.dst ?? s, dst: seen.src ?? c, type: c.includes(':') ? 1 : 3, code: c.includes(':') ? 4 : 3, quote: arrived });
  return [out, icmp];
}

/** A mid-stream ACK of no connection (invalid with strict pickup), and a bare SYN/ACK. */
function strays(c: string, s: string, dport: number): Uint8Array[] {
  const sport = nextPort++;
  return [
    buildTcp({ ...vnetless, src: c, dst: s, sport, dport, flags: 'A', seq: 5, ack: 7 }),
    buildTcp({ ...vnetless, src: s, dst: c, sport: dport, dport: sport, flags: 'SA', seq: 5, ack: 7 }),
  ];
}

/** The packet with one payload byte changed after its checksum was computed. */
function corrupt(pkt: Uint8Array): Uint8Array {
  const out = pkt.slice();
  out[out.length - 1] ^= 0x5a;
  return out;
}

/** The common probe: both families, the ports the rulesets below care about, both directions. */
function probe(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const [c, s, r] of [[C4, S4, R4], [C6, S6, R6]] as const) {
    for (const port of [22, 23, 25, 80, 443, 1500, 8080, 8500]) out.push(...tcpConv(c, s, port));
    out.push(...tcpConv(c, r, 443));
    out.push(...tcpConv(s, c, 22)); // inbound, from the WAN
    for (const port of [53, 69, 70, 71, 123, 5050]) out.push(...udpConv(c, s, port));
    out.push(...udpConv(s, c, 53));
    out.push(...ping(c, s), ...ping(s, c), ...ping(c, r));
    out.push(...strays(c, s, 80));
  }
  out.push(...tcpConv(C4B, S4B, 80), ...udpConv(C4B, S4B, 5050));
  return out;
}

// ---------------------------------------------------------------- rulesets

interface Case {
  name: string;
  ruleset: string;
  packets: () => Uint8Array[];
}

const STATEFUL_HEAD = `type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct state invalid drop`;

const CASES: Case[] = [
  {
    name: 'stateful filter',
    ruleset: `table inet filter {
  chain forward {
    ${STATEFUL_HEAD}
    iifname "lan" oifname "wan" tcp dport { 22, 80, 443 } accept
    iifname "lan" udp dport 53 accept
    meta l4proto { icmp, ipv6-icmp } accept
  }
}`,
    packets: probe,
  },
  {
    name: 'named sets, intervals, concatenations',
    ruleset: `table inet filter {
  set webnets { type ipv4_addr; flags interval; elements = { 198.51.100.96/28, 203.0.113.0/25 } }
  set webnets6 { type ipv6_addr; flags interval; elements = { 2001:db8:2::/120 } }
  set svc { type inet_proto . inet_service; elements = { tcp . 80, tcp . 443, udp . 53 } }
  set blocked { type ipv4_addr; elements = { 192.0.2.101 } }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state vmap { established : accept, related : accept, invalid : drop }
    ip saddr @blocked drop
    ip daddr @webnets meta l4proto . th dport @svc accept
    ip6 daddr @webnets6 meta l4proto . th dport @svc accept
    tcp dport 1000-2000 accept
    icmpv6 type echo-request accept
  }
}`,
    packets: probe,
  },
  {
    name: 'verdict maps, jumps and goto',
    ruleset: `table inet filter {
  map portv { type inet_service : verdict; elements = { 22 : jump ssh, 80 : accept, 8080 : drop, 443 : goto tls } }
  chain ssh {
    ip saddr 192.0.2.100 accept
    ip6 saddr 2001:db8:1::100 accept
    reject with tcp reset
  }
  chain tls {
    ip daddr 203.0.113.0/24 return
    accept
  }
  chain forward {
    ${STATEFUL_HEAD}
    tcp dport vmap @portv
    udp dport vmap { 53 : accept, 123 : accept, 69 : drop }
    tcp dport 443 reject with icmpx admin-prohibited
  }
}`,
    packets: probe,
  },
  {
    name: 'reject variants',
    ruleset: `table inet filter {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state established,related accept
    tcp dport 23 reject with tcp reset
    tcp dport 25 reject
    udp dport 69 reject with icmpx admin-prohibited
    meta nfproto ipv4 udp dport 70 reject with icmp host-unreachable
    meta nfproto ipv6 udp dport 70 reject with icmpv6 addr-unreachable
    udp dport 71 reject with icmpx no-route
    tcp dport 8000-8999 drop
    icmp type echo-request ip daddr 203.0.113.0/24 reject
    icmpv6 type echo-request ip6 daddr 2001:db8:3::/64 reject with icmpv6 admin-prohibited
  }
}`,
    packets: probe,
  },
  {
    name: 'prefixes, ranges, negation, TCP flags',
    ruleset: `table ip filter {
  chain forward {
    ${STATEFUL_HEAD}
    tcp flags & (fin | syn | rst | ack) != syn ct state new drop
    ip daddr != 198.51.100.0/25 icmp type echo-request accept
    ip saddr 192.0.2.96/30 ip daddr 198.51.100.96-198.51.100.100 tcp dport { 80, 1000-1600 } accept
    ip saddr != 192.0.2.100 udp dport 5000-5100 accept
    udp dport != { 53, 69, 70, 71 } udp dport < 1024 accept
    ip saddr 192.0.2.100 icmp type echo-request accept
  }
}
table ip6 filter6 {
  chain forward {
    ${STATEFUL_HEAD}
    ip6 saddr 2001:db8:1::/64 ip6 daddr 2001:db8:2::100-2001:db8:2::1ff tcp dport >= 8000 accept
    ip6 nexthdr ipv6-icmp icmpv6 type echo-request accept
  }
}`,
    packets: probe,
  },
  {
    name: 'ct state, direction and status',
    ruleset: `table inet filter {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state invalid drop
    ct direction reply ct state established accept
    ct state established ct direction original tcp dport { 80, 443 } accept
    ct state established ct direction original udp dport 53 accept
    ct state new iifname "lan" accept
    ct state related accept
  }
}`,
    packets: probe,
  },
  {
    name: 'destination NAT',
    ruleset: `table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "lan" ip daddr 203.0.113.9 tcp dport 80 dnat to 198.51.100.100:8080
    iifname "lan" ip daddr 203.0.113.9 udp dport 53 dnat to 198.51.100.101
    iifname "lan" ip daddr 203.0.113.9 tcp dport 443 dnat to tcp dport map { 443 : 198.51.100.101 }
  }
}
table ip6 nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip6 daddr 2001:db8:3::9 tcp dport 80 dnat to [2001:db8:2::100]:8080
  }
}
table inet filter {
  chain forward {
    ${STATEFUL_HEAD}
    ct status dnat accept
    udp dport 5050 accept
  }
}`,
    packets: () => [
      ...tcpConv(C4, R4, 80, { from: [S4, 8080] }),
      ...tcpConv(C4, R4, 443, { from: [S4B] }),
      ...udpConv(C4, R4, 53, { from: [S4B] }),
      ...tcpConv(C4, R4, 22),
      ...tcpConv(C6, R6, 80, { from: [S6, 8080] }),
      ...tcpConv(C6, R6, 81),
      ...udpConv(C4, S4, 5050),
      // The server answering from its own address, not the one the client talked to: no match.
      ...tcpConv(C4, R4, 80, { from: [R4] }),
      // The real server's port unreachable: translated back to come from the address the client used.
      ...udpUnreachable(C4B, R4, 53, { dst: S4B }),
    ],
  },
  {
    name: 'source NAT and masquerade',
    ruleset: `table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ip saddr 192.0.2.100 tcp dport 22 snat to 198.51.100.7
    oifname "wan" masquerade
  }
}
table ip6 nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade
  }
}
table inet filter {
  chain forward {
    ${STATEFUL_HEAD}
    iifname "lan" accept
  }
}`,
    packets: () => [
      ...tcpConv(C4, S4, 22, { to: [ '198.51.100.7' ] }),
      ...tcpConv(C4, S4, 80, { to: [FW4_WAN] }),
      ...udpConv(C4B, R4, 53, { to: [FW4_WAN] }),
      ...ping(C4, S4, { to: [FW4_WAN] }),
      ...tcpConv(C6, S6, 443, { to: [FW6_WAN] }),
      ...udpConv(C6, R6, 123, { to: [FW6_WAN] }),
      ...ping(C6, S6B, { to: [FW6_WAN] }),
      ...udpUnreachable(C4, S4, 7777, { src: FW4_WAN }),
      ...udpUnreachable(C6, S6, 7777, { src: FW6_WAN }),
      // Unsolicited from the WAN: no connection, dropped by the forward chain.
      ...tcpConv(S4, C4, 3389),
    ],
  },
  {
    name: 'IPv6 and ICMPv6',
    ruleset: `table ip6 filter {
  chain forward {
    ${STATEFUL_HEAD}
    icmpv6 type { echo-request, packet-too-big } accept
    ip6 daddr 2001:db8:2::100 tcp dport { 22, 80 } accept
    ip6 saddr 2001:db8:1::/48 udp dport 53 accept
    ip6 daddr 2001:db8:3::/64 reject with icmpv6 no-route
  }
}`,
    packets: probe,
  },
  {
    name: 'bad checksums are ct state invalid',
    ruleset: `table inet filter {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state invalid drop
  }
}`,
    packets: () => {
      const out: Uint8Array[] = [];
      for (const [c, s] of [[C4, S4], [C6, S6]] as const) {
        const t = tcpConv(c, s, 80);
        out.push(corrupt(t[0]!), ...t.slice(0, 3), corrupt(t[3]!), t[3]!);
        const u = udpConv(c, s, 53);
        out.push(corrupt(u[0]!), ...u);
        const e = ping(c, s);
        out.push(corrupt(e[0]!), ...e);
      }
      return out;
    },
  },
  {
    name: 'fragments are reassembled before the ruleset',
    ruleset: `table inet filter {
  chain forward {
    ${STATEFUL_HEAD}
    udp dport 53 accept
  }
}`,
    packets: () => {
      const sport = nextPort++;
      return [
        ...fragmentPacket(buildUdp({ src: C4, dst: S4, sport, dport: 53, payload: 1200 }), 512),
        ...fragmentPacket(buildUdp({ src: C4, dst: S4, sport, dport: 54, payload: 1200 }), 512, 0x4321),
        ...fragmentPacket(buildUdp({ src: C6, dst: S6, sport, dport: 53, payload: 1200 }), 512),
      ];
    },
  },
];

// ---------------------------------------------------------------- hafw's side

async function hafwOutputs(listing: string, packets: Uint8Array[]): Promise<string[][]> {
  const { dp, dev, sent } = await buildMemoryDatapath(ROUTES, { conntrack: { maxEntries: 4096, tcpLoose: false, tcpBeLiberal: false, timeouts: {} } });
  try {
    dp.handle({ type: 'addresses', list: ADDRESSES });
    dp.handle({ type: 'ruleset-load', id: 1, text: listing });
    const res = sent.find((m) => m.type === 'ruleset-result') as { ok: boolean; error?: string } | undefined;
    assert.ok(res?.ok, `hafw refused nft's listing: ${res?.error}\n${listing}`);
    const vnet = new Uint8Array(10);
    const out: string[][] = [];
    for (const p of packets) {
      const before = dev.outbound.length;
      const frame = new Uint8Array(10 + p.length);
      frame.set(vnet);
      frame.set(p, 10);
      dev.send(frame);
      await dev.idle();
      out.push(dev.outbound.slice(before).map((o) => {
        const pkt = o.subarray(10);
        return summary(clientSide(parseBuilt(pkt)) ? 'lan' : 'wan', pkt);
      }));
    }
    return out;
  } finally {
    dp.handle({ type: 'stop' });
  }
}

// ---------------------------------------------------------------- the comparison

describe('@lab nftables differential: the kernel and hafw agree packet by packet', function () {
  this.timeout(60000);
  const totals = { agree: 0, documented: 0, total: 0 };
  after(() => console.log(`    nftables conformance: ${totals.agree}/${totals.total} packets agree over ${CASES.length} rulesets, text and JSON listings (${totals.documented} of them after a documented difference)`));

  for (const c of CASES) {
    it(c.name, async () => {
      const packets = c.packets();
      const kernel = await kernelNft(c.ruleset, packets);
      const expect = kernel.outputs.map((outs) => outs.map((o) => summary(o.dev, o.packet)).sort());
      // HAFW_NFTDIFF_VERBOSE=1: every packet and what the kernel made of it.
      if (process.env.HAFW_NFTDIFF_VERBOSE) expect.forEach((k, i) => console.log(`      #${i + 1} ${describePacket(parseBuilt(packets[i]!))}\n        -> ${k.join(' | ') || '(nothing)'}`));
      const lines: string[] = [];
      for (const [form, listing] of [['text', kernel.text], ['json', kernel.json]] as const) {
        const got = (await hafwOutputs(listing, packets)).map((o) => o.sort());
        let agree = 0;
        let documented = 0;
        got.forEach((g, i) => {
          const k = expect[i]!;
          if (JSON.stringify(g) === JSON.stringify(k)) agree++;
          else if (JSON.stringify(normalise(g)) === JSON.stringify(normalise(k))) documented++;
          else lines.push(`  ${form} #${i + 1} ${describePacket(parseBuilt(packets[i]!))}\n      linux: ${k.join(' | ') || '(nothing)'}\n      hafw:  ${g.join(' | ') || '(nothing)'}`);
        });
        totals.agree += agree + documented;
        totals.documented += documented;
        totals.total += packets.length;
        console.log(`      ${form}: ${agree + documented}/${packets.length} packets agree${documented ? ` (${documented} after a documented difference)` : ''}`);
      }
      // The packets are not trivially all dropped or all passed.
      assert.ok(expect.some((o) => o.length > 0), 'the kernel passed or answered some packets');
      assert.ok(expect.some((o) => o.length === 0), 'the kernel dropped some packets');
      assert.equal(lines.length, 0, `hafw and Linux disagree:\n${lines.join('\n')}`);
    });
  }
});
