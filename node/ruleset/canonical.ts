/**
 * nft's canonical form of a rule, and the handles nft spends on it. What nft 1.0.6 does
 * to a rule before it reaches the kernel, and so what `nft list ruleset` shows back:
 *
 * - an anonymous set of one plain element is a plain comparison (`tcp dport { 22 }` is
 *   `tcp dport 22`, `{ 10.0.0.0/8 }` a prefix, `{ 1-5 }` a range); a concatenation or a
 *   map keeps its set;
 * - `ADDR & MASK == VALUE` with a prefix mask is `ADDR VALUE/LEN` (a full mask: `ADDR VALUE`);
 * - the elements of anonymous sets and maps are sorted by key as nft sorts them;
 * - `icmp id|sequence` gets nft's `icmp type { echo-reply, echo-request }`, protocol
 *   dependencies a later match implies go (withDependencies), defaults nft drops go
 *   (`log level warn`, `limit ... burst 5 packets`).
 *
 * Each anonymous set or map that remains becomes a set of the table in the kernel and
 * takes a handle from the table's counter just before the rule takes its own
 * (anonymousSets). Applied when a rule is committed (transaction.ts), so text, JSON and
 * the listing agree, and both nodes of a cluster derive the same handles.
 *
 * Meaning never changes: only rewrites nft makes and that match the same packets. (nft
 * also turns a flag type's `{ syn }` into `syn`, which reads back as "any of these bits";
 * hafw does that only for `ct state`, where a packet has exactly one state bit.)
 */
import type { Scalar, Selector, SetItem, Stmt, Value } from './ast.js';
import type { DataType, EncodeEnv } from './data-types.js';
import { protoListed } from './data-types.js';
import { POS, markOf } from './errors.js';
import { InterfaceNames } from './interface-names.js';
import type { Registry } from './registry.js';
import { toInterval } from './values.js';

/** How many anonymous sets and maps (`{ ... }` in a rule) nft creates for the rule. */
export function anonymousSets(expr: readonly Stmt[]): number {
  let n = 0;
  for (let i = 0; i < expr.length; i++) n += countSets(expr[i]);
  return n;
}

function countSets(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) n += countSets(v[i]);
    return n;
  }
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    // `{set: [...]}` is an anonymous set (or a map's data); `{set: {op, elem, set}}` is a
    // statement. nft compares with a set's only plain element directly: no set, no handle.
    if (k === 'set' && Array.isArray(x) && !(x.length === 1 && isPlain(x[0]))) n++;
    n += countSets(x);
  }
  return n;
}

function isPlain(item: unknown): boolean {
  if (typeof item === 'number' || typeof item === 'string') return true;
  return item !== null && typeof item === 'object' && !Array.isArray(item) && ('prefix' in item || 'range' in item);
}

let scratchEnv: EncodeEnv | undefined;
const env = (): EncodeEnv => (scratchEnv ??= { ifnames: new InterfaceNames() });

function typesOf(reg: Registry, sel: Selector): DataType[] | undefined {
  if (sel === null || typeof sel !== 'object') return undefined;
  if ('concat' in sel) {
    const out: DataType[] = [];
    for (const s of sel.concat) {
      const t = typesOf(reg, s);
      if (!t) return undefined;
      out.push(...t);
    }
    return out;
  }
  if ('&' in sel) return typesOf(reg, sel['&'][0]);
  const m = reg.matchForLeft(sel);
  return m ? [m.type] : undefined;
}

/** A copy of `o` with `changes`, keeping o's source position (errors point at it). */
function withPos<T extends object>(o: T, changes: Partial<T>): T {
  const c = { ...o, ...changes } as T;
  const m = markOf(o);
  if (m !== undefined) (c as { [POS]?: number })[POS] = m;
  return c;
}

/** The rule's statements in nft's canonical form; the same array when nothing changes. */
export function canonicalExpr(expr: Stmt[], reg: Registry, family: string): Stmt[] {
  // Runs before the rule is checked, and a JSON rule may hold anything: a shape this cannot
  // read is left as written for validation to refuse with its place (found by npm run fuzz).
  if (!Array.isArray(expr) || !expr.every((s: unknown) => s !== null && typeof s === 'object')) return expr;
  try {
    return canonicalOf(expr, reg, family);
  } catch {
    return expr;
  }
}

