/**
 * The rest of nft(8): expressions and statements hafw does not take, each with the reason
 * and what to write instead, so that a ruleset using one is refused with a message that
 * says why (never "unknown ..."). What the layer-3 datapath cannot see at all (ether, vlan,
 * arp, queue, dup, fwd) is in layer3-only.ts; fields refused by their own module (meta
 * skuid, rt classid, ct label, ...) say so there. nft8-constructs.tsv and conformance.test.ts
 * hold every construct of nft(8) 1.0.6 to one of: loads, or refused with a reason.
 *
 * An entry is the construct's words as written in a rule (the first words suffice: `tcp
 * sequence` covers `tcp sequence 1`).
 */

import { rawShapeError } from './modules/raw-payload.js';
import { rawOptionError } from './modules/tcp-options.js';

const TUN = "hafw's datapath reads routed IP packets from a TUN device";
const NO_SOCKET = `${TUN}: no socket is attached to them (the kernel knows the socket only for its own traffic). Match addresses and ports, or put the rule in the node's own nftables`;
const NO_XFRM = `${TUN} after the kernel's IPsec (xfrm) processing, and sees no IPsec state: match the tunnel's addresses (ip saddr, ip daddr) or its interface (iifname) instead`;
const IF_NAMES = `${TUN} and knows interfaces by name only (from the routes): match iifname / oifname (a trailing * is a wildcard; sets of names work too)`;
const NOT_YET = (what: string, instead: string): string => `${what} is not supported yet: ${instead}`;
const HEADER_FIELDS = (hdr: string, have: string): string =>
  NOT_YET(`this ${hdr} header field`, `hafw reads ${have}. The datapath checks transport checksums itself (a packet with a bad one is ct state invalid)`);

