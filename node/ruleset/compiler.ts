/**
 * Rules -> closures. Each statement module compiles its statement into a StmtFn once;
 * a rule is those functions run in order. The generic match compiles to the cheapest
 * comparison its value needs: one integer compare or range check for single-word keys,
 * a word-wise compare for IPv6 and concatenations, a hash/interval lookup for sets.
 * The key a match loads goes into one scratch array per key width, shared by all
 * matches (see scratchKey), never allocated per packet.
 */
import type { ObjKind } from './ast.js';
import type { ObjState } from './objects.js';
import type { Family, RuleJ, Selector, SetJ, Value, VerdictJ } from './ast.js';
import type { FlowtableState } from './flowtables.js';
import { Code, jumpCode } from './codes.js';
import type { ClassifyContext, LogSink } from './context.js';
import type { DataType, EncodeEnv } from './data-types.js';
import type { CompileEnv, CounterCell, Registry, StmtFn } from './registry.js';
import type { CompiledSet, SetElementSpec } from './set-structures.js';
import { buildSet } from './set-structures.js';
import { elementsOf, intervalInto, toInterval } from './values.js';
import type { CompiledRule } from './compiled-ruleset.js';
import { DYNAMIC_SET_DEFAULT_SIZE } from './set-attrs.js';

/** Indirection to a named set's current structure: set updates swap `cur` at commit. */
export class SetSlot {
  constructor(public cur: CompiledSet) {}
}

export interface RuleCompileContext {
  registry: Registry;
  encode: EncodeEnv;
  family: Family;
  log: LogSink;
  slot(name: string): SetSlot | undefined;
  chainId(name: string): number;
  /** A named object of the table (objects.ts). */
  object?(kind: ObjKind, name: string): ObjState | undefined;
  /** A named set's declaration (for statements that fill it from the packet path). */
  setJson?(name: string): SetJ | undefined;
  /** Most elements the packet path may leave in one set or meter (ruleset.maxElements). */
  maxDynamic?: number;
  /** The packet path found a set full (counted by the datapath). */
  setFull?: () => void;
  /** A flowtable of the table (flowtables.ts). */
  flowtable?(name: string): FlowtableState | undefined;
}

type Loader = (ctx: ClassifyContext, out: Uint32Array, off: number) => boolean;

