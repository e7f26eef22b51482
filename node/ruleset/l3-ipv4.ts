/**
 * The IPv4 layer-3 handler: the ipv4_addr type and the matches that read the IPv4
 * header (RFC 791) and ICMP (RFC 792). Registered with the engine like any module;
 * the L3-independent matches (ports, meta, ct) do not know it exists.
 */
import type { DataType } from './data-types.js';
import { DSCP, HOP_LIMIT, ICMP_CODE, ICMP_TYPE, INET_PROTO, parseInteger } from './data-types.js';
import { csumUpdate16 } from '../packet/checksum.js';
import type { Registry } from './registry.js';
import { storeTtl } from './modules/ip-header.js';
import type { ClassifyContext } from './context.js';

/**
 * Dotted quad -> 32-bit number, or undefined. A hand-written scan rather than a regular
 * expression: it runs several times per rule while a ruleset loads, and regex matches
 * (with their capture arrays) showed up in load profiles.
 */
export function parseIpv4(s: string): number | undefined {
  const n = s.length;
  if (n < 7 || n > 15) return undefined;
  let v = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++digits > 3) return undefined;
      octet = octet * 10 + (c - 48);
    } else if (c === 46) {
      if (digits === 0 || octet > 255 || ++dots > 3) return undefined;
      v = v * 256 + octet;
      octet = 0;
      digits = 0;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0 || octet > 255) return undefined;
  return v * 256 + octet;
}

function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export const IPV4_ADDR: DataType = {
  name: 'ipv4_addr',
  help: 'IPv4 address (dotted quad), prefix a.b.c.d/len or range a-b',
  words: 1,
  bits: 32,
  ordered: true,
  prefix: true,
  fromText(word) {
    if (parseIpv4(word) !== undefined) return word;
    // A raw number, as nft reads one (`ip saddr & 0xff == 1`): the address with that value.
    const n = parseInteger(word);
    if (n !== undefined && n <= 0xffffffff) return formatIpv4(n);
    throw `'${word}' is not a valid IPv4 address`;
  },
  encode(v, out, off) {
    const n = typeof v === 'string' ? parseIpv4(v) : undefined;
    if (n === undefined) return `'${v}' is not a valid IPv4 address`;
    out[off] = n;
    return null;
  },
  toText(v) {
    return String(v);
  },
};

function readBe32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export function registerIpv4(r: Registry): void {
  r.registerType(IPV4_ADDR);
  r.registerMatch({
    name: 'ip saddr',
    keywords: ['ip', 'saddr'],
    left: { payload: { protocol: 'ip', field: 'saddr' } },
    type: IPV4_ADDR,
    families: ['ip', 'inet'],
    l3: 4,
    help: 'IPv4 source address',
    load(ctx: ClassifyContext, out, off) {
      const p = ctx.pkt;
      if (p.family !== 4) return false;
      out[off] = readBe32(p.buf, p.srcOff);
      return true;
    },
  });
  r.registerMatch({
    name: 'ip daddr',
    keywords: ['ip', 'daddr'],
    left: { payload: { protocol: 'ip', field: 'daddr' } },
    type: IPV4_ADDR,
    families: ['ip', 'inet'],
    l3: 4,
    help: 'IPv4 destination address',
    load(ctx: ClassifyContext, out, off) {
      const p = ctx.pkt;
      if (p.family !== 4) return false;
      out[off] = readBe32(p.buf, p.dstOff);
      return true;
    },
  });
  r.registerMatch({
    name: 'ip protocol',
    keywords: ['ip', 'protocol'],
    left: { payload: { protocol: 'ip', field: 'protocol' } },
    type: INET_PROTO,
    families: ['ip', 'inet'],
    l3: 4,
    help: 'IPv4 header protocol field (the upper-layer protocol)',
    load(ctx: ClassifyContext, out, off) {
      if (ctx.pkt.family !== 4) return false;
      out[off] = ctx.pkt.l4proto;
      return true;
    },
  });
  r.registerMatch({
    name: 'ip ttl',
    keywords: ['ip', 'ttl'],
    left: { payload: { protocol: 'ip', field: 'ttl' } },
    type: HOP_LIMIT,
    families: ['ip', 'inet'],
    l3: 4,
    help: 'IPv4 time to live, as the packet arrived (the kernel lowers it when it forwards); writable with `ip ttl set` (header checksum updated)',
    load(ctx: ClassifyContext, out, off) {
      if (ctx.pkt.family !== 4) return false;
      out[off] = ctx.pkt.ttl;
      return true;
    },
    store: storeTtl,
  });
  r.registerMatch({
    name: 'ip dscp',
    keywords: ['ip', 'dscp'],
    left: { payload: { protocol: 'ip', field: 'dscp' } },
    type: DSCP,
    families: ['ip', 'inet'],
    l3: 4,
    help: 'IPv4 DiffServ code point (the upper 6 bits of the TOS byte); writable with `ip dscp set`',
    load(ctx: ClassifyContext, out, off) {
      if (ctx.pkt.family !== 4) return false;
      out[off] = ctx.pkt.tos >> 2;
      return true;
    },
    store(ctx, v) {
      const p = ctx.pkt;
      if (p.family !== 4) return;
      // ECN (the low 2 bits) stays; the header checksum follows the 16-bit word it is in.
      const b = p.buf;
      const at = p.l3Off;
      const old = (b[at] << 8) | b[at + 1];
      b[at + 1] = (v << 2) | (b[at + 1] & 3);
      p.tos = b[at + 1];
      const sum = csumUpdate16((b[at + 10] << 8) | b[at + 11], old, (b[at] << 8) | b[at + 1]);
      b[at + 10] = sum >> 8;
      b[at + 11] = sum & 0xff;
    },
  });
  r.registerMatch({
    name: 'icmp code',
    keywords: ['icmp', 'code'],
    left: { payload: { protocol: 'icmp', field: 'code' } },
    type: ICMP_CODE,
    families: ['ip', 'inet'],
    l3: 4,
    help: 'ICMP code (RFC 792); matches only ICMP packets',
    load(ctx: ClassifyContext, out, off) {
      const p = ctx.pkt;
      if (p.family !== 4 || p.l4proto !== 1 || !p.l4Valid) return false;
      out[off] = p.icmpCode;
      return true;
    },
  });
  r.registerMatch({
    name: 'icmp type',
    keywords: ['icmp', 'type'],
    left: { payload: { protocol: 'icmp', field: 'type' } },
    type: ICMP_TYPE,
    families: ['ip', 'inet'],
    l3: 4,
    help: 'ICMP message type (RFC 792); matches only ICMP packets',
    load(ctx: ClassifyContext, out, off) {
      const p = ctx.pkt;
      if (p.family !== 4 || p.l4proto !== 1 || !p.l4Valid) return false;
      out[off] = p.icmpType;
      return true;
    },
  });
}
