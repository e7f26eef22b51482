/**
 * IPv6 extension headers (RFC 8200 section 4), as nft's exthdr expression reads them:
 * `exthdr hbh|rt|frag|dst|mh exists|missing` and the fields `hbh|dst nexthdr|hdrlength`,
 * `rt nexthdr|hdrlength|type|seg-left`, `frag nexthdr|reserved|frag-off|reserved2|
 * more-fragments|id`, `mh nexthdr|hdrlength|type|reserved|checksum` (RFC 6275 section 6.1).
 *
 * The header is found as the kernel's ipv6_find_hdr finds it: following the chain from the
 * fixed header through hop-by-hop, routing, fragment, destination options and AH headers
 * until one of the wanted type; any other header (an upper layer, No Next Header) ends the
 * search, and so does a non-first fragment (what follows it is payload). A header or field
 * the packet does not hold entirely is absent: `exists` is false and a field matches
 * nothing. IPv4 packets have no IPv6 extension headers: nothing matches them, not even
 * `missing`.
 *
 * Segment routing (RFC 8754): `srh last-entry|flags|tag` and `srh sid[1]|sid[2]`, and
 * `rt0 addr[1]|addr[2]` (the deprecated type 0 header, RFC 5095), are fields of the first
 * routing header at fixed offsets, as in the kernel (exthdr type 43, offset, length): the
 * routing type is not checked (`rt type 4 srh tag 1` checks it). `rt0 addr[N]` is the same
 * kernel expression as `srh sid[N]` (bytes 8 + 16 * (N - 1)), so nft 1.0.6 lists it as
 * `srh sid[N]`, and so does hafw. nft 1.0.6 has types for sid[1], sid[2], addr[1] and
 * addr[2] only (higher indices fail or crash it) and none for `rt2 addr`: those are refused.
 *
 * The datapath reassembles fragments before the rules, and reassembly removes the fragment
 * header (as the kernel's nf_defrag_ipv6 does), so `exthdr frag exists` only sees atomic
 * fragments (RFC 6946: offset 0, no more fragments), which are not reassembled.
 */
import { BOOLEAN } from './tcp-options.js';
import { INET_PROTO, integerType, namedType } from '../data-types.js';
import type { DataType } from '../data-types.js';
import type { PacketInfo } from '../../packet/packet-info.js';
import type { Registry } from '../registry.js';
import { refusedType } from './rt.js';

const enum Nh {
  Hbh = 0,
  Routing = 43,
  Fragment = 44,
  Ah = 51,
  Dst = 60,
  Mh = 135,
}

const SRH_LAST_ENTRY = integerType('srh_last_entry', 8, 'segment routing header Last Entry (RFC 8754)');
const SRH_FLAGS = integerType('srh_flags', 8, 'segment routing header flags (RFC 8754)');
const SRH_TAG = integerType('srh_tag', 16, 'segment routing header tag (RFC 8754)');
const HDRLENGTH = integerType('exthdr_hdrlength', 8, 'extension header length, in 8-byte units not counting the first 8');
const RT_TYPE = integerType('rt_type', 8, 'IPv6 routing header type (RFC 8200 section 4.4)');
const SEG_LEFT = integerType('rt_seg_left', 8, 'IPv6 routing header segments left');
const FRAG_RESERVED = integerType('frag_reserved', 8, 'IPv6 fragment header reserved byte');
const FRAG_OFF = integerType('frag_off', 13, 'IPv6 fragment offset in 8-byte units (13 bits)');
const FRAG_RESERVED2 = integerType('frag_reserved2', 2, 'IPv6 fragment header reserved bits (2 bits)');
const FRAG_MORE = integerType('frag_more_fragments', 1, 'IPv6 fragment header M flag (1 bit)');
const FRAG_ID = integerType('frag_id', 32, 'IPv6 fragment identification (32 bits)');
const MH_RESERVED = integerType('mh_reserved', 8, 'mobility header reserved byte');
const MH_CHECKSUM = integerType('mh_checksum', 16, 'mobility header checksum');
/** RFC 6275 section 6.1.2 (and RFC 5568, RFC 5142), the names nft gives them. */
const MH_TYPE = namedType(integerType('mh_type', 8, 'mobility header type', {
  'binding-refresh-request': 0, 'home-test-init': 1, 'care-of-test-init': 2, 'home-test': 3, 'care-of-test': 4,
  'binding-update': 5, 'binding-acknowledgement': 6, 'binding-error': 7, 'fast-binding-update': 8,
  'fast-binding-acknowledgement': 9, 'fast-binding-advertisement': 10, 'experimental-mobility-header': 11,
  'home-agent-switch-message': 12,
}));

