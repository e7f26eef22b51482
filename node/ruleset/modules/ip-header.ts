/**
 * The rest of the IP headers nft names: `ip version|hdrlength|length|checksum|ecn` (RFC 791,
 * RFC 3168 for ECN), `ip6 version|length|flowlabel|ecn` (RFC 8200), `meta protocol` (the
 * packet's EtherType, as the kernel's skb->protocol), and the mangles `ip ttl set`,
 * `ip6 hoplimit set`, `ip ecn set`, `ip6 ecn set`, `ip6 flowlabel set`.
 *
 * Fields are read from the header bytes, as the kernel's payload expression reads them (so
 * `ip length` is the header's total length and `ip6 length` the payload length, whatever
 * the packet's buffer holds). A write to an IPv4 header field updates the header checksum
 * incrementally (RFC 1624), as the kernel's payload statement does (NFT_PAYLOAD_L3SUM); no
 * transport checksum covers these fields (the pseudo-header holds addresses, protocol and
 * length only), and IPv6 has no header checksum.
 */
import type { ClassifyContext } from '../context.js';
import type { DataType } from '../data-types.js';
import { integerType, namedType } from '../data-types.js';
import type { MatchModule, Registry } from '../registry.js';
import { csumUpdate16 } from '../../packet/checksum.js';

/** RFC 3168 section 5: the ECN field's code points, by nft's names. */
const ECN = namedType(integerType('ecn', 2, 'explicit congestion notification (2 bits): not-ect, ect1, ect0, ce', { 'not-ect': 0, ect1: 1, ect0: 2, ce: 3 }));

/** EtherTypes (IEEE 802 numbers) nft names; a TUN packet is 0x0800 or 0x86dd. */
const ETHER_TYPE = namedType(integerType('ether_type', 16, 'EtherType of the packet (ip 0x0800, ip6 0x86dd)', {
  ip: 0x0800, arp: 0x0806, ip6: 0x86dd, vlan: 0x8100, '8021ad': 0x88a8,
}));

const IP_VERSION = integerType('ip_version', 4, 'IP version (4 bits)');
const IP_HDRLENGTH = integerType('ip_hdrlength', 4, 'IPv4 header length in 32-bit words (4 bits; 5 without options)');
const IP_LENGTH = integerType('ip_length', 16, 'IPv4 total length / IPv6 payload length in bytes (16 bits)');
const IP_CHECKSUM = integerType('ip_checksum', 16, 'IPv4 header checksum (16 bits)');
const IP6_FLOWLABEL = integerType('ip6_flowlabel', 20, 'IPv6 flow label (20 bits)');

const u16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;

/** Rewrites IPv4 header byte `rel` (with `mask` its bits to keep), the header checksum following its 16-bit word. */
function storeIpv4Byte(ctx: ClassifyContext, rel: number, value: number, keep: number): void {
  const p = ctx.pkt;
  if (p.family !== 4) return;
  const b = p.buf;
  const at = p.l3Off;
  const w = at + (rel & ~1);
  const old = u16(b, w);
  b[at + rel] = (b[at + rel]! & keep) | value;
  const sum = csumUpdate16(u16(b, at + 10), old, u16(b, w));
  b[at + 10] = sum >> 8;
  b[at + 11] = sum & 0xff;
  p.tos = b[at + 1]!;
  p.ttl = b[at + 8]!;
}

/** Writes the IPv6 traffic class (bits 4-11 of the first word). */
function storeTrafficClass(ctx: ClassifyContext, tc: number): void {
  const p = ctx.pkt;
  const b = p.buf;
  const at = p.l3Off;
  b[at] = (b[at]! & 0xf0) | (tc >> 4);
  b[at + 1] = ((tc & 0x0f) << 4) | (b[at + 1]! & 0x0f);
  p.tos = tc;
}