function canonicalOf(expr: Stmt[], reg: Registry, family: string): Stmt[] {
  let out: Stmt[] | undefined;
  for (let i = 0; i < expr.length; i++) {
    const s = expr[i];
    let c: Stmt;
    try {
      c = canonicalStmt(s, reg);
    } catch {
      c = s; // an invalid rule: validation reports it as written
    }
    if (c !== s) (out ??= expr.slice())[i] = c;
  }
  return plainReject(withDependencies(withEchoType(out ?? expr), family), family);
}

/** The family's own port-unreachable is nft's plain `reject` (its JSON may spell it out). */
function plainReject(expr: Stmt[], family: string): Stmt[] {
  const own = family === 'inet' ? 'icmpx' : family === 'ip' ? 'icmp' : 'icmpv6';
  const i = expr.findIndex((s) => {
    const r = (s as { reject?: { type?: string; expr?: string } | null }).reject;
    return r != null && typeof r === 'object' && r.type === own && (r.expr === undefined || r.expr === 'port-unreachable');
  });
  if (i < 0) return expr;
  const out = expr.slice();
  out[i] = withPos(expr[i]!, { reject: null } as Partial<Stmt>);
  return out;
}

/**
 * `icmp id 1` matches echo requests and replies only: nft writes that dependency out and
 * lists it (`icmp type { echo-reply, echo-request } icmp id 1`), unless the rule already
 * matches the ICMP type. Same for ICMPv6.
 */
function withEchoType(expr: Stmt[]): Stmt[] {
  let out = expr;
  for (let i = 0; i < out.length; i++) {
    const proto = payloadProto(out[i]);
    if (proto !== 'icmp' && proto !== 'icmpv6') continue;
    const field = ((out[i] as { match: MatchBody }).match.left as { payload: { field: string } }).payload.field;
    if (field !== 'id' && field !== 'sequence') continue;
    const typed = out.slice(0, i).some((s) => payloadProto(s) === proto && ((s as { match: MatchBody }).match.left as { payload: { field: string } }).payload.field === 'type');
    if (typed) continue;
    const types = proto === 'icmp' ? ['echo-reply', 'echo-request'] : ['echo-request', 'echo-reply'];
    const dep: Stmt = { match: { op: '==', left: { payload: { protocol: proto, field: 'type' } }, right: { set: types } } };
    out = [...out.slice(0, i), dep, ...out.slice(i)];
    i++;
  }
  return out;
}

/** IP protocol numbers of the headers a payload match reads (what it depends on). */
const L4_PROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58, sctp: 132, udplite: 136, dccp: 33 };
const PROTO_NUMBER: Record<string, number> = { ...L4_PROTO, 'ipv6-icmp': 58 };

/** `{match: {op: '==', left: SEL, right: SCALAR}}` with the left's shape, or undefined. */
function eqMatch(s: Stmt): { left: Selector; right: unknown } | undefined {
  if (!('match' in s)) return undefined;
  const m = s.match as MatchBody;
  if (m.op !== '==' || m.right === null || typeof m.right === 'object') return undefined;
  return m;
}

function payloadProto(s: Stmt): string | undefined {
  if (!('match' in s)) return undefined;
  const left = (s.match as MatchBody).left;
  return left !== null && typeof left === 'object' && 'payload' in left ? left.payload.protocol : undefined;
}

/**
 * What nft does with protocol dependencies: a match that only states the protocol a later
 * match's header implies (`ip protocol tcp` before `tcp dport`, `meta l4proto tcp`,
 * `ip6 nexthdr udp` in an ip6 table, `meta nfproto ipv4` before `ip saddr` in an inet
 * table) is implied and not listed; `reject with tcp reset` in an inet table applies to
 * TCP only (`meta l4proto tcp`, listed). The packets matched are the same.
 */