const ENTRIES: [string, string][] = [
  // meta keys
  ['meta priority', `'meta priority' is the kernel's traffic-control priority of the packet (skb->priority), used by qdiscs on the output device; ${TUN} and hands it back without one. Mark the packet (meta mark set) and classify on the mark in tc`],
  ['meta iiftype', `'meta iiftype' is the input interface's hardware type; ${IF_NAMES}`],
  ['meta oiftype', `'meta oiftype' is the output interface's hardware type; ${IF_NAMES}`],
  ['meta sdif', `'meta sdif' is the VRF slave device of the packet; ${IF_NAMES}`],
  ['meta sdifname', `'meta sdifname' is the VRF slave device of the packet; ${IF_NAMES}`],
  ['meta iifgroup', `'meta iifgroup' is the input interface's group (ip link set group); ${IF_NAMES}`],
  ['meta oifgroup', `'meta oifgroup' is the output interface's group (ip link set group); ${IF_NAMES}`],
  ['meta iifkind', `'meta iifkind' is the input interface's kind (tun, veth, ...); ${IF_NAMES}`],
  ['meta oifkind', `'meta oifkind' is the output interface's kind (tun, veth, ...); ${IF_NAMES}`],
  ['meta ibrname', `'meta ibrname' is the bridge an input bridge port belongs to: layer 2, and ${TUN}. Match iifname`],
  ['meta obrname', `'meta obrname' is the bridge an output bridge port belongs to: layer 2, and ${TUN}. Match oifname`],
  ['meta rtclassid', `'meta rtclassid' is the routing realm of the packet's route; the node's routes carry no realms to the datapath. Match the destination prefix (ip daddr) instead`],
  ['meta cpu', `'meta cpu' is the kernel CPU handling the packet; ${TUN} in its own threads, whose numbers mean nothing to the kernel: nothing to compare. Spread load with numgen or jhash instead`],
  ['meta cgroup', `'meta cgroup' is the control group of the sending socket; ${NO_SOCKET}`],
  ['meta random', NOT_YET(`'meta random'`, 'numgen random mod N gives the same (a random number per packet): numgen random mod 100 < 10 matches 10% of packets')],
  ['meta ipsec', `'meta ipsec' asks whether the packet came through IPsec; ${NO_XFRM}`],
  ['meta pkttype set', `'meta pkttype set' changes how the kernel delivers the packet (host, broadcast, multicast); hafw reads the type from the destination and routes by the routing table: there is nothing to set`],
  // primary expressions
  ['socket', `'socket' looks the packet up in the kernel's socket tables; ${NO_SOCKET}`],
  ['osf', `'osf' (passive OS fingerprinting) needs the kernel's nfnetlink_osf fingerprint database, which hafw does not have: match addresses, ports or TCP options (tcp option window, maxseg) instead`],
  ['ipsec', `'ipsec in|out' reads the packet's IPsec (xfrm) state; ${NO_XFRM}`],
  ['rt ip', `'rt ip|ip6 nexthop' reads the gateway of the packet's route; the datapath knows which interface a route uses, not its gateway. Match the destination prefix (ip daddr) or oifname instead`],
  ['rt ip6', `'rt ip|ip6 nexthop' reads the gateway of the packet's route; the datapath knows which interface a route uses, not its gateway. Match the destination prefix (ip daddr) or oifname instead`],
  // payload expressions
  ['icmp checksum', HEADER_FIELDS('ICMP', 'icmp type, code, id and sequence')],
  ['icmp gateway', HEADER_FIELDS('ICMP', 'icmp type, code, id and sequence')],
  ['icmp mtu', HEADER_FIELDS('ICMP', 'icmp type, code, id and sequence')],
  ['icmpv6 checksum', HEADER_FIELDS('ICMPv6', 'icmpv6 type, code, id and sequence')],
  ['icmpv6 parameter-problem', HEADER_FIELDS('ICMPv6', 'icmpv6 type, code, id and sequence')],
  ['icmpv6 packet-too-big', HEADER_FIELDS('ICMPv6', 'icmpv6 type, code, id and sequence')],
  ['icmpv6 max-delay', HEADER_FIELDS('ICMPv6', 'icmpv6 type, code, id and sequence')],
  ['igmp', NOT_YET(`'igmp'`, 'IGMP is link-local multicast signalling, which the node\'s kernel handles and the datapath leaves to it (docs/ruleset.md, "Which hooks see traffic"): filter it in the node\'s own nftables')],
  ['tcp sequence', HEADER_FIELDS('TCP', 'tcp sport, dport, flags and options')],
  ['tcp ackseq', HEADER_FIELDS('TCP', 'tcp sport, dport, flags and options')],
  ['tcp doff', HEADER_FIELDS('TCP', 'tcp sport, dport, flags and options')],
  ['tcp reserved', HEADER_FIELDS('TCP', 'tcp sport, dport, flags and options')],
  ['tcp window', HEADER_FIELDS('TCP', 'tcp sport, dport, flags and options')],
  ['tcp checksum', HEADER_FIELDS('TCP', 'tcp sport, dport, flags and options')],
  ['tcp urgptr', HEADER_FIELDS('TCP', 'tcp sport, dport, flags and options')],
  ['udp length', HEADER_FIELDS('UDP', 'udp sport and dport')],
  ['udp checksum', HEADER_FIELDS('UDP', 'udp sport and dport')],
  ['udplite', NOT_YET(`'udplite'`, 'match the protocol with meta l4proto udplite, and the ports with th sport / th dport')],
  ['dccp', NOT_YET(`'dccp'`, 'match the protocol with meta l4proto dccp, and the ports with th sport / th dport')],
  ['ah', NOT_YET(`'ah' (the IPsec authentication header's fields)`, 'match the protocol with meta l4proto ah and the peers\' addresses; exthdr / ip6 nexthdr see the header itself')],
  ['esp', NOT_YET(`'esp' (the SPI and sequence number)`, 'match the protocol with meta l4proto esp and the peers\' addresses')],
  ['comp', NOT_YET(`'comp' (the IPcomp header's fields)`, 'match the protocol with meta l4proto comp and the peers\' addresses')],
  ['@ll', `'@ll' reads the link-layer header, and ${TUN}, which carry none. Match on IP addresses or interfaces (iifname, oifname) instead`],
  ['ip option', NOT_YET(`'ip option' (IPv4 options: lsrr, ra, rr, ssrr)`, 'match ip hdrlength > 5 for packets that carry any option')],
  ['srh seg-left', `nft 1.0.6's parser has no 'srh seg-left' (its man page lists it; the parser takes last-entry, flags, tag, sid[N]): the segments left of any routing header are 'rt seg-left'`],
  // conntrack
  ['ct id', `'ct id' is the kernel's id of a conntrack entry; hafw's conntrack entries have ids of their own (hafw conntrack list), which the kernel's tools never see: match the connection's tuple (ct original ip saddr, ...) instead`],
  ['ct l3proto', NOT_YET(`'ct l3proto'`, 'meta nfproto ipv4|ipv6 gives the same for tracked packets')],
  ['ct original l3proto', NOT_YET(`'ct original|reply l3proto'`, 'meta nfproto ipv4|ipv6 gives the same for tracked packets')],
  ['ct reply l3proto', NOT_YET(`'ct original|reply l3proto'`, 'meta nfproto ipv4|ipv6 gives the same for tracked packets')],
  ['ct protocol', NOT_YET(`'ct protocol'`, 'meta l4proto gives the same for tracked packets')],
  ['ct original protocol', NOT_YET(`'ct original|reply protocol'`, 'meta l4proto gives the same for tracked packets')],
  ['ct reply protocol', NOT_YET(`'ct original|reply protocol'`, 'meta l4proto gives the same for tracked packets')],
  ['ct bytes', `'ct bytes|packets|avgpkt' read the kernel's conntrack accounting (nf_conntrack_acct); hafw's conntrack keeps no per-connection byte or packet counts: use a counter, or a set with per-element counters (add @s { ip saddr counter })`],
  ['ct packets', `'ct bytes|packets|avgpkt' read the kernel's conntrack accounting (nf_conntrack_acct); hafw's conntrack keeps no per-connection byte or packet counts: use a counter, or a set with per-element counters (add @s { ip saddr counter })`],
  ['ct avgpkt', `'ct bytes|packets|avgpkt' read the kernel's conntrack accounting (nf_conntrack_acct); hafw's conntrack keeps no per-connection byte or packet counts: use a counter, or a set with per-element counters (add @s { ip saddr counter })`],
  ['ct original bytes', `'ct original|reply bytes|packets|avgpkt' read the kernel's conntrack accounting; hafw's conntrack keeps no per-connection counts: use a counter`],
  ['ct original packets', `'ct original|reply bytes|packets|avgpkt' read the kernel's conntrack accounting; hafw's conntrack keeps no per-connection counts: use a counter`],
  ['ct original avgpkt', `'ct original|reply bytes|packets|avgpkt' read the kernel's conntrack accounting; hafw's conntrack keeps no per-connection counts: use a counter`],
  ['ct reply bytes', `'ct original|reply bytes|packets|avgpkt' read the kernel's conntrack accounting; hafw's conntrack keeps no per-connection counts: use a counter`],
  ['ct reply packets', `'ct original|reply bytes|packets|avgpkt' read the kernel's conntrack accounting; hafw's conntrack keeps no per-connection counts: use a counter`],
  ['ct reply avgpkt', `'ct original|reply bytes|packets|avgpkt' read the kernel's conntrack accounting; hafw's conntrack keeps no per-connection counts: use a counter`],
  ['ct event', `'ct event set' chooses which conntrack events the kernel sends to ctnetlink listeners; hafw's connection events have their own subscription (hafw conntrack events, docs/conntrack.md), filtered there`],
  ['ct timeout', NOT_YET(`'ct timeout' (the objects and 'ct timeout set')`, 'conntrack timeouts are node settings (conntrack.* in the node config), the same for every connection of a protocol and state')],
  ['ct expectation', NOT_YET(`'ct expectation' (the objects and 'ct expectation set')`, 'the FTP helper (ct helper) makes the expectations FTP needs')],
  // statements
  ['reset', NOT_YET(`'reset tcp option'`, 'tcp option maxseg size set is the TCP option hafw writes')],
  ['tproxy', `'tproxy' hands the packet to a local socket without changing it; ${TUN} and has no sockets behind it: redirect (or dnat) to the local service instead`],
  ['synproxy', NOT_YET(`'synproxy' (answering SYNs with cookies before the server sees them)`, 'limit new connections per source instead: update @s { ip saddr limit rate over N/second } drop, or ct count over N')],
  ['xt', `'xt' is the compatibility expression iptables-nft writes for an iptables match or target it cannot translate; hafw has no x_tables: translate the rule to nft (iptables-translate helps) and load that`],
];

