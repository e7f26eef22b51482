/**
 * Number generators and hashes, nft's load-balancing selectors: `numgen inc|random mod N
 * [offset K]`, `jhash EXPR mod N [seed S] [offset K]`, `symhash mod N [offset K]`. Each is a
 * 32-bit integer in OFFSET..OFFSET+N-1, usable wherever a selector is: a match (`numgen
 * random mod 10 < 3`), a map or vmap key (`dnat to numgen inc mod 2 map { 0 : A, 1 : B }`),
 * a value to set (`meta mark set jhash ip saddr mod 4`).
 *
 * Unlike other selectors they carry parameters, so the parser asks the module to read
 * them (parseParams), and each expression is compiled to its own loader (compileLoad):
 * `numgen inc` keeps its counter there, per expression, as the kernel keeps one per
 * expression. The counter lives in the engine that classifies (the datapath's copy): it is
 * not replicated, and starts again at 0 when the rule is compiled anew or on a takeover.
 *
 * JSON as libnftables: `{"numgen": {"mode": "inc", "mod": 2, "offset": 0}}`, `{"jhash":
 * {"mod": 2, "seed": 1, "offset": 1, "expr": SELECTOR}}` (seed and offset left out when 0),
 * `{"symhash": {"mod": 2}}` (offset left out when 0).
 */
import type { Selector } from '../ast.js';
import type { DataType } from '../data-types.js';
import { integerType, parseInteger } from '../data-types.js';
import type { MatchModule, Registry, TextReader } from '../registry.js';
import { jhashBytes, scale } from '../jhash.js';

/** nft's type for these: a plain 32-bit integer. */
const HASH_INTEGER: DataType = integerType('integer', 32, '32-bit integer (the value of numgen, jhash, symhash)');

type NumgenJ = { mode: 'inc' | 'random'; mod: number; offset?: number };
type JhashJ = { mod: number; seed?: number; offset?: number; expr: Selector };
type SymhashJ = { mod: number; offset?: number };

const U32 = 0xffffffff;

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= U32;
}

/**
 * The kernel's checks (nft_ng_init, nft_jhash_init): a modulus of 1..2^32-1, and the
 * largest result, offset + mod - 1, must not pass 2^32-1.
 */
function checkModOffset(what: string, mod: unknown, offset: unknown): string | null {
  if (!isU32(mod) || mod === 0) return `${what} mod must be 1..4294967295, got ${JSON.stringify(mod)}`;
  if (offset !== undefined && !isU32(offset)) return `${what} offset must be 0..4294967295, got ${JSON.stringify(offset)}`;
  if ((offset ?? 0) + mod - 1 > U32) return `${what} offset ${offset} + mod ${mod} passes 2^32 (the largest value would be ${(offset ?? 0) + mod - 1})`;
  return null;
}

/** `WORD NUMBER`: the number after a parameter word, positioned errors. */
function num(r: TextReader, word: string, what: string): number {
  const t = r.peek();
  if (r.atRuleEnd()) r.error(`expected a number after ${what} ${word}`, t);
  const v = parseInteger(t.text);
  if (v === undefined || v > U32) r.error(`${what} ${word} must be a number 0..4294967295, got '${t.text}'`, t);
  r.next();
  return v;
}

/** `mod N` (N >= 1). */
function modOf(r: TextReader, what: string): number {
  if (!r.isWord('mod')) r.error(`expected 'mod N' after ${what} (e.g. ${what} mod 2), got '${r.peek().text}'`, r.peek());
  r.next();
  const at = r.peek();
  const mod = num(r, 'mod', what);
  if (mod === 0) r.error(`${what} mod must be at least 1`, at);
  return mod;
}

function offsetOf(r: TextReader, what: string, mod: number): number | undefined {
  if (!r.acceptWord('offset')) return undefined;
  const at = r.peek();
  const offset = num(r, 'offset', what);
  const err = checkModOffset(what, mod, offset);
  if (err) r.error(err, at);
  return offset;
}

