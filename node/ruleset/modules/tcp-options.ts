/**
 * `tcp option maxseg size`: the MSS option of a TCP segment (RFC 9293 section 3.7.1),
 * readable and writable. Written, it is MSS clamping for links with a smaller MTU than the
 * hosts believe (PPPoE, tunnels): `tcp flags syn tcp option maxseg size set 1452`. Like nft,
 * `set` writes the value whatever the segment carried; guard it with a match
 * (`tcp option maxseg size > 1452`) to only ever lower it. A segment without the option
 * matches nothing and is left alone.
 *
 * The other options nft names are readable as nft reads them (the kernel's exthdr
 * expression): `tcp option NAME exists|missing`, `tcp option NAME kind|length`, and the
 * fields `window count` (RFC 7323 section 2, the shift as sent, not clamped),
 * `timestamp tsval|tsecr` (RFC 7323 section 3), for `maxseg`, `window`, `sack-perm`
 * (RFC 2018) and `timestamp`. The first option of the kind counts, whatever its length; a
 * field past the option's length reads as absent (the match fails), as in the kernel. Only
 * TCP segments have options: on anything else even `missing` does not match (nft's
 * implicit `meta l4proto tcp`).
 */
import { integerType } from '../data-types.js';
import type { DataType } from '../data-types.js';
import type { Scalar } from '../ast.js';
import type { ClassifyContext } from '../context.js';
import type { Registry } from '../registry.js';
import type { PacketInfo } from '../../packet/packet-info.js';
import { TcpOptionKind, tcpFindOption } from '../../packet/tcp-options.js';
import { csumUpdate16, isPartialChecksum } from '../../packet/checksum.js';

const TCP_MSS = integerType('tcp_mss', 16, 'TCP maximum segment size in bytes');
const TCPOPT_KIND = integerType('tcpopt_kind', 8, 'TCP option kind (RFC 9293 section 3.2)');
const TCPOPT_LENGTH = integerType('tcpopt_length', 8, 'TCP option length in bytes, kind and length included');
const TCP_WSCALE = integerType('tcp_wscale', 8, 'TCP window scale shift count, as sent (RFC 7323)');
const TCP_TIMESTAMP = integerType('tcp_timestamp', 32, 'TCP timestamp value or echo reply (RFC 7323)');

/** nft's boolean: `exists` (JSON true) and `missing` (false), for option presence. */
const BOOLEAN: DataType = {
  name: 'boolean',
  help: 'exists or missing',
  words: 1,
  bits: 1,
  ordered: false,
  fromText(word): Scalar {
    if (word === 'exists') return true;
    if (word === 'missing') return false;
    throw `'${word}' is not a valid boolean (expected exists or missing)`;
  },
  encode(v, out, off) {
    if (typeof v !== 'boolean') return `'${v}' is not a valid boolean (expected exists or missing: JSON true or false)`;
    out[off] = v ? 1 : 0;
    return null;
  },
  toText(v) {
    return v === true ? 'exists' : v === false ? 'missing' : String(v);
  },
};

/** The options nft names that hafw reads, with their fields past kind and length: [field, type, offset, bytes]. */
const OPTIONS: { name: string; kind: number; fields: [string, DataType, number, 1 | 4][] }[] = [
  { name: 'maxseg', kind: TcpOptionKind.Mss, fields: [] },
  { name: 'window', kind: TcpOptionKind.WindowScale, fields: [['count', TCP_WSCALE, 2, 1]] },
  { name: 'sack-perm', kind: TcpOptionKind.SackPermitted, fields: [] },
  { name: 'timestamp', kind: TcpOptionKind.Timestamp, fields: [['tsval', TCP_TIMESTAMP, 2, 4], ['tsecr', TCP_TIMESTAMP, 6, 4]] },
];