function field(r: Registry, proto: 'ip' | 'ip6', name: string, type: DataType, help: string, read: (b: Uint8Array, at: number, ctx: ClassifyContext) => number, store?: MatchModule['store']): void {
  const family = proto === 'ip' ? 4 : 6;
  r.registerMatch({
    name: `${proto} ${name}`,
    keywords: [proto, name],
    left: { payload: { protocol: proto, field: name } },
    type,
    families: [proto, 'inet'],
    l3: family,
    help,
    load(ctx, out, off) {
      const p = ctx.pkt;
      if (p.family !== family) return false;
      out[off] = read(p.buf, p.l3Off, ctx);
      return true;
    },
    ...(store ? { store } : {}),
  });
}

export function registerIpHeader(r: Registry): void {
  field(r, 'ip', 'version', IP_VERSION, 'IPv4 header version field (4 on every IPv4 packet)', (b, at) => b[at]! >> 4);
  field(r, 'ip', 'hdrlength', IP_HDRLENGTH, 'IPv4 header length in 32-bit words (5 without options)', (b, at) => b[at]! & 0x0f);
  field(r, 'ip', 'length', IP_LENGTH, 'IPv4 total length in bytes, header included', (b, at) => u16(b, at + 2));
  field(r, 'ip', 'checksum', IP_CHECKSUM, 'IPv4 header checksum as the packet carries it', (b, at) => u16(b, at + 10));
  field(r, 'ip', 'ecn', ECN, 'IPv4 ECN field (the low 2 bits of the TOS byte, RFC 3168); writable with `ip ecn set` (header checksum updated)', (b, at) => b[at + 1]! & 3, (ctx, v) =>
    storeIpv4Byte(ctx, 1, v & 3, 0xfc),
  );
  field(r, 'ip6', 'version', IP_VERSION, 'IPv6 header version field (6 on every IPv6 packet)', (b, at) => b[at]! >> 4);
  field(r, 'ip6', 'length', IP_LENGTH, 'IPv6 payload length in bytes (extension headers included, the fixed 40-byte header not)', (b, at) => u16(b, at + 4));
  field(r, 'ip6', 'flowlabel', IP6_FLOWLABEL, 'IPv6 flow label (20 bits); writable with `ip6 flowlabel set`', (b, at) => ((b[at + 1]! & 0x0f) << 16) | u16(b, at + 2), (ctx, v) => {
    const p = ctx.pkt;
    if (p.family !== 6) return;
    const b = p.buf;
    const at = p.l3Off;
    b[at + 1] = (b[at + 1]! & 0xf0) | ((v >> 16) & 0x0f);
    b[at + 2] = (v >> 8) & 0xff;
    b[at + 3] = v & 0xff;
  });
  field(r, 'ip6', 'ecn', ECN, 'IPv6 ECN field (the low 2 bits of the traffic class, RFC 3168); writable with `ip6 ecn set`', (_b, _at, ctx) => ctx.pkt.tos & 3, (ctx, v) => {
    if (ctx.pkt.family !== 6) return;
    storeTrafficClass(ctx, (ctx.pkt.tos & 0xfc) | (v & 3));
  });
  r.registerMatch({
    name: 'meta protocol',
    keywords: ['meta', 'protocol'],
    left: { meta: { key: 'protocol' } },
    type: ETHER_TYPE,
    families: ['ip', 'ip6', 'inet'],
    help: 'the packet\'s EtherType (skb->protocol): ip or ip6 for every packet the datapath sees',
    load(ctx, out, off) {
      const f = ctx.pkt.family;
      if (f === 0) return false;
      out[off] = f === 4 ? 0x0800 : 0x86dd;
      return true;
    },
  });
}

/** `ip ttl set`: the header checksum follows (the TTL shares its word with the protocol). */
export function storeTtl(ctx: ClassifyContext, v: number): void {
  storeIpv4Byte(ctx, 8, v & 0xff, 0);
}

/** `ip6 hoplimit set`: no checksum covers it. */
export function storeHopLimit(ctx: ClassifyContext, v: number): void {
  const p = ctx.pkt;
  if (p.family !== 6) return;
  p.buf[p.l3Off + 7] = v & 0xff;
  p.ttl = v & 0xff;
}
