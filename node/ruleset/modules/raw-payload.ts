/**
 * Raw payload expressions: `@nh,OFFSET,LENGTH` (from the network header: the IPv4 or IPv6
 * header), `@th,OFFSET,LENGTH` (from the transport header) and `@ih,OFFSET,LENGTH` (from the
 * transport payload: after the TCP header with its options, or after the UDP header), OFFSET
 * and LENGTH in bits, compared as an unsigned integer (`@th,64,32 0x1`, `@ih,0,32
 * 0x47455420`, masks, ranges and sets as for any integer).
 *
 * As the kernel's payload expression: a packet too short for the bytes has no value (the
 * rule does not match); `@th` and `@ih` have none for a non-first fragment, and `@ih` none
 * for protocols other than TCP and UDP (the kernel's inner offset, Linux 6.2+). `@ll` (the
 * link layer) is refused: the TUN datapath sees no link-layer header (not-supported.ts).
 *
 * hafw takes loads of whole bytes (OFFSET a multiple of 8; LENGTH 8, 16, 24 or 32). nft
 * itself widens a load of part of a byte to the byte and a mask (`@th,0,1 1` is listed
 * `@th,0,8 & 0x80 == 0x80`): hafw refuses the narrow form and says to write the wide one.
 * nft lists `@th,0,16` and `@th,16,16` as `th sport` / `th dport` (the same bytes), so they
 * are read as those here and listed so. Values are listed in hex, as nft lists them.
 *
 * JSON as libnftables: `{"payload": {"base": "nh", "offset": 96, "len": 32}}`.
 */
import type { Selector } from '../ast.js';
import { integerType } from '../data-types.js';
import type { DataType } from '../data-types.js';
import type { MatchModule, Registry } from '../registry.js';
import type { PacketInfo } from '../../packet/packet-info.js';

type Base = 'nh' | 'th' | 'ih';

interface RawJ {
  base: Base;
  offset: number;
  len: number;
}

const WIDTHS = [8, 16, 24, 32] as const;

/** An integer type of `bits` listed in hex without padding (`0x6`, `0xc0000201`), as nft lists raw values. */
function rawType(bits: number): DataType {
  const t = integerType(`raw_${bits}`, bits, `${bits}-bit raw payload value`);
  return { ...t, toText: (v) => (typeof v === 'number' ? `0x${v.toString(16)}` : String(v)) };
}

/** Why a raw payload's offset and length cannot load, or null. */
export function rawShapeError(base: string, offset: unknown, len: unknown): string | null {
  const at = `'@${base},${String(offset)},${String(len)}'`;
  if (!Number.isInteger(offset) || (offset as number) < 0 || (offset as number) > 0xffff * 8) return `${at}: the offset must be a number of bits, 0 to ${0xffff * 8}`;
  if (!Number.isInteger(len) || (len as number) < 1) return `${at}: the length must be a number of bits, 1 or more`;
  const o = offset as number;
  const l = len as number;
  if (o % 8 !== 0 || l % 8 !== 0) {
    const first = Math.floor(o / 8) * 8;
    const bytes = Math.ceil((o + l) / 8) - first / 8;
    return `${at}: hafw takes raw payloads of whole bytes (the offset a multiple of 8, the length 8, 16, 24 or 32). nft itself loads the bytes around part of a byte and masks them: write @${base},${first},${bytes * 8} & MASK == VALUE (what nft lists for it)`;
  }
  if (l > 32) return `${at}: hafw takes raw payloads of at most 32 bits; match a named field for wider ones (ip6 saddr, ...), or split it into 32-bit parts`;
  return null;
}

/** Where the base starts in the packet, or -1 when the packet has none (kernel: NFT_BREAK). */
function baseOffset(p: PacketInfo, base: Base): number {
  if (base === 'nh') return p.l3Off;
  if (p.l4Off === 0 || p.fragOffset !== 0) return -1;
  if (base === 'th') return p.l4Off;
  const b = p.buf;
  if (p.l4proto === 6) {
    if (p.l4Off + 20 > p.end) return -1;
    return p.l4Off + (b[p.l4Off + 12]! >> 4) * 4;
  }
  if (p.l4proto === 17) return p.l4Off + 8;
  return -1;
}

function rawModule(base: Base, width: number): MatchModule {
  const type = rawType(width);
  const bytes = width / 8;
  return {
    name: `@${base},OFFSET,${width}`,
    keywords: [`@${base}`],
    left: { payload: { base, offset: 0, len: width } } as unknown as Selector,
    type,
    families: ['ip', 'ip6', 'inet'],
    help: `raw payload: \`@${base},OFFSET,LENGTH\` (bits; whole bytes, at most 32 bits) from the ${base === 'nh' ? 'network header' : base === 'th' ? 'transport header' : 'transport payload (after the TCP or UDP header)'}, as an integer`,
    load() {
      return false; // compileLoad gives each expression its offset
    },
    parseParams(r, first) {
      const nums: number[] = [];
      for (let i = 0; i < 2; i++) {
        r.expectPunct(',');
        const t = r.peek();
        const n = r.integer();
        if (!Number.isInteger(n)) r.error(`expected a number of bits after '@${base},'`, t);
        nums.push(n);
      }
      const [offset, len] = nums as [number, number];
      const err = rawShapeError(base, offset, len);
      if (err) r.error(err, first);
      // nft lists these two as the named ports (the same bytes of the transport header).
      if (base === 'th' && len === 16 && (offset === 0 || offset === 16)) return { payload: { protocol: 'th', field: offset === 0 ? 'sport' : 'dport' } };
      return { payload: { base, offset, len } } as unknown as Selector;
    },
    printSel(sel) {
      const j = (sel as unknown as { payload: RawJ }).payload;
      return `@${j.base},${j.offset},${j.len}`;
    },
    checkSel(sel) {
      const j = (sel as unknown as { payload: Record<string, unknown> }).payload;
      for (const k of Object.keys(j)) if (k !== 'base' && k !== 'offset' && k !== 'len') return `unknown raw payload field '${k}' (base, offset, len)`;
      return rawShapeError(String(j.base), j.offset, j.len);
    },
    compileLoad(sel) {
      const j = (sel as unknown as { payload: RawJ }).payload;
      const rel = j.offset / 8;
      return (ctx, out, off) => {
        const p = ctx.pkt;
        const start = baseOffset(p, base);
        if (start < 0) return false;
        const q = start + rel;
        if (q + bytes > p.end) return false;
        const b = p.buf;
        let v = 0;
        for (let i = 0; i < bytes; i++) v = v * 256 + b[q + i]!;
        out[off] = v >>> 0;
        return true;
      };
    },
  };
}

export function registerRawPayload(r: Registry): void {
  for (const base of ['nh', 'th', 'ih'] as const) for (const w of WIDTHS) r.registerMatch(rawModule(base, w));
}