/** Where the MSS value (2 bytes) is in the packet, or -1 when it carries none. */
function mssAt(p: PacketInfo): number {
  if (!p.l4Valid || p.l4proto !== 6) return -1;
  const at = tcpFindOption(p, TcpOptionKind.Mss, 4);
  return at < 0 ? -1 : at + 2;
}

/** Rewrites the MSS and keeps the TCP checksum right (incrementally, RFC 1624). */
function storeMss(ctx: ClassifyContext, value: number): void {
  const p = ctx.pkt;
  const at = mssAt(p);
  if (at < 0) return;
  const b = p.buf;
  const old = (b[at]! << 8) | b[at + 1]!;
  if (old === value) return;
  b[at] = value >> 8;
  b[at + 1] = value & 0xff;
  // Under NeedsCsum the field holds only the pseudo-header sum; the kernel sums the bytes later.
  if (isPartialChecksum(p)) return;
  const c = p.l4Off + 16;
  const sum = csumUpdate16((b[c]! << 8) | b[c + 1]!, old, value);
  b[c] = sum >> 8;
  b[c + 1] = sum & 0xff;
}

/** Where option `kind` starts (its kind byte), -1 when the segment has none, -2 when the packet is not TCP. */
function optionAt(p: PacketInfo, kind: number): number {
  if (!p.l4Valid || p.l4proto !== 6) return -2;
  return tcpFindOption(p, kind, 0);
}

function registerOption(r: Registry, o: (typeof OPTIONS)[number]): void {
  const families: ('ip' | 'ip6' | 'inet')[] = ['ip', 'ip6', 'inet'];
  r.registerMatch({
    name: `tcp option ${o.name}`,
    keywords: ['tcp', 'option', o.name],
    left: { 'tcp option': { name: o.name } },
    type: BOOLEAN,
    families,
    help: `whether the TCP segment carries the ${o.name} option: \`tcp option ${o.name} exists\` or \`missing\``,
    load(ctx, out, off) {
      const at = optionAt(ctx.pkt, o.kind);
      if (at === -2) return false;
      out[off] = at >= 0 ? 1 : 0;
      return true;
    },
  });
  const fields: [string, DataType, number, 1 | 4][] = [['kind', TCPOPT_KIND, 0, 1], ['length', TCPOPT_LENGTH, 1, 1], ...o.fields];
  for (const [field, type, rel, bytes] of fields) {
    r.registerMatch({
      name: `tcp option ${o.name} ${field}`,
      keywords: ['tcp', 'option', o.name, field],
      left: { 'tcp option': { name: o.name, field } },
      type,
      families,
      help: `the ${field} of the TCP ${o.name} option (absent option or field: no match)`,
      load(ctx, out, off) {
        const p = ctx.pkt;
        const at = optionAt(p, o.kind);
        if (at < 0) return false;
        const b = p.buf;
        // The walk checked the option fits in the header; a field must fit in the option.
        if (rel + bytes > b[at + 1]! && rel > 1) return false;
        const q = at + rel;
        out[off] = bytes === 1 ? b[q]! : ((b[q]! << 24) | (b[q + 1]! << 16) | (b[q + 2]! << 8) | b[q + 3]!) >>> 0;
        return true;
      },
    });
  }
}

export function registerTcpOptions(r: Registry): void {
  for (const o of OPTIONS) registerOption(r, o);
  r.registerMatch({
    name: 'tcp option maxseg size',
    keywords: ['tcp', 'option', 'maxseg', 'size'],
    left: { 'tcp option': { name: 'maxseg', field: 'size' } },
    type: TCP_MSS,
    families: ['ip', 'ip6', 'inet'],
    help: 'TCP maximum segment size option (SYN and SYN-ACK carry it); writable with `tcp option maxseg size set N` (MSS clamping)',
    store: storeMss,
    load(ctx, out, off) {
      const at = mssAt(ctx.pkt);
      if (at < 0) return false;
      const b = ctx.pkt.buf;
      out[off] = (b[at]! << 8) | b[at + 1]!;
      return true;
    },
  });
}