function cmpWords(a: Uint32Array, b: Uint32Array, w: number): number {
  for (let i = 0; i < w; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

function fail(msg: string): never {
  throw new Error(msg);
}

/**
 * Compiles the rules of one table in one batch. The compile environment (and its
 * callbacks) is built once here and re-pointed per rule, not rebuilt for each of 10,000
 * rules: that allocation was a large share of a full load's garbage.
 */
export class RuleCompiler {
  private counters: CounterCell[] = NO_COUNTERS;
  private meters: Map<string, object> | undefined;
  private readonly env: CompileEnv;

  constructor(private readonly cc: RuleCompileContext) {
    // nft's size for a set the packet path fills (65535 unless declared), within the node's cap.
    const dynamicCap = (size: number | undefined): number => Math.min(size ?? DYNAMIC_SET_DEFAULT_SIZE, cc.maxDynamic ?? Number.POSITIVE_INFINITY);
    const env: CompileEnv = {
      family: cc.family,
      encode: cc.encode,
      registry: cc.registry,
      log: cc.log,
      ruleHandle: 0,
      set(name) {
        // Named sets are reached through their slot so element updates need no recompile.
        const slot = cc.slot(name);
        if (!slot) return undefined;
        return {
          get words() {
            return slot.cur.words;
          },
          get size() {
            return slot.cur.size;
          },
          lookup: (k, o, n) => slot.cur.lookup(k, o, n),
          dataOf: (i) => slot.cur.dataOf(i),
        };
      },
      chainIndex: (name) => cc.chainId(name),
      selector: (sel) => compileSelector(cc.registry, sel),
      match: (sel, op, value) => compileMatch(env, cc, sel, op, value),
      anonSet: (types, items) => anonSet(cc.encode, types, items),
      verdictCode: (v) => verdictCode(v, cc.chainId),
      object: (kind, name) => cc.object?.(kind, name),
      dynSet(name) {
        const slot = cc.slot(name);
        const json = cc.setJson?.(name);
        if (!slot || !json) return undefined;
        return { slot, json, cap: dynamicCap(json.size) };
      },
      dynamicCap: (size) => dynamicCap(size),
      setFull: cc.setFull ?? (() => undefined),
      flowtable: (name) => cc.flowtable?.(name),
      meter: (name, set) => {
        (this.meters ??= new Map()).set(name, set);
      },
      counter: (cell) => {
        // An exact one-element list for the usual single counter (push on [] would reserve 17 slots).
        if (this.counters === NO_COUNTERS) this.counters = [cell];
        else this.counters.push(cell);
      },
    };
    this.env = env;
  }

  compile(rule: RuleJ): CompiledRule {
    const env = this.env;
    env.ruleHandle = rule.handle ?? 0;
    this.counters = NO_COUNTERS;
    this.meters = undefined;
    const expr = rule.expr;
    const fns: StmtFn[] = new Array(expr.length);
    for (let i = 0; i < expr.length; i++) {
      const stmt = expr[i];
      const mod = this.cc.registry.statementForJson(stmt);
      if (!mod) fail(`unknown statement ${JSON.stringify(stmt)}`);
      fns[i] = mod.compile(stmt, env);
    }
    const out: CompiledRule = { handle: rule.handle ?? 0, run: chainFns(fns), counters: this.counters };
    if (this.meters) out.meters = this.meters;
    return out;
  }
}

/** Shared by every rule without a counter (never written: `counter` replaces it first). */
const NO_COUNTERS: CounterCell[] = [];

/**
 * Runs statement functions in order; specialised for short rules (most rules). Each
 * closure comes from its own small factory, so it holds exactly the functions it calls
 * (one context each, nothing else kept alive per rule).
 */
function chainFns(f: StmtFn[]): StmtFn {
  switch (f.length) {
    case 1:
      return f[0];
    case 2:
      return chain2(f[0], f[1]);
    case 3:
      return chain3(f[0], f[1], f[2]);
    case 4:
      return chain4(f[0], f[1], f[2], f[3]);
    default:
      return chainN(f);
  }
}

function chain2(a: StmtFn, b: StmtFn): StmtFn {
  return (ctx) => {
    const c = a(ctx);
    return c !== 0 ? c : b(ctx);
  };
}

function chain3(a: StmtFn, b: StmtFn, d: StmtFn): StmtFn {
  return (ctx) => {
    let c = a(ctx);
    if (c !== 0) return c;
    c = b(ctx);
    return c !== 0 ? c : d(ctx);
  };
}

function chain4(a: StmtFn, b: StmtFn, d: StmtFn, e: StmtFn): StmtFn {
  return (ctx) => {
    let c = a(ctx);
    if (c !== 0) return c;
    c = b(ctx);
    if (c !== 0) return c;
    c = d(ctx);
    return c !== 0 ? c : e(ctx);
  };
}

function chainN(f: StmtFn[]): StmtFn {
  return (ctx) => {
    for (let i = 0; i < f.length; i++) {
      const c = f[i](ctx);
      if (c !== 0) return c;
    }
    return 0;
  };
}

export function verdictCode(v: VerdictJ, chainId: (name: string) => number): number {
  if ('accept' in v) return Code.Accept;
  if ('drop' in v) return Code.Drop;
  if ('return' in v) return Code.Return;
  if ('continue' in v) return Code.Continue;
  if ('jump' in v) return jumpCode(chainId(v.jump.target), false);
  if ('goto' in v) return jumpCode(chainId(v.goto.target), true);
  return fail(`bad verdict ${JSON.stringify(v)}`);
}

type CompiledSelector = { words: number; types: DataType[]; load: Loader };

/** One compiled selector per match module: selectors are values, their loaders are shared. */
const selectorCache = new WeakMap<object, CompiledSelector>();

function compileSelector(reg: Registry, sel: Selector): CompiledSelector {
  if ('concat' in sel) {
    const parts = sel.concat.map((s) => compileSelector(reg, s));
    const loads = parts.map((p) => p.load);
    const offs = [] as number[];
    let w = 0;
    for (const p of parts) {
      offs.push(w);
      w += p.words;
    }
    const n = loads.length;
    return {
      words: w,
      types: parts.flatMap((p) => p.types),
      load: (ctx, out, off) => {
        for (let i = 0; i < n; i++) if (!loads[i](ctx, out, off + offs[i])) return false;
        return true;
      },
    };
  }
  const m = reg.matchForLeft(sel);
  if (!m) fail(`unknown selector ${JSON.stringify(sel)}`);
  // numgen/jhash/symhash: a loader of its own per expression (parameters, counter state).
  if (m.compileLoad) return { words: m.type.words, types: [m.type], load: m.compileLoad(sel, (s) => compileSelector(reg, s)) };
  let c = selectorCache.get(m);
  if (c === undefined) {
    c = { words: m.type.words, types: [m.type], load: m.load };
    selectorCache.set(m, c);
  }
  return c;
}

/**
 * Key scratch words by width, shared by every compiled match: classification runs one
 * statement at a time on one thread (a load is followed at once by its compare), so one
 * array per width serves all rules and a load allocates no array per match.
 */
const keyScratch: Uint32Array[] = [];
function scratchKey(words: number): Uint32Array {
  return (keyScratch[words] ??= new Uint32Array(words));
}

/** Interval words of single-word values: read at once into numbers, never kept. */
const ivLo = new Uint32Array(1);
const ivHi = new Uint32Array(1);

function anonSet(enc: EncodeEnv, types: DataType[], items: { val: Value; data: number }[]): CompiledSet {
  const specs: SetElementSpec[] = [];
  for (const it of items) {
    const iv = toInterval(it.val, types, enc);
    if (typeof iv === 'string') fail(iv);
    specs.push({ lo: iv.lo, hi: iv.hi, data: it.data, expires: 0 });
  }
  try {
    return buildSet(types.map((t) => t.words), specs, true);
  } catch (e) {
    return fail(String(e));
  }
}

function compileMatch(env: CompileEnv, cc: RuleCompileContext, selIn: Selector, op: string, right: Value): StmtFn {
  let sel = selIn;
  let maskVal: Value | undefined;
  if ('&' in sel) {
    maskVal = sel['&'][1];
    sel = sel['&'][0];
  }
  const s = compileSelector(cc.registry, sel);
  // A mask (`ip saddr & 0.0.0.255`, `ip6 daddr & ::ffff`) is applied to the loaded words,
  // as the kernel's bitwise expression does to its register: every comparison, range and
  // set lookup then works on the masked field.
  const load = maskVal === undefined ? s.load : maskedLoader(s.load, maskWords(maskVal, s.types, cc.encode));
  const key = scratchKey(s.words);
  const neg = op === '!=';

  // Sets: named (through the slot) or anonymous.
  let set: CompiledSet | undefined;
  if (typeof right === 'string' && right.startsWith('@')) {
    set = env.set(right.slice(1)) ?? fail(`set ${right} not found`);
  } else if (right !== null && typeof right === 'object' && !Array.isArray(right) && 'set' in right) {
    set = anonSet(cc.encode, s.types, elementsOf(right).map((val) => ({ val, data: 0 })));
  }
  if (set) return inSet(load, key, set, neg);

  const bitmask = s.types.length === 1 && s.types[0].bitmask === true;

  if (s.words === 1) {
    let lo: number;
    let hi: number;
    if (typeof right === 'number' || typeof right === 'string') {
      // One scalar (most matches): encode it directly ('@' strings were sets, above).
      const err = s.types[0].encode(right, ivLo, 0, cc.encode);
      if (err) fail(err);
      lo = hi = ivLo[0];
    } else {
      const err = intervalInto(right, s.types, cc.encode, ivLo, ivHi);
      if (err) fail(err);
      lo = ivLo[0];
      hi = ivHi[0];
    }
    // flag test: any of the bits set (`in`), none of them set (`!=`), kernel-style bitwise + cmp.
    // After an explicit mask the comparison is of the whole masked value.
    if (bitmask && maskVal === undefined && (op === 'in' || op === '!=')) return anyBits1(load, lo, neg);
    switch (op) {
      case '==':
      case 'in':
        return lo === hi ? eq1(load, lo) : inRange1(load, lo, hi);
      case '!=':
        return lo === hi ? ne1(load, lo) : outRange1(load, lo, hi);
      case '<':
        return lt1(load, lo);
      case '<=':
        return le1(load, hi);
      case '>':
        return gt1(load, hi);
      case '>=':
        return ge1(load, lo);
      default:
        return fail(`unknown operator ${op}`);
    }
  }
  const iv = toInterval(right, s.types, cc.encode);
  if (typeof iv === 'string') fail(iv);
  const w = s.words;
  switch (op) {
    case '==':
    case 'in':
    case '!=':
      // One exact 4-word value (an interface name, an IPv6 address): four compares of
      // captured numbers instead of two word-by-word comparisons.
      if (w === 4 && cmpWords(iv.lo, iv.hi, 4) === 0) return eq4(load, key, iv.lo, neg);
      return inWords(load, key, iv.lo, iv.hi, w, neg);
    case '<':
      return cmpBelow(load, key, iv.lo, w, 0);
    case '<=':
      return cmpBelow(load, key, iv.hi, w, 1);
    case '>':
      return cmpAbove(load, key, iv.hi, w, 0);
    case '>=':
      return cmpAbove(load, key, iv.lo, w, -1);
    default:
      return fail(`unknown operator ${op}`);
  }
}

// ---- compiled matches: one factory per shape, so each closure keeps only its own values ----

const MISS = Code.Break as number;
/** The one-word key scratch (see scratchKey). */
const K1 = scratchKey(1);

function inSet(load: Loader, key: Uint32Array, st: CompiledSet, neg: boolean): StmtFn {
  return (ctx) => {
    if (!load(ctx, key, 0)) return MISS;
    return (st.lookup(key, 0, ctx.nowMs) >= 0) !== neg ? 0 : MISS;
  };
}

/** A mask value's key words (one value: a list of flags is their OR). */
function maskWords(maskVal: Value, types: DataType[], enc: EncodeEnv): Uint32Array {
  const iv = toInterval(maskVal, types, enc);
  if (typeof iv === 'string') return fail(iv);
  if (cmpWords(iv.lo, iv.hi, iv.lo.length) !== 0) fail('a mask is one value, not a range or prefix');
  return iv.lo;
}

function maskedLoader(load: Loader, mask: Uint32Array): Loader {
  if (mask.length === 1) {
    const m = mask[0];
    return (ctx, out, off) => {
      if (!load(ctx, out, off)) return false;
      out[off] = (out[off] & m) >>> 0;
      return true;
    };
  }
  const w = mask.length;
  return (ctx, out, off) => {
    if (!load(ctx, out, off)) return false;
    for (let i = 0; i < w; i++) out[off + i] = (out[off + i] & mask[i]) >>> 0;
    return true;
  };
}

function anyBits1(load: Loader, bits: number, neg: boolean): StmtFn {
  return (ctx) => (load(ctx, K1, 0) && ((K1[0] & bits) !== 0) !== neg ? 0 : MISS);
}

function eq1(load: Loader, v: number): StmtFn {
  return (ctx) => (load(ctx, K1, 0) && K1[0] === v ? 0 : MISS);
}

function ne1(load: Loader, v: number): StmtFn {
  return (ctx) => (load(ctx, K1, 0) && K1[0] !== v ? 0 : MISS);
}

function inRange1(load: Loader, lo: number, hi: number): StmtFn {
  return (ctx) => (load(ctx, K1, 0) && K1[0] >= lo && K1[0] <= hi ? 0 : MISS);
}

function outRange1(load: Loader, lo: number, hi: number): StmtFn {
  return (ctx) => (load(ctx, K1, 0) && (K1[0] < lo || K1[0] > hi) ? 0 : MISS);
}

function lt1(load: Loader, v: number): StmtFn {
  return (ctx) => (load(ctx, K1, 0) && K1[0] < v ? 0 : MISS);
}

function le1(load: Loader, v: number): StmtFn {
  return (ctx) => (load(ctx, K1, 0) && K1[0] <= v ? 0 : MISS);
}

function gt1(load: Loader, v: number): StmtFn {
  return (ctx) => (load(ctx, K1, 0) && K1[0] > v ? 0 : MISS);
}

function ge1(load: Loader, v: number): StmtFn {
  return (ctx) => (load(ctx, K1, 0) && K1[0] >= v ? 0 : MISS);
}

/** lo <= key <= hi over `w` words (`neg`: outside). */
function eq4(load: Loader, key: Uint32Array, v: Uint32Array, neg: boolean): StmtFn {
  const a = v[0];
  const b = v[1];
  const c = v[2];
  const d = v[3];
  return (ctx) => {
    if (!load(ctx, key, 0)) return MISS;
    return (key[0] === a && key[1] === b && key[2] === c && key[3] === d) !== neg ? 0 : MISS;
  };
}

function inWords(load: Loader, key: Uint32Array, lo: Uint32Array, hi: Uint32Array, w: number, neg: boolean): StmtFn {
  return (ctx) => {
    if (!load(ctx, key, 0)) return MISS;
    const inside = cmpWords(key, lo, w) >= 0 && cmpWords(key, hi, w) <= 0;
    return inside !== neg ? 0 : MISS;
  };
}

/** key < bound (`eq` 0), or key <= bound (`eq` 1). */
function cmpBelow(load: Loader, key: Uint32Array, bound: Uint32Array, w: number, eq: number): StmtFn {
  return (ctx) => (load(ctx, key, 0) && cmpWords(key, bound, w) < eq ? 0 : MISS);
}

/** key > bound (`eq` 0), or key >= bound (`eq` -1). */
function cmpAbove(load: Loader, key: Uint32Array, bound: Uint32Array, w: number, eq: number): StmtFn {
  return (ctx) => (load(ctx, key, 0) && cmpWords(key, bound, w) > eq ? 0 : MISS);
}