const BY_FIRST = new Map<string, string[][]>();
const REASON = new Map<string, string>();
for (const [phrase, why] of ENTRIES) {
  const words = phrase.split(' ');
  let l = BY_FIRST.get(words[0]!);
  if (!l) BY_FIRST.set(words[0]!, (l = []));
  l.push(words);
  l.sort((a, b) => b.length - a.length);
  REASON.set(phrase, why);
}

/**
 * Why the construct starting with `words` (the rule's next words, as many as known) is not
 * taken, or undefined. The longest matching entry wins (`ct original bytes` over `ct`).
 */
export function notSupported(words: readonly string[]): string | undefined {
  const cands = BY_FIRST.get(words[0] ?? '');
  if (!cands) return undefined;
  for (const c of cands) {
    // `@` alone stands for the raw `@KIND` word (`tcp option @5,16,32`: the lexer ends it at the comma).
    if (c.every((w, i) => words[i] === w || (w === '@' && words[i]?.startsWith('@')))) return REASON.get(c.join(' '));
  }
  return undefined;
}

/** The JSON selectors and statements of those constructs (as libnftables writes them), as words. */
export function notSupportedJson(obj: object): string | undefined {
  const o = obj as Record<string, unknown>;
  const key = Object.keys(o)[0];
  if (key === undefined) return undefined;
  const v = o[key];
  const body = v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  switch (key) {
    case 'payload':
      if (typeof body.base === 'string') return notSupported([`@${body.base}`]) ?? rawShapeError(body.base, body.offset, body.len) ?? undefined;
      return typeof body.protocol === 'string' && typeof body.field === 'string' ? notSupported([body.protocol, body.field]) : undefined;
    case 'meta':
    case 'ct':
      if (typeof body.key !== 'string') return undefined;
      return notSupported(typeof body.dir === 'string' ? [key, body.dir, body.key] : [key, body.key]);
    case 'tcp option':
      return body.base !== undefined ? (rawOptionError(body.base, body.offset, body.len) ?? undefined) : undefined;
    case 'ip option':
      return notSupported(['ip', 'option']);
    case 'exthdr':
      return typeof body.name === 'string' && typeof body.field === 'string' ? notSupported([body.name, body.field]) : undefined;
    case 'rt':
      return typeof body.family === 'string' ? notSupported(['rt', body.family]) : undefined;
    case 'ct timeout':
    case 'ct expectation':
      return notSupported(key.split(' '));
    default:
      return notSupported([key]);
  }
}