function withDependencies(expr: Stmt[], family: string): Stmt[] {
  let out = expr;
  const drop = new Set<number>();
  for (let i = 0; i < expr.length; i++) {
    const m = eqMatch(expr[i]);
    if (m === undefined) continue;
    const l = m.left as Record<string, { protocol?: string; field?: string; key?: string }>;
    let l4: number | undefined;
    let l3: string | undefined;
    if (l.meta?.key === 'l4proto' || (family === 'ip' && l.payload?.protocol === 'ip' && l.payload.field === 'protocol') || (family === 'ip6' && l.payload?.protocol === 'ip6' && l.payload.field === 'nexthdr')) {
      l4 = typeof m.right === 'number' ? m.right : PROTO_NUMBER[String(m.right)];
    } else if (family === 'inet' && l.meta?.key === 'nfproto') {
      l3 = m.right === 'ipv4' ? 'ip' : m.right === 'ipv6' ? 'ip6' : undefined;
    }
    if (l4 === undefined && l3 === undefined) continue;
    for (let k = i + 1; k < expr.length; k++) {
      const proto = payloadProto(expr[k]);
      if (proto === undefined) continue;
      if ((l4 !== undefined && L4_PROTO[proto] === l4) || (l3 !== undefined && proto === l3)) {
        drop.add(i);
        break;
      }
    }
  }
  if (drop.size > 0) out = expr.filter((_, i) => !drop.has(i));
  if (family === 'inet') {
    const r = out.findIndex((s) => 'reject' in s && (s.reject as { type?: string } | null)?.type === 'tcp reset');
    if (r >= 0 && !out.slice(0, r).some((s) => payloadProto(s) === 'tcp' || isTcpProto(s))) {
      out = [...out.slice(0, r), { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } }, ...out.slice(r)];
    }
  }
  return out;
}

function isTcpProto(s: Stmt): boolean {
  const m = eqMatch(s);
  if (m === undefined) return false;
  const l = m.left as Record<string, { key?: string }>;
  return l.meta?.key === 'l4proto' && (m.right === 'tcp' || m.right === 6);
}

type MatchBody = { op: string; left: Selector; right: Value };

function canonicalStmt(s: Stmt, reg: Registry): Stmt {
  if (s === null || typeof s !== 'object') return s;
  if ('match' in s) {
    const m = s.match as MatchBody;
    const c = canonicalMatch(m, reg);
    return c === m ? s : withPos(s as { match: MatchBody }, { match: c });
  }
  // Defaults nft leaves out (and so does not list): log level warn, a limit's burst of 5 packets.
  const log = (s as { log?: { level?: string; flags?: unknown } | null }).log;
  if (log?.level === 'warn') {
    const { level: _level, ...rest } = log;
    return canonicalStmt(withPos(s, { log: rest } as Partial<Stmt>), reg);
  }
  // libnftables writes one log flag as a string (`"flags": "all"`).
  if (log && typeof log.flags === 'string') return canonicalStmt(withPos(s, { log: { ...log, flags: [log.flags] } } as Partial<Stmt>), reg);
  const limit = (s as { limit?: { burst?: number; rate_unit?: string } | string }).limit;
  if (limit !== null && typeof limit === 'object' && limit.burst === 5 && limit.rate_unit === undefined) {
    const { burst: _burst, ...rest } = limit;
    return withPos(s, { limit: rest } as Partial<Stmt>);
  }
  return sortMaps(s, reg) as Stmt;
}

/** libnftables writes a flag combination as `{"|": [a, b]}` (nested for more): the flag list [a, b]. */
function orList(v: unknown): Scalar[] | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || !('|' in v)) return undefined;
  const parts = (v as { '|': unknown[] })['|'];
  if (!Array.isArray(parts)) return undefined;
  const out: Scalar[] = [];
  for (const p of parts) {
    const inner = orList(p);
    if (inner) out.push(...inner);
    else out.push(p as Scalar);
  }
  return out;
}