function nestedParams(sel: Selector): boolean {
  if ('concat' in sel) return sel.concat.some(nestedParams);
  if ('&' in sel) return nestedParams(sel['&'][0]);
  return 'numgen' in sel || 'jhash' in sel || 'symhash' in sel;
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** Writes a value as OFFSET + v. */
function result(out: Uint32Array, off: number, v: number, offset: number): true {
  out[off] = (v + offset) >>> 0;
  return true;
}

const numgenMatch: MatchModule = {
  name: 'numgen',
  keywords: ['numgen'],
  left: { numgen: { mode: 'inc', mod: 1, offset: 0 } },
  type: HASH_INTEGER,
  families: ['ip', 'ip6', 'inet'],
  help: 'a number per packet: `numgen inc mod N [offset K]` counts OFFSET, OFFSET+1, ... OFFSET+N-1 and round again (one counter per expression, on the node that classifies; not replicated), `numgen random mod N [offset K]` picks one at random',
  load() {
    return false; // never used: compileLoad gives each expression its own loader
  },
  parseParams(r) {
    const m = r.peek();
    if (!r.isWord('inc') && !r.isWord('random')) r.error(`expected 'inc' or 'random' after numgen, got '${m.text}'`, m);
    const mode = r.next().text as 'inc' | 'random';
    const mod = modOf(r, 'numgen');
    // nft always lists numgen's offset in JSON, 0 included.
    const offset = offsetOf(r, 'numgen', mod) ?? 0;
    return { numgen: { mode, mod, offset } };
  },
  printSel(sel) {
    const j = (sel as { numgen: NumgenJ }).numgen;
    return `numgen ${j.mode} mod ${j.mod}${j.offset ? ` offset ${j.offset}` : ''}`;
  },
  checkSel(sel) {
    const j = (sel as { numgen: NumgenJ }).numgen;
    if (j === null || typeof j !== 'object' || Array.isArray(j)) return 'numgen must be {mode, mod[, offset]}';
    for (const k of Object.keys(j)) if (!['mode', 'mod', 'offset'].includes(k)) return `unknown numgen field '${k}'`;
    if (j.mode !== 'inc' && j.mode !== 'random') return `numgen mode must be 'inc' or 'random', got ${JSON.stringify(j.mode)}`;
    return checkModOffset('numgen', j.mod, j.offset);
  },
  compileLoad(sel) {
    const j = (sel as { numgen: NumgenJ }).numgen;
    const mod = j.mod;
    const offset = j.offset ?? 0;
    if (j.mode === 'random') {
      // The kernel scales a random u32 onto 0..mod-1; Math.random's 53 bits do the same job.
      return (_ctx, out, off) => result(out, off, Math.floor(Math.random() * mod), offset);
    }
    // nft_ng_inc: the first packet gets 0, then 1, ... mod-1, 0, ...
    let next = 0;
    return (_ctx, out, off) => {
      const v = next;
      next = v + 1 < mod ? v + 1 : 0;
      return result(out, off, v, offset);
    };
  },
};

/**
 * Key bytes as the kernel's registers hold them: each field in network order, and in a
 * concatenation each field padded to 4 bytes (nft puts every part in its own register).
 */
function byteLayout(types: DataType[], concat: boolean): { words: number; bytes: number[]; len: number } {
  const bytes: number[] = [];
  let len = 0;
  for (const t of types) {
    const n = t.words > 1 ? t.words * 4 : Math.ceil(t.bits / 8);
    bytes.push(n);
    len += concat ? Math.ceil(n / 4) * 4 : n;
  }
  return { words: types.reduce((s, t) => s + t.words, 0), bytes, len };
}

const jhashMatch: MatchModule = {
  name: 'jhash',
  keywords: ['jhash'],
  left: { jhash: { mod: 1, expr: { meta: { key: 'mark' } } } },
  type: HASH_INTEGER,
  families: ['ip', 'ip6', 'inet'],
  help: "Jenkins hash of fields: `jhash EXPR mod N [seed S] [offset K]` gives OFFSET..OFFSET+N-1, the same for every packet with the same EXPR (e.g. jhash ip saddr . tcp dport mod 2); the kernel's jhash over EXPR's bytes",
  load() {
    return false;
  },
  parseParams(r) {
    const at = r.peek();
    const found = r.trySelectorExpr();
    if (!found) return r.error(`expected the fields to hash after jhash (e.g. jhash ip saddr mod 2), got '${at.text}'`, at);
    const expr = found;
    if (nestedParams(expr)) r.error('jhash hashes packet fields, not numgen, jhash or symhash', at);
    const mod = modOf(r, 'jhash');
    let seed: number | undefined;
    if (r.acceptWord('seed')) seed = num(r, 'seed', 'jhash');
    const offset = offsetOf(r, 'jhash', mod);
    // libnftables' key order; a seed when written (nft lists `seed 0x0` too: without one
    // the kernel picks a random seed), an offset only when not 0, as nft -j lists them.
    const j: JhashJ = { mod } as JhashJ;
    if (seed !== undefined) j.seed = seed;
    if (offset) j.offset = offset;
    j.expr = expr;
    return { jhash: j };
  },
  printSel(sel, p) {
    const j = (sel as { jhash: JhashJ }).jhash;
    return `jhash ${p.selector(j.expr)} mod ${j.mod}${j.seed !== undefined ? ` seed ${hex(j.seed)}` : ''}${j.offset ? ` offset ${j.offset}` : ''}`;
  },
  checkSel(sel, typesOf) {
    const j = (sel as { jhash: JhashJ }).jhash;
    if (j === null || typeof j !== 'object' || Array.isArray(j)) return 'jhash must be {mod, expr[, seed, offset]}';
    for (const k of Object.keys(j)) if (!['mod', 'seed', 'offset', 'expr'].includes(k)) return `unknown jhash field '${k}'`;
    if (j.seed !== undefined && !isU32(j.seed)) return `jhash seed must be 0..4294967295, got ${JSON.stringify(j.seed)}`;
    const err = checkModOffset('jhash', j.mod, j.offset);
    if (err) return err;
    if (j.expr === null || typeof j.expr !== 'object' || Array.isArray(j.expr)) return 'jhash needs the fields to hash (expr)';
    if (nestedParams(j.expr)) return 'jhash hashes packet fields, not numgen, jhash or symhash';
    if ('&' in j.expr) return 'jhash hashes whole fields, not a masked one';
    const t = typesOf(j.expr);
    return typeof t === 'string' ? t : null;
  },
  compileLoad(sel, selector) {
    const j = (sel as { jhash: JhashJ }).jhash;
    const s = selector(j.expr);
    const lay = byteLayout(s.types, 'concat' in j.expr);
    const words = new Uint32Array(lay.words);
    const buf = new Uint8Array(lay.len + 4);
    const load = s.load;
    const mod = j.mod;
    const seed = j.seed ?? 0;
    const offset = j.offset ?? 0;
    const parts = s.types.map((t, i) => ({ words: t.words, bytes: lay.bytes[i]! }));
    const concat = 'concat' in j.expr;
    return (ctx, out, off) => {
      // A packet without the field (an IPv6 packet for `ip saddr`) gets no value, as a match would.
      if (!load(ctx, words, 0)) return false;
      buf.fill(0);
      let w = 0;
      let b = 0;
      for (const p of parts) {
        if (p.words > 1) {
          for (let i = 0; i < p.words; i++) {
            const v = words[w + i]!;
            buf[b + 4 * i] = v >>> 24;
            buf[b + 4 * i + 1] = v >>> 16;
            buf[b + 4 * i + 2] = v >>> 8;
            buf[b + 4 * i + 3] = v;
          }
        } else {
          const v = words[w]!;
          for (let i = 0; i < p.bytes; i++) buf[b + i] = v >>> (8 * (p.bytes - 1 - i));
        }
        w += p.words;
        b += concat ? Math.ceil(p.bytes / 4) * 4 : p.bytes;
      }
      return result(out, off, scale(jhashBytes(buf, lay.len, seed), mod), offset);
    };
  },
};

/** One direction-independent key per flow: the smaller (address, port) end first. */
const symKey = new Uint8Array(40);

const symhashMatch: MatchModule = {
  name: 'symhash',
  keywords: ['symhash'],
  left: { symhash: { mod: 1 } },
  type: HASH_INTEGER,
  families: ['ip', 'ip6', 'inet'],
  help: 'a hash of the flow that is the same in both directions: `symhash mod N [offset K]` (addresses, protocol, ports); not the kernel\'s value, which uses a per-boot random key',
  load() {
    return false;
  },
  parseParams(r) {
    const mod = modOf(r, 'symhash');
    const offset = offsetOf(r, 'symhash', mod);
    return { symhash: offset ? { mod, offset } : { mod } };
  },
  printSel(sel) {
    const j = (sel as { symhash: SymhashJ }).symhash;
    return `symhash mod ${j.mod}${j.offset ? ` offset ${j.offset}` : ''}`;
  },
  checkSel(sel) {
    const j = (sel as { symhash: SymhashJ }).symhash;
    if (j === null || typeof j !== 'object' || Array.isArray(j)) return 'symhash must be {mod[, offset]}';
    for (const k of Object.keys(j)) if (!['mod', 'offset'].includes(k)) return `unknown symhash field '${k}'`;
    return checkModOffset('symhash', j.mod, j.offset);
  },
  compileLoad(sel) {
    const j = (sel as { symhash: SymhashJ }).symhash;
    const mod = j.mod;
    const offset = j.offset ?? 0;
    return (ctx, out, off) => {
      const p = ctx.pkt;
      if (p.family !== 4 && p.family !== 6) return false;
      const n = p.addrLen;
      const ports = p.l4proto === 6 || p.l4proto === 17 || p.l4proto === 132 || p.l4proto === 33;
      const sp = ports ? p.sport : 0;
      const dp = ports ? p.dport : 0;
      // Order the two ends so both directions of the flow give the same bytes.
      let cmp = 0;
      for (let i = 0; i < n && cmp === 0; i++) cmp = p.buf[p.srcOff + i]! - p.buf[p.dstOff + i]!;
      if (cmp === 0) cmp = sp - dp;
      const fwd = cmp <= 0;
      const aOff = fwd ? p.srcOff : p.dstOff;
      const bOff = fwd ? p.dstOff : p.srcOff;
      const ap = fwd ? sp : dp;
      const bp = fwd ? dp : sp;
      symKey.set(p.buf.subarray(aOff, aOff + n), 0);
      symKey.set(p.buf.subarray(bOff, bOff + n), n);
      symKey[2 * n] = ap >>> 8;
      symKey[2 * n + 1] = ap;
      symKey[2 * n + 2] = bp >>> 8;
      symKey[2 * n + 3] = bp;
      symKey[2 * n + 4] = p.l4proto;
      return result(out, off, scale(jhashBytes(symKey, 2 * n + 5, 0), mod), offset);
    };
  },
};

export function registerHashGen(r: Registry): void {
  for (const m of [numgenMatch, jhashMatch, symhashMatch]) r.registerMatch(m);
}
