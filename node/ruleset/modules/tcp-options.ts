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
 * `timestamp tsval|tsecr` (RFC 7323 section 3), `sack left|right` and `sack1|sack2|sack3
 * left|right` (RFC 2018 section 3: the SACK blocks; `sack0` is `sack`, and nft lists it so),
 * `mptcp subtype` (RFC 8684 section 3: the high 4 bits after the length), for `maxseg`,
 * `window`, `sack-perm` (RFC 2018), `sack`, `timestamp`, `fastopen` (RFC 7413), `md5sig`
 * (RFC 2385) and `mptcp`; `eol` and `nop` only exist or are missing. The walk is the kernel's
 * (nft_exthdr_tcp_eval): options are stepped over by their length byte (one byte for EOL,
 * NOP and a zero length, so an EOL does not end the walk), the last header byte is never an
 * option start, and the first option of the kind counts; if it runs past the header, or a
 * field past the option's length, the field is absent (no match) and `exists` is false.
 * Only TCP segments have options: on anything else even `missing` does not match (nft's
 * implicit `meta l4proto tcp`).
 */
import { integerType } from '../data-types.js';
import type { DataType } from '../data-types.js';
import type { Scalar, Selector } from '../ast.js';
import type { ClassifyContext } from '../context.js';
import type { MatchModule, Registry } from '../registry.js';
import type { PacketInfo } from '../../packet/packet-info.js';
import { TcpOptionKind } from '../../packet/tcp-options.js';
import { csumUpdate16, isPartialChecksum } from '../../packet/checksum.js';

export const TCP_MSS = integerType('tcp_mss', 16, 'TCP maximum segment size in bytes');
const TCPOPT_KIND = integerType('tcpopt_kind', 8, 'TCP option kind (RFC 9293 section 3.2)');
const TCPOPT_LENGTH = integerType('tcpopt_length', 8, 'TCP option length in bytes, kind and length included');
const TCP_WSCALE = integerType('tcp_wscale', 8, 'TCP window scale shift count, as sent (RFC 7323)');
const TCP_TIMESTAMP = integerType('tcp_timestamp', 32, 'TCP timestamp value or echo reply (RFC 7323)');