function canonicalMatch(m: MatchBody, reg: Registry): MatchBody {
  let r = m;
  const rightOr = orList(r.right);
  if (rightOr) r = withPos(r, { right: rightOr });
  if (r.left !== null && typeof r.left === 'object' && '&' in r.left) {
    const maskOr = orList(r.left['&'][1]);
    if (maskOr) r = withPos(r, { left: { '&': [r.left['&'][0], maskOr] } });
  }
  const left = r.left;
  if (left !== null && typeof left === 'object' && '&' in left) {
    const prefix = maskAsPrefix(r, reg);
    if (prefix) r = withPos(r, prefix);
  }
  if ((typeof r.right === 'number' || typeof r.right === 'string') && protoLeft(reg, r.left)) {
    const named = protoListed(r.right);
    if (named !== r.right) r = withPos(r, { right: named });
  }
  const right = r.right;
  if (right !== null && typeof right === 'object' && !Array.isArray(right) && 'set' in right && Array.isArray(right.set)) {
    if (protoLeft(reg, r.left) && right.set.some((x) => protoListed(x as Scalar) !== x)) {
      return canonicalMatch(withPos(r, { right: withPos(right, { set: right.set.map((x) => (typeof x === 'number' || typeof x === 'string' ? protoListed(x) : x)) }) }), reg);
    }
    const types = typesOf(reg, r.left);
    if (!types) return r;
    const items = right.set;
    if (items.length === 1 && (r.op === '==' || r.op === '!=')) {
      const only = plainElement(items[0], types);
      if (only !== undefined) {
        // A flag type's single value reads back as "any of these bits": the same only for ct state.
        if (!types[0]!.bitmask) return withPos(r, { right: only });
        if (isCtState(r.left) && r.op === '==') return withPos(r, { op: 'in', right: only });
        return r;
      }
    }
    const sorted = sortedItems(items, types, false);
    if (sorted !== items) r = withPos(r, { right: withPos(right, { set: sorted }) });
  }
  return r;
}

/** A selector of IP protocol numbers (`ip protocol`, `meta l4proto`, `ip6 nexthdr`). */
function protoLeft(reg: Registry, sel: Selector): boolean {
  const t = typesOf(reg, sel);
  return t !== undefined && t.length === 1 && t[0]!.name === 'inet_proto';
}

function isCtState(sel: Selector): boolean {
  return 'ct' in sel && sel.ct.key === 'state' && sel.ct.dir === undefined;
}

/** The element of a one-element set when nft compares with it directly: a value, prefix or range. */
function plainElement(item: SetItem, types: DataType[]): Value | undefined {
  if (types.length !== 1) return undefined;
  if (typeof item === 'number' || typeof item === 'string') return item;
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return undefined;
  if ('prefix' in item || 'range' in item) return item;
  return undefined;
}

/** `{left, right}` for `ADDR & PREFIXMASK ==|!= VALUE`, or undefined when nft keeps the mask. */
function maskAsPrefix(m: MatchBody, reg: Registry): Partial<MatchBody> | undefined {
  if (m.op !== '==' && m.op !== '!=') return undefined;
  const [inner, mask] = (m.left as { '&': [Selector, Value] })['&'];
  const types = typesOf(reg, inner);
  if (!types || types.length !== 1 || !types[0]!.prefix) return undefined;
  const t = types[0]!;
  if (typeof mask !== 'string' || typeof m.right !== 'string') return undefined;
  const mk = toInterval(mask, types, env());
  const vk = toInterval(m.right, types, env());
  if (typeof mk === 'string' || typeof vk === 'string') return undefined;
  let len = 0;
  let ended = false;
  for (let w = 0; w < t.words; w++) {
    const word = mk.lo[w]!;
    for (let b = 31; b >= 0; b--) {
      const bit = (word >>> b) & 1;
      if (bit === 1) {
        if (ended) return undefined; // not a prefix mask
        len++;
      } else ended = true;
    }
    if ((vk.lo[w]! & ~word) >>> 0 !== 0) return undefined; // value bits outside the mask
  }
  if (len === 0) return undefined;
  return { left: inner, right: len === t.bits ? m.right : { prefix: { addr: m.right, len } } };
}

/** Sorts the data of every anonymous map (`{map|vmap: {key, data: {set}}}`) below `v`. */
function sortMaps(v: unknown, reg: Registry): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const c = sortMaps(v[i], reg);
      if (c !== v[i]) (out ??= v.slice())[i] = c;
    }
    return out ?? v;
  }
  const o = v as Record<string, unknown>;
  let changes: Record<string, unknown> | undefined;
  for (const k in o) {
    const x = o[k];
    let c: unknown;
    if ((k === 'map' || k === 'vmap') && x !== null && typeof x === 'object' && 'key' in x && 'data' in x) {
      c = sortMapBody(x as { key: Selector; data: unknown }, reg);
    } else c = sortMaps(x, reg);
    if (c !== x) (changes ??= {})[k] = c;
  }
  return changes ? withPos(o, changes) : o;
}