/**
 * A field: [name, type, byte offset in the header, bytes (1, 2 or 4), shift, mask]: the value
 * is (read >> shift) & mask.
 */
type Field = [string, DataType, number, 1 | 2 | 4, number, number];

const NEXTHDR: Field = ['nexthdr', INET_PROTO, 0, 1, 0, 0xff];
const HDRLEN: Field = ['hdrlength', HDRLENGTH, 1, 1, 0, 0xff];

const HEADERS: { name: string; type: number; help: string; fields: Field[] }[] = [
  { name: 'hbh', type: Nh.Hbh, help: 'hop-by-hop options header', fields: [NEXTHDR, HDRLEN] },
  { name: 'rt', type: Nh.Routing, help: 'routing header', fields: [NEXTHDR, HDRLEN, ['type', RT_TYPE, 2, 1, 0, 0xff], ['seg-left', SEG_LEFT, 3, 1, 0, 0xff]] },
  {
    name: 'frag',
    type: Nh.Fragment,
    help: 'fragment header',
    fields: [
      NEXTHDR,
      ['reserved', FRAG_RESERVED, 1, 1, 0, 0xff],
      ['frag-off', FRAG_OFF, 2, 2, 3, 0x1fff],
      ['reserved2', FRAG_RESERVED2, 2, 2, 1, 3],
      ['more-fragments', FRAG_MORE, 2, 2, 0, 1],
      ['id', FRAG_ID, 4, 4, 0, 0xffffffff],
    ],
  },
  { name: 'dst', type: Nh.Dst, help: 'destination options header', fields: [NEXTHDR, HDRLEN] },
  {
    name: 'mh',
    type: Nh.Mh,
    help: 'mobility header (RFC 6275)',
    fields: [NEXTHDR, HDRLEN, ['type', MH_TYPE, 2, 1, 0, 0xff], ['reserved', MH_RESERVED, 3, 1, 0, 0xff], ['checksum', MH_CHECKSUM, 4, 2, 0, 0xffff]],
  },
];

/**
 * Offset of the first extension header of `type` whose first `need` bytes the packet holds,
 * -1 when there is none, -2 when the packet is not IPv6 (ipv6_find_hdr's walk).
 */
function findHeader(p: PacketInfo, type: number, need: number): number {
  if (p.family !== 6) return -2;
  const b = p.buf;
  const end = p.end;
  let nh = b[p.l3Off + 6]!;
  let off = p.l3Off + 40;
  // At most one header per 8 bytes: the walk is bounded by the packet.
  while (nh !== type) {
    if (nh !== Nh.Hbh && nh !== Nh.Routing && nh !== Nh.Fragment && nh !== Nh.Ah && nh !== Nh.Dst) return -1;
    if (off + 8 > end) return -1;
    let len: number;
    if (nh === Nh.Fragment) {
      // A non-first fragment: what follows is payload, not headers.
      if ((((b[off + 2]! << 8) | b[off + 3]!) & 0xfff8) !== 0) return -1;
      len = 8;
    } else if (nh === Nh.Ah) len = (b[off + 1]! + 2) * 4;
    else len = (b[off + 1]! + 1) * 8;
    nh = b[off]!;
    off += len;
  }
  return off + need <= end ? off : -1;
}

/** The segment routing header's fields nft 1.0.6 reads: [field, type, byte offset, bytes]. */
const SRH_FIELDS: [string, DataType, number, 1 | 2][] = [
  ['last-entry', SRH_LAST_ENTRY, 4, 1],
  ['flags', SRH_FLAGS, 5, 1],
  ['tag', SRH_TAG, 6, 2],
];
/** The segment list entries (and type 0 addresses) nft 1.0.6 has a type for. */
export const SRH_SIDS = 2;

/** Why `srh sid[N]` / `rt0 addr[N]` / `rt2 addr` cannot load, for the parser and JSON checks. */
export function routingFieldRefusal(hdr: string, field: string): string | undefined {
  const m = /^(sid|addr)\[(\d+)\]$/.exec(field);
  if (hdr === 'rt2') return `'rt2 addr' (the type 2 routing header's home address) has no type in nft 1.0.6 ("No symbol type information": nothing can compare it), so no ruleset uses it; match the header with 'rt type 2' and 'exthdr rt exists'`;
  if (m && ((hdr === 'srh' && m[1] === 'sid') || (hdr === 'rt0' && m[1] === 'addr')) && !(Number(m[2]) >= 1 && Number(m[2]) <= SRH_SIDS)) {
    return `'${hdr} ${field}': nft 1.0.6 has a type for ${m[1]}[1] and ${m[1]}[2] only (higher indices fail or crash it), so hafw takes those two`;
  }
  return undefined;
}

