/**
 * The IPv6 layer-3 handler: the ipv6_addr type (RFC 4291 section 2.2 text forms) and the
 * matches that read the IPv6 header (RFC 8200) and ICMPv6 (RFC 4443).
 */
import type { DataType } from './data-types.js';
import { DSCP, HOP_LIMIT, ICMPV6_CODE, ICMPV6_TYPE, INET_PROTO } from './data-types.js';
import type { Registry } from './registry.js';
import { storeHopLimit } from './modules/ip-header.js';
import type { ClassifyContext } from './context.js';
import { parseIpv4 } from './l3-ipv4.js';

/** Parses RFC 4291 text (with `::` and a trailing dotted quad) into four words, big-endian. */
export function parseIpv6(s: string, out: Uint32Array, off: number): boolean {
  if (s.length < 2 || s.length > 45 || !/^[0-9a-fA-F:.]+$/.test(s)) return false;
  const groups: number[] = [];
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const parseHalf = (h: string): number[] | undefined => {
    if (h === '') return [];
    const parts = h.split(':');
    const r: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (p.includes('.')) {
        if (i !== parts.length - 1) return undefined;
        const v4 = parseIpv4(p);
        if (v4 === undefined) return undefined;
        r.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        r.push(parseInt(p, 16));
      }
    }
    return r;
  };
  const a = parseHalf(halves[0]);
  const b = halves.length === 2 ? parseHalf(halves[1]) : [];
  if (!a || !b) return false;
  if (halves.length === 2) {
    if (a.length + b.length > 7) return false;
    groups.push(...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b);
  } else {
    if (a.length !== 8) return false;
    groups.push(...a);
  }
  for (let i = 0; i < 4; i++) out[off + i] = ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0;
  return true;
}

const scratch = new Uint32Array(4);

export const IPV6_ADDR: DataType = {
  name: 'ipv6_addr',
  help: 'IPv6 address (RFC 4291 text form), prefix addr/len or range a-b',
  words: 4,
  bits: 128,
  ordered: true,
  prefix: true,
  fromText(word) {
    if (!parseIpv6(word, scratch, 0)) throw `'${word}' is not a valid IPv6 address`;
    return word.toLowerCase();
  },
  encode(v, out, off) {
    if (typeof v !== 'string' || !parseIpv6(v, out, off)) return `'${v}' is not a valid IPv6 address`;
    return null;
  },
  toText(v) {
    return String(v);
  },
};

function load128(b: Uint8Array, o: number, out: Uint32Array, off: number): void {
  for (let i = 0; i < 4; i++) {
    const p = o + 4 * i;
    out[off + i] = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }
}

export function registerIpv6(r: Registry): void {
  r.registerType(IPV6_ADDR);
  r.registerMatch({
    name: 'ip6 saddr',
    keywords: ['ip6', 'saddr'],
    left: { payload: { protocol: 'ip6', field: 'saddr' } },
    type: IPV6_ADDR,
    families: ['ip6', 'inet'],
    l3: 6,
    help: 'IPv6 source address',
    load(ctx: ClassifyContext, out, off) {
      const p = ctx.pkt;
      if (p.family !== 6) return false;
      load128(p.buf, p.srcOff, out, off);
      return true;
    },
  });
  r.registerMatch({
    name: 'ip6 daddr',
    keywords: ['ip6', 'daddr'],
    left: { payload: { protocol: 'ip6', field: 'daddr' } },
    type: IPV6_ADDR,
    families: ['ip6', 'inet'],
    l3: 6,
    help: 'IPv6 destination address',
    load(ctx: ClassifyContext, out, off) {
      const p = ctx.pkt;
      if (p.family !== 6) return false;
      load128(p.buf, p.dstOff, out, off);
      return true;
    },
  });
  r.registerMatch({
    name: 'ip6 nexthdr',
    keywords: ['ip6', 'nexthdr'],
    left: { payload: { protocol: 'ip6', field: 'nexthdr' } },
    type: INET_PROTO,
    families: ['ip6', 'inet'],
    l3: 6,
    help: 'the Next Header field of the fixed IPv6 header: the first extension header when the packet has one (as in nft); `meta l4proto` is the upper-layer protocol after them',
    load(ctx: ClassifyContext, out, off) {
      const p = ctx.pkt;
      if (p.family !== 6) return false;
      // nft's payload expression reads byte 6 of the header, not the protocol the chain ends in.
      out[off] = p.buf[p.l3Off + 6]!;
      return true;
    },
  });
  r.registerMatch({
    name: 'ip6 hoplimit',
    keywords: ['ip6', 'hoplimit'],
    left: { payload: { protocol: 'ip6', field: 'hoplimit' } },
    type: HOP_LIMIT,
    families: ['ip6', 'inet'],
    l3: 6,
    help: 'IPv6 hop limit, as the packet arrived (the kernel lowers it when it forwards); writable with `ip6 hoplimit set`',
    load(ctx: ClassifyContext, out, off) {
      if (ctx.pkt.family !== 6) return false;
      out[off] = ctx.pkt.ttl;
      return true;
    },
    store: storeHopLimit,
  });
  r.registerMatch({
    name: 'ip6 dscp',
    keywords: ['ip6', 'dscp'],
    left: { payload: { protocol: 'ip6', field: 'dscp' } },
    type: DSCP,
    families: ['ip6', 'inet'],
    l3: 6,
    help: 'IPv6 DiffServ code point (the upper 6 bits of the traffic class); writable with `ip6 dscp set`',
    load(ctx: ClassifyContext, out, off) {
      if (ctx.pkt.family !== 6) return false;
      out[off] = ctx.pkt.tos >> 2;
      return true;
    },
    store(ctx, v) {
      const p = ctx.pkt;
      if (p.family !== 6) return;
      // The traffic class spans bytes 0-1 (version 4 bits, class 8, flow label 20); IPv6
      // has no header checksum, and the transport checksum does not cover it.
      const b = p.buf;
      const at = p.l3Off;
      const tc = (v << 2) | (p.tos & 3);
      b[at] = (b[at] & 0xf0) | (tc >> 4);
      b[at + 1] = ((tc & 0x0f) << 4) | (b[at + 1] & 0x0f);
      p.tos = tc;
    },
  });
  r.registerMatch({
    name: 'icmpv6 code',
    keywords: ['icmpv6', 'code'],
    left: { payload: { protocol: 'icmpv6', field: 'code' } },
    type: ICMPV6_CODE,
    families: ['ip6', 'inet'],
    l3: 6,
    help: 'ICMPv6 code (RFC 4443); matches only ICMPv6 packets',
    load(ctx: ClassifyContext, out, off) {
      const p = ctx.pkt;
      if (p.family !== 6 || p.l4proto !== 58 || !p.l4Valid) return false;
      out[off] = p.icmpCode;
      return true;
    },
  });
  r.registerMatch({
    name: 'icmpv6 type',
    keywords: ['icmpv6', 'type'],
    left: { payload: { protocol: 'icmpv6', field: 'type' } },
    type: ICMPV6_TYPE,
    families: ['ip6', 'inet'],
    l3: 6,
    help: 'ICMPv6 message type (RFC 4443); matches only ICMPv6 packets',
    load(ctx: ClassifyContext, out, off) {
      const p = ctx.pkt;
      if (p.family !== 6 || p.l4proto !== 58 || !p.l4Valid) return false;
      out[off] = p.icmpType;
      return true;
    },
  });
}