function sortMapBody(b: { key: Selector; data: unknown }, reg: Registry): unknown {
  const d = b.data as { set?: unknown };
  if (d === null || typeof d !== 'object' || !Array.isArray(d.set)) return b;
  const types = typesOf(reg, b.key);
  if (!types) return b;
  const sorted = sortedItems(d.set as SetItem[], types, true);
  return sorted === d.set ? b : withPos(b, { data: withPos(d as object, { set: sorted }) });
}

/**
 * The items in nft's order: by key value (a range or prefix by its start). nft compares
 * a single value as a number, but a concatenation, and a string, as one little-endian
 * number of the key's bytes (the last byte first): `10.0.0.1 . 22` sorts before
 * `10.0.0.2 . 80` and `10.0.0.1 . 443`, `"b"` before `"ab"`.
 */
export function sortedItems(items: SetItem[], types: DataType[], isMap: boolean, isInterval?: boolean): SetItem[] {
  if (items.length < 2) return items;
  const keys: Uint8Array[] = [];
  for (const it of items) {
    const k = sortKey(it, types, isMap);
    if (k === undefined) return items;
    keys.push(k);
  }
  // An interval set holds its keys big-endian (nft converts them for the ranges).
  const interval = isInterval ?? items.some(isIntervalItem);
  const littleEndian = !interval && (types.length > 1 || types[0]!.name === 'ifname');
  const idx = items.map((_, i) => i);
  idx.sort((a, b) => compareKeys(keys[a]!, keys[b]!, littleEndian) || a - b);
  if (idx.every((v, i) => v === i)) return items;
  return idx.map((i) => items[i]!);
}

/** A range, a prefix or an interface-name wildcard: what makes nft's anonymous set an interval set. */
function isIntervalItem(item: SetItem): boolean {
  let v = (Array.isArray(item) && item.length === 2 ? item[0] : item) as Value;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'elem' in v) v = v.elem.val;
  if (typeof v === 'string') return v.endsWith('*') && !v.endsWith('\\*');
  return v !== null && typeof v === 'object' && !Array.isArray(v) && ('prefix' in v || 'range' in v);
}

function sortKey(item: SetItem, types: DataType[], isMap: boolean): Uint8Array | undefined {
  let v = (isMap && Array.isArray(item) ? item[0] : item) as Value;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'elem' in v) v = v.elem.val;
  if (Array.isArray(v)) return undefined; // a flag list in a set: leave the order as written
  if (types.length === 1 && types[0]!.name === 'ifname' && typeof v === 'string') {
    // IFNAMSIZ bytes, zero-padded; a wildcard (`"eth*"`) by its prefix.
    const key = new Uint8Array(16);
    Buffer.from(isIntervalItem(v) ? v.slice(0, -1) : v, 'utf8').copy(key);
    return key;
  }
  const k = toInterval(v, types, env());
  if (typeof k === 'string') return undefined;
  // The kernel's layout: each part in network order in its bytes, padded to 32 bits.
  const bytes: number[] = [];
  let w = 0;
  for (const t of types) {
    if (t.words === 1) {
      const n = Math.max(1, Math.ceil(t.bits / 8));
      const word = k.lo[w]!;
      for (let b = n - 1; b >= 0; b--) bytes.push((word >>> (8 * b)) & 0xff);
      for (let p = n; p % 4 !== 0; p++) bytes.push(0);
    } else {
      for (let i = 0; i < t.words; i++) {
        const word = k.lo[w + i]!;
        bytes.push(word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff);
      }
    }
    w += t.words;
  }
  return Uint8Array.from(bytes);
}

function compareKeys(a: Uint8Array, b: Uint8Array, littleEndian: boolean): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    // Big-endian: from the first byte, right-aligned; little-endian: from the last byte.
    const ia = littleEndian ? n - 1 - i : i - (n - a.length);
    const ib = littleEndian ? n - 1 - i : i - (n - b.length);
    const x = ia >= 0 && ia < a.length ? a[ia]! : 0;
    const y = ib >= 0 && ib < b.length ? b[ib]! : 0;
    if (x !== y) return x - y;
  }
  return 0;
}
