/**
 * The packet's connection as conntrack keeps it: `ct original|reply ip|ip6 saddr|daddr`,
 * `ct original|reply proto-src|proto-dst` (the tuples: after NAT the reply tuple is the
 * translated one, so `ct original ip daddr` is the address a client asked for and `ct reply
 * ip saddr` the server it reached) and `ct expiration` (the entry's remaining lifetime).
 * Read on demand through ctx.ctReader; no match for invalid or untracked packets.
 *
 * nft's `ct original saddr` (no `ip`/`ip6`) takes its address family from the table, as
 * nft does: in an `ip` table it is `ct original ip saddr`, in an `ip6` table `ct original ip6
 * saddr` (nft lists it so in text; its JSON keeps `"key": "saddr"`, which `familyCtTuples`
 * reads the same way). In an `inet` table the family is unknown and it is refused, as nft
 * refuses it.
 */
import { CT_STATE_IN_CONNECTION } from '../../ct-state/index.js';
import type { Scalar, Selector } from '../ast.js';
import type { ClassifyContext } from '../context.js';
import type { DataType } from '../data-types.js';
import { INET_SERVICE, parseInteger } from '../data-types.js';
import { parseDuration } from '../durations.js';
import { IPV4_ADDR } from '../l3-ipv4.js';
import { IPV6_ADDR } from '../l3-ipv6.js';
import type { Registry } from '../registry.js';

/** The entry, or -1 when the packet has no connection (invalid, untracked, no conntrack). */
function entryOf(ctx: ClassifyContext): number {
  if ((ctx.ctState & CT_STATE_IN_CONNECTION) === 0 || ctx.ctReader === null) return -1;
  return ctx.ctEntry;
}

const MAX_SECONDS = Math.floor(0xffffffff / 1000);

/**
 * nft's `time` as `ct expiration` compares it: JSON holds whole seconds (`30`), text a
 * duration (`30s`, `1m`, `2h`), listed in seconds as nft lists it (`60s-7200s`); the key is
 * milliseconds, as the kernel gives the remaining time.
 */
const CT_TIME: DataType = {
  name: 'time',
  help: 'a duration: 30s, 5m, 2h, 1d (whole seconds)',
  words: 1,
  bits: 32,
  ordered: true,
  fromText(word) {
    const s = parseDuration(word);
    if (s === undefined) throw `'${word}' is not a duration (e.g. 30s, 5m, 2h)`;
    if (!Number.isInteger(s)) throw `'${word}': ct expiration compares whole seconds`;
    if (s > MAX_SECONDS) throw `'${word}' is out of range for time (max ${MAX_SECONDS}s)`;
    return s;
  },
  encode(v: Scalar, out, off) {
    const n = typeof v === 'number' ? v : typeof v === 'string' ? (parseInteger(v) ?? parseDuration(v)) : undefined;
    if (n === undefined || !Number.isInteger(n) || n < 0 || n > MAX_SECONDS) return `'${v}' is not a duration in whole seconds (0-${MAX_SECONDS})`;
    out[off] = n * 1000;
    return null;
  },
  toText(v) {
    return typeof v === 'number' ? `${v}s` : String(v);
  },
};

const REFUSED_FAMILYLESS = (dir: string, f: string) =>
  `'ct ${dir} ${f}' takes the address family from the table, and an inet table has two: write 'ct ${dir} ip ${f}' or 'ct ${dir} ip6 ${f}' (nft: cannot determine ip protocol version)`;

/** The family-specific selector for a family-less `ct DIR saddr|daddr` in a table of `family`, or undefined (inet). */
function familySelector(family: string, dir: 'original' | 'reply', field: string): Selector | undefined {
  if (family !== 'ip' && family !== 'ip6') return undefined;
  return { ct: { key: `${family} ${field}`, dir } };
}

/**
 * Rewrites nft's family-less `{"ct": {"key": "saddr", "dir": "original"}}` anywhere in a JSON
 * rule's statements of an `ip` or `ip6` table into the table's family, as nft reads it (its
 * `nft -j` listing writes that form). Left as it is in an inet table, where it is refused.
 */