function load128(b: Uint8Array, o: number, out: Uint32Array, off: number): void {
  for (let i = 0; i < 4; i++) {
    const p = o + 4 * i;
    out[off + i] = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }
}

function registerRouting(r: Registry): void {
  for (const [field, type, rel, bytes] of SRH_FIELDS) {
    r.registerMatch({
      name: `srh ${field}`,
      keywords: ['srh', field],
      left: { exthdr: { name: 'srh', field } },
      type,
      families: ['ip6', 'inet'],
      l3: 6,
      help: `the ${field} field of a segment routing header (RFC 8754), read from the first IPv6 routing header whatever its type (no routing header: no match)`,
      load(ctx, out, off) {
        const p = ctx.pkt;
        const at = findHeader(p, Nh.Routing, rel + bytes);
        if (at < 0) return false;
        const q = at + rel;
        out[off] = bytes === 1 ? p.buf[q]! : (p.buf[q]! << 8) | p.buf[q + 1]!;
        return true;
      },
    });
  }
  const addrType = r.type('ipv6_addr');
  if (!addrType) throw new Error('ipv6_addr must be registered before the routing header fields');
  for (let n = 1; n <= SRH_SIDS; n++) {
    const rel = 8 + 16 * (n - 1);
    const m = r.registerMatch({
      name: `srh sid[${n}]`,
      keywords: ['srh', `sid[${n}]`],
      left: { exthdr: { name: 'srh', field: `sid[${n}]` } },
      type: addrType,
      families: ['ip6', 'inet'],
      l3: 6,
      help: `segment ${n} of a segment routing header's list (bytes ${rel}-${rel + 15} of the first IPv6 routing header; also written rt0 addr[${n}])`,
      load(ctx, out, off) {
        const p = ctx.pkt;
        const at = findHeader(p, Nh.Routing, rel + 16);
        if (at < 0) return false;
        load128(p.buf, at + rel, out, off);
        return true;
      },
    });
    // The same kernel expression: read, and listed as nft 1.0.6 lists it (srh sid[N]).
    r.registerAlias(['rt0', `addr[${n}]`], m);
  }
  const why = routingFieldRefusal('rt2', 'addr')!;
  r.registerMatch({
    name: 'rt2 addr',
    keywords: ['rt2', 'addr'],
    left: { exthdr: { name: 'rt2', field: 'addr' } },
    type: refusedType('rt2_addr', why),
    families: ['ip6', 'inet'],
    help: `refused: ${why}`,
    refused: why,
    load: () => false,
  });
}

export function registerIp6Exthdr(r: Registry): void {
  registerRouting(r);
  for (const h of HEADERS) {
    r.registerMatch({
      name: `exthdr ${h.name}`,
      keywords: ['exthdr', h.name],
      left: { exthdr: { name: h.name } },
      type: BOOLEAN,
      families: ['ip6', 'inet'],
      l3: 6,
      help: `whether the IPv6 packet carries a ${h.help}: \`exthdr ${h.name} exists\` or \`missing\``,
      load(ctx, out, off) {
        const at = findHeader(ctx.pkt, h.type, 1);
        if (at === -2) return false;
        out[off] = at >= 0 ? 1 : 0;
        return true;
      },
    });
    for (const [field, type, rel, bytes, shift, mask] of h.fields) {
      r.registerMatch({
        name: `${h.name} ${field}`,
        keywords: [h.name, field],
        left: { exthdr: { name: h.name, field } },
        type,
        families: ['ip6', 'inet'],
        l3: 6,
        help: `the ${field} field of the IPv6 ${h.help} (no such header: no match)`,
        load(ctx, out, off) {
          const p = ctx.pkt;
          const at = findHeader(p, h.type, rel + bytes);
          if (at < 0) return false;
          const b = p.buf;
          const q = at + rel;
          const raw = bytes === 1 ? b[q]! : bytes === 2 ? (b[q]! << 8) | b[q + 1]! : ((b[q]! << 24) | (b[q + 1]! << 16) | (b[q + 2]! << 8) | b[q + 3]!) >>> 0;
          out[off] = (raw >>> shift) & mask;
          return true;
        },
      });
    }
  }
}