/** nft's boolean: `exists` (JSON true) and `missing` (false), for option presence. */
export const BOOLEAN: DataType = {
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

const TCP_SACK_EDGE = integerType('tcp_sack_edge', 32, 'TCP SACK block edge, a sequence number (RFC 2018)');
const TCP_MPTCP_SUBTYPE = integerType('tcp_mptcp_subtype', 4, 'MPTCP option subtype (RFC 8684 section 3, 4 bits)');

/**
 * A field of an option: [name, type, byte offset in the option, bytes]; bytes 0 is the
 * 4-bit MPTCP subtype (the high nibble of the byte at the offset).
 */
type OptionField = [string, DataType, number, 0 | 1 | 4];

/**
 * The options nft names that hafw reads, with their fields past kind and length
 * (`bare`: exists/missing only, as nft has no kind/length for eol and nop).
 */
const OPTIONS: { name: string; kind: number; bare?: boolean; fields: OptionField[] }[] = [
  { name: 'eol', kind: TcpOptionKind.End, bare: true, fields: [] },
  { name: 'nop', kind: TcpOptionKind.Nop, bare: true, fields: [] },
  { name: 'maxseg', kind: TcpOptionKind.Mss, fields: [] },
  { name: 'window', kind: TcpOptionKind.WindowScale, fields: [['count', TCP_WSCALE, 2, 1]] },
  { name: 'sack-perm', kind: TcpOptionKind.SackPermitted, fields: [] },
  { name: 'sack', kind: TcpOptionKind.Sack, fields: [['left', TCP_SACK_EDGE, 2, 4], ['right', TCP_SACK_EDGE, 6, 4]] },
  { name: 'timestamp', kind: TcpOptionKind.Timestamp, fields: [['tsval', TCP_TIMESTAMP, 2, 4], ['tsecr', TCP_TIMESTAMP, 6, 4]] },
  { name: 'md5sig', kind: 19, fields: [] },
  { name: 'mptcp', kind: 30, fields: [['subtype', TCP_MPTCP_SUBTYPE, 2, 0]] },
  { name: 'fastopen', kind: 34, fields: [] },
];

/**
 * The first option of `kind` whose first `need` bytes lie inside it and inside the header,
 * as the kernel's exthdr walk finds it: its offset in the buffer, or -1 (absent, or the
 * first of the kind is too short); -2 when the packet is not a TCP segment.
 */
function optionAt(p: PacketInfo, kind: number, need: number): number {
  if (!p.l4Valid || p.l4proto !== 6) return -2;
  const b = p.buf;
  const end = p.tcpOptOff + p.tcpOptLen;
  for (let i = p.tcpOptOff; i < end - 1; ) {
    const k = b[i]!;
    const l = k <= TcpOptionKind.Nop || b[i + 1] === 0 ? 1 : b[i + 1]!;
    if (k === kind) return i + l > end || need > l ? -1 : i;
    i += l;
  }
  return -1;
}

/** Where the MSS value (2 bytes) is in the packet, or -1 when it carries none. */
function mssAt(p: PacketInfo): number {
  const at = optionAt(p, TcpOptionKind.Mss, 4);
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

function registerOption(r: Registry, o: (typeof OPTIONS)[number]): void {
  const families: ('ip' | 'ip6' | 'inet')[] = ['ip', 'ip6', 'inet'];
  const exists = r.registerMatch({
    name: `tcp option ${o.name}`,
    keywords: ['tcp', 'option', o.name],
    left: { 'tcp option': { name: o.name } },
    type: BOOLEAN,
    families,
    help: `whether the TCP segment carries the ${o.name} option: \`tcp option ${o.name} exists\` or \`missing\``,
    load(ctx, out, off) {
      const at = optionAt(ctx.pkt, o.kind, 1);
      if (at === -2) return false;
      out[off] = at >= 0 ? 1 : 0;
      return true;
    },
  });
  const fields: OptionField[] = o.bare ? [] : [['kind', TCPOPT_KIND, 0, 1], ['length', TCPOPT_LENGTH, 1, 1], ...o.fields];
  const sack = o.kind === TcpOptionKind.Sack;
  // `sack0` is the first block, nft's `sack`; sack1..3 are the later blocks, whose kind,
  // length and presence are the option's own (nft lists `sack3 length` as `sack length`).
  if (sack) for (const n of ['sack0', 'sack1', 'sack2', 'sack3']) r.registerAlias(['tcp', 'option', n], exists);
  // By number, as nft reads it (`tcp option 30 exists` is `tcp option mptcp exists`, and listed
  // so); nft 1.0.6 takes a number for presence only, not with a field.
  r.registerAlias(['tcp', 'option', String(o.kind)], exists);
  for (const [field, type, rel, bytes] of fields) {
    const m = registerField(r, o.name, o.kind, field, type, rel, bytes);
    if (sack) for (const n of rel < 2 ? ['sack0', 'sack1', 'sack2', 'sack3'] : ['sack0']) r.registerAlias(['tcp', 'option', n, field], m);
  }
  if (sack) {
    for (const block of [1, 2, 3]) {
      for (const [field, type, rel] of o.fields) registerField(r, `sack${block}`, o.kind, field, type, rel + 8 * block, 4);
    }
  }
}

function registerField(r: Registry, name: string, kind: number, field: string, type: DataType, rel: number, bytes: 0 | 1 | 4): MatchModule {
  return r.registerMatch({
    name: `tcp option ${name} ${field}`,
    keywords: ['tcp', 'option', name, field],
    left: { 'tcp option': { name, field } },
    type,
    families: ['ip', 'ip6', 'inet'],
    help: `the ${field} of the TCP ${name} option (absent option or field: no match)`,
    load(ctx, out, off) {
      const p = ctx.pkt;
      const at = optionAt(p, kind, rel + Math.max(bytes, 1));
      if (at < 0) return false;
      const b = p.buf;
      const q = at + rel;
      out[off] = bytes === 0 ? b[q]! >> 4 : bytes === 1 ? b[q]! : ((b[q]! << 24) | (b[q + 1]! << 16) | (b[q + 2]! << 8) | b[q + 3]!) >>> 0;
      return true;
    },
  });
}

/**
 * `tcp option @KIND,OFFSET,LENGTH` (bits): LENGTH bits at OFFSET inside the first option of
 * KIND, as the kernel's exthdr reads them (the option must hold OFFSET + LENGTH; the first
 * option of the kind counts). Whole bytes of at most 32 bits, as raw payloads. nft 1.0.6
 * lists a raw option at a field it knows by the field's name (`@5,16,32` is `sack left`,
 * `@2,16,16` `maxseg size`): hafw reads those as the named field, so they list the same;
 * where nft prints a name it cannot read back (`sack unknown`, `nop kind`), hafw keeps the raw
 * form. Values in decimal, as nft lists them. JSON `{"tcp option": {"base", "offset", "len"}}`.
 */
interface RawOptJ {
  base: number;
  offset: number;
  len: number;
}

/** The named field at (kind, byte offset, bytes), for the raw forms nft lists by name. */
function namedOptionField(kind: number, rel: number, bytes: number): Selector | undefined {
  if (kind === TcpOptionKind.Mss && rel === 2 && bytes === 2) return { 'tcp option': { name: 'maxseg', field: 'size' } };
  for (const o of OPTIONS) {
    if (o.kind !== kind || o.bare) continue;
    if (rel === 0 && bytes === 1) return { 'tcp option': { name: o.name, field: 'kind' } };
    if (rel === 1 && bytes === 1) return { 'tcp option': { name: o.name, field: 'length' } };
    for (const [field, , at, b] of o.fields) {
      if (b === 0) continue;
      if (o.kind === TcpOptionKind.Sack) {
        for (let block = 0; block < 4; block++) if (rel === at + 8 * block && bytes === b) return { 'tcp option': { name: block === 0 ? 'sack' : `sack${block}`, field } };
      } else if (rel === at && bytes === b) return { 'tcp option': { name: o.name, field } };
    }
  }
  return undefined;
}

export function rawOptionError(base: unknown, offset: unknown, len: unknown): string | null {
  const at = `'tcp option @${String(base)},${String(offset)},${String(len)}'`;
  if (!Number.isInteger(base) || (base as number) < 0 || (base as number) > 255) return `${at}: the option kind must be 0 to 255`;
  if (!Number.isInteger(offset) || (offset as number) < 0 || (offset as number) > 255 * 8) return `${at}: the offset must be a number of bits inside an option (0 to ${255 * 8})`;
  if (!Number.isInteger(len) || (len as number) < 1) return `${at}: the length must be a number of bits, 1 or more`;
  if ((offset as number) % 8 !== 0 || (len as number) % 8 !== 0) return `${at}: hafw takes raw TCP options of whole bytes (the offset a multiple of 8, the length 8, 16, 24 or 32): load the bytes and mask them (tcp option @KIND,OFFSET,8 & MASK == VALUE)`;
  if ((len as number) > 32) return `${at}: hafw takes raw TCP options of at most 32 bits`;
  return null;
}

function rawOptionModule(width: number): MatchModule {
  const bytes = width / 8;
  return {
    name: `tcp option @KIND,OFFSET,${width}`,
    keywords: ['tcp', 'option'],
    left: { 'tcp option': { base: 0, offset: 0, len: width } } as unknown as Selector,
    type: integerType(`tcpopt_raw_${width}`, width, `${width}-bit raw TCP option value`),
    families: ['ip', 'ip6', 'inet'],
    help: 'a raw TCP option field: `tcp option @KIND,OFFSET,LENGTH` (bits; whole bytes, at most 32 bits) inside the first option of KIND',
    load() {
      return false; // compileLoad gives each expression its kind and offset
    },
    parseParams(r) {
      const t = r.peek();
      const m = /^@(\d+)$/.exec(t.text);
      if (!m) r.error(`unknown TCP option '${t.text}' (known: ${OPTIONS.map((o) => o.name).join(', ')}, sack0-sack3, or @KIND,OFFSET,LENGTH)`, t);
      r.next();
      const nums: number[] = [];
      for (let i = 0; i < 2; i++) {
        r.expectPunct(',');
        nums.push(r.integer());
      }
      const [offset, len] = nums as [number, number];
      // MPTCP's subtype is the high nibble of its third byte: nft names that raw form too.
      if (Number(m![1]) === 30 && offset === 16 && len === 4) return { 'tcp option': { name: 'mptcp', field: 'subtype' } };
      const err = rawOptionError(Number(m![1]), offset, len);
      if (err) r.error(err, t);
      return namedOptionField(Number(m![1]), offset / 8, len / 8) ?? ({ 'tcp option': { base: Number(m![1]), offset, len } } as unknown as Selector);
    },
    printSel(sel) {
      const j = (sel as unknown as { 'tcp option': RawOptJ })['tcp option'];
      return `tcp option @${j.base},${j.offset},${j.len}`;
    },
    checkSel(sel) {
      const j = (sel as unknown as { 'tcp option': Record<string, unknown> })['tcp option'];
      for (const k of Object.keys(j)) if (k !== 'base' && k !== 'offset' && k !== 'len') return `unknown raw TCP option field '${k}' (base, offset, len)`;
      return rawOptionError(j.base, j.offset, j.len);
    },
    compileLoad(sel) {
      const j = (sel as unknown as { 'tcp option': RawOptJ })['tcp option'];
      const rel = j.offset / 8;
      const kind = j.base;
      return (ctx, out, off) => {
        const p = ctx.pkt;
        const at = optionAt(p, kind, rel + bytes);
        if (at < 0) return false;
        const b = p.buf;
        let v = 0;
        for (let i = 0; i < bytes; i++) v = v * 256 + b[at + rel + i]!;
        out[off] = v >>> 0;
        return true;
      };
    },
  };
}

export function registerTcpOptions(r: Registry): void {
  for (const o of OPTIONS) registerOption(r, o);
  for (const w of [8, 16, 24, 32]) r.registerMatch(rawOptionModule(w));
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