export function familyCtTuples(node: unknown, family: string): unknown {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) node[i] = familyCtTuples(node[i], family);
    return node;
  }
  if (node === null || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  const ct = o.ct as { key?: unknown; dir?: unknown } | undefined;
  if (ct !== null && typeof ct === 'object' && Object.keys(o).length === 1 && (ct.key === 'saddr' || ct.key === 'daddr') && (ct.dir === 'original' || ct.dir === 'reply') && Object.keys(ct).length === 2) {
    return familySelector(family, ct.dir, ct.key) ?? node;
  }
  for (const k of Object.keys(o)) o[k] = familyCtTuples(o[k], family);
  return node;
}

export function registerCtTuple(r: Registry): void {
  r.registerType(CT_TIME);
  for (const [dirName, dir] of [['original', 0], ['reply', 1]] as const) {
    for (const [field, end] of [['saddr', 0], ['daddr', 1]] as const) {
      for (const [l3name, type, fam] of [['ip', IPV4_ADDR, 4], ['ip6', IPV6_ADDR, 6]] as const) {
        const words = type.words;
        r.registerMatch({
          name: `ct ${dirName} ${l3name} ${field}`,
          keywords: ['ct', dirName, l3name, field],
          left: { ct: { key: `${l3name} ${field}`, dir: dirName } },
          type,
          families: fam === 4 ? ['ip', 'inet'] : ['ip6', 'inet'],
          l3: fam,
          help: `${field === 'saddr' ? 'source' : 'destination'} address of the connection's ${dirName} tuple (IPv${fam}); after NAT the reply tuple holds the translated addresses`,
          load(ctx, out, off) {
            const e = entryOf(ctx);
            if (e < 0 || ctx.ctReader!.entryFamily(e) !== fam) return false;
            ctx.ctReader!.tupleAddr(e, dir, end, out, off, words);
            return true;
          },
        });
      }
      r.registerMatch({
        name: `ct ${dirName} ${field}`,
        keywords: ['ct', dirName, field],
        left: { ct: { key: field, dir: dirName } },
        type: IPV4_ADDR,
        families: ['ip', 'ip6', 'inet'],
        help: `the ${dirName} tuple's ${field} in the table's family (ip or ip6 table; in an inet table write ct ${dirName} ip ${field} or ct ${dirName} ip6 ${field})`,
        refused: REFUSED_FAMILYLESS(dirName, field),
        parseParams(rd, first) {
          return familySelector(rd.tableFamily, dirName, field) ?? rd.error(REFUSED_FAMILYLESS(dirName, field), first);
        },
        load: () => false,
      });
    }
    for (const [field, end] of [['proto-src', 0], ['proto-dst', 1]] as const) {
      r.registerMatch({
        name: `ct ${dirName} ${field}`,
        keywords: ['ct', dirName, field],
        left: { ct: { key: field, dir: dirName } },
        type: INET_SERVICE,
        families: ['ip', 'ip6', 'inet'],
        help: `${field === 'proto-src' ? 'source' : 'destination'} port of the connection's ${dirName} tuple (ICMP: the echo id / type and code)`,
        load(ctx, out, off) {
          const e = entryOf(ctx);
          if (e < 0) return false;
          out[off] = ctx.ctReader!.tuplePort(e, dir, end);
          return true;
        },
      });
    }
  }
  r.registerMatch({
    name: 'ct expiration',
    keywords: ['ct', 'expiration'],
    left: { ct: { key: 'expiration' } },
    type: CT_TIME,
    families: ['ip', 'ip6', 'inet'],
    help: "the connection's remaining lifetime (its timeout, renewed by its packets): `ct expiration < 30s`",
    load(ctx, out, off) {
      const e = entryOf(ctx);
      if (e < 0) return false;
      const ms = ctx.ctReader!.remainingMs(e, ctx.nowMs);
      out[off] = ms <= 0 ? 0 : ms >= 0xffffffff ? 0xffffffff : Math.floor(ms);
      return true;
    },
  });
}
