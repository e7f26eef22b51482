/**
 * Sets filled from the packet path (nft's dynset): `add @s { ip saddr }`, `update @s { ip
 * saddr timeout 1m }`, with per-element statements (`update @s { ip saddr limit rate over
 * 10/second } drop`, `add @s { ip saddr counter }`, `add @s { ip saddr ct count over 20 }`),
 * and the older `meter NAME [size N] { KEY [timeout T] STATEMENT }`.
 *
 * As the kernel's nft_dynset: the packet's key is added when absent (with the statement's
 * timeout, else the set's); `update` also restarts a held element's timeout. Then the
 * element's own statements run (the ones it was created with): a limit over its rate, a
 * `ct count` past its number, stop the rule. When the set already holds its size (default
 * 65535) a new key is not added and the rule does not match: "set full".
 *
 * The elements live in the structure of the engine that classifies (set-structures.ts
 * addDynamic): on a node, the datapath thread's copy, which the listings read. A meter is
 * a private set of its rule: it lives as long as the rule does, and, as in `nft list
 * ruleset` (1.0.6), its elements are not listed. A meter with a timeout restarts it on
 * each packet (nft makes it dynset op update), without one it only adds.
 *
 * `delete @s { KEY }` removes the packet's key from the set (the kernel's NFT_DYNSET_OP_DELETE):
 * an absent key is no error and the rule goes on either way. A timeout or statements
 * written in its braces load (nft takes them) and do nothing, as in the kernel.
 *
 * JSON (libnftables): `{"set": {"op": "add"|"update"|"delete", "elem": KEY, "set": "@s", "stmt": [...]}}`
 * with KEY a selector or `{"elem": {"val": SELECTOR, "timeout": S}}`, and
 * `{"meter": {"key": KEY, "stmt": STMT, "size": N, "name": "m"}}`.
 */
import type { Selector, SetJ, Stmt } from '../ast.js';
import { Code } from '../codes.js';
import type { ClassifyContext } from '../context.js';
import { Tok } from '../lexer.js';
import { formatDuration, parseDuration } from '../durations.js';
import type { PrintHelper, Registry, StatementModule, StmtFn, TextReader, ValidateEnv } from '../registry.js';
import { HashKeySet } from '../set-structures.js';
import type { ElemExprs } from '../set-structures.js';
import { ELEM_STMT_KEYS, checkElemStmts, elemExprsFactory } from '../elem-exprs.js';
import { dynamicKeyRefusal } from '../key-decode.js';
import { DYNAMIC_SET_DEFAULT_SIZE, isSetSize, SET_SIZE_RANGE } from '../set-attrs.js';


type KeyJ = Selector | { elem: { val: Selector; timeout?: number } };

interface DynsetJ {
  op: 'add' | 'update' | 'delete';
  elem: KeyJ;
  set: string;
  stmt?: Stmt[];
}

interface MeterJ {
  key: KeyJ;
  stmt: Stmt;
  size?: number;
  name: string;
}

function keyParts(k: KeyJ): { sel: Selector; timeout?: number } {
  if (k !== null && typeof k === 'object' && 'elem' in k && k.elem !== null && typeof k.elem === 'object' && 'val' in k.elem) {
    return { sel: k.elem.val, timeout: k.elem.timeout };
  }
  return { sel: k as Selector };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `{ KEY [timeout T] [STATEMENT ...] }`: the braces of a dynset or a meter. */
function parseBody(r: TextReader, word: string): { key: KeyJ; stmts: Stmt[] } {
  r.expectPunct('{');
  const at = r.peek();
  const sel = r.trySelectorExpr();
  if (!sel) r.error(`expected the key after '${word} ... {' (a selector such as ip saddr, or a concatenation ip saddr . tcp dport)`, at);
  let key: KeyJ = sel;
  if (r.acceptWord('timeout')) {
    const d = r.next();
    const s = parseDuration(d.text);
    if (s === undefined) r.error(`'${d.text}' is not a time (e.g. 30s, 1h30m)`, d);
    key = { elem: { val: sel, timeout: s } };
  }
  const stmts: Stmt[] = [];
  while (!r.acceptPunct('}')) {
    const t = r.peek();
    if (t.text === ':') r.error(`a map's KEY : DATA from the packet path ('${word} @map { KEY : DATA }') is not supported yet: use a set (${word} @s { KEY }) and a map declared with its elements`, t);
    if (t.kind === Tok.Eof) r.error(`'}' expected to close '${word} ... {'`, t);
    const s = r.statement();
    const k = Object.keys(s)[0];
    if (!ELEM_STMT_KEYS.includes(k)) r.error(`'${t.text}' cannot be kept per element: only ${ELEM_STMT_KEYS.join(', ')} can`, t);
    // nft lists an element's counter template bare (`counter`), its JSON as null.
    const c = (s as { counter?: unknown }).counter;
    stmts.push(k === 'counter' && isObj(c) && c.packets === 0 && c.bytes === 0 ? { counter: null } : s);
  }
  return { key, stmts };
}

function printBody(key: KeyJ, stmts: readonly Stmt[], p: PrintHelper): string {
  const { sel, timeout } = keyParts(key);
  let s = `{ ${p.selector(sel)}`;
  if (timeout !== undefined) s += ` timeout ${formatDuration(timeout)}`;
  for (const st of stmts) s += ` ${stmtText(st, p)}`;
  return `${s} }`;
}

/** The template's text: a counter template is the bare word, as nft lists it. */
function stmtText(st: Stmt, p: PrintHelper): string {
  const c = (st as { counter?: unknown }).counter;
  if ('counter' in st && (c === null || (isObj(c) && c.packets === 0 && c.bytes === 0))) return 'counter';
  return p.statement(st);
}

function checkKey(k: unknown): string | null {
  if (!isObj(k)) return 'the key must be a selector or {"elem": {"val": SELECTOR, "timeout": S}}';
  if ('elem' in k) {
    const e = k.elem;
    if (!isObj(e) || !isObj(e.val)) return 'the key\'s "elem" needs "val", a selector';
    if (e.timeout !== undefined && !(typeof e.timeout === 'number' && Number.isFinite(e.timeout) && e.timeout > 0)) return 'the key\'s "timeout" must be a number of seconds above 0';
    for (const x of Object.keys(e)) if (x !== 'val' && x !== 'timeout') return `the key's "elem" takes "val" and "timeout", not "${x}"`;
  }
  return null;
}

/** Checks what the key and the statements mean in this table: types, timeouts. */
function validateKey(key: KeyJ, stmts: readonly Stmt[], env: ValidateEnv, setTypes: string[] | undefined, where: string): void {
  const { sel } = keyParts(key);
  const types = env.selectorTypes(sel);
  if (typeof types === 'string') return env.errors.add(env.pos, types);
  for (const t of types) {
    const why = dynamicKeyRefusal(t);
    if (why) return env.errors.add(env.pos, why);
  }
  if (setTypes !== undefined) {
    const got = types.map((t) => t.name);
    if (got.join(' . ') !== setTypes.join(' . ')) {
      return env.errors.add(env.pos, `datatype mismatch: ${where} holds ${setTypes.join(' . ')}, the key ${types.length > 1 ? 'is' : 'has type'} ${got.join(' . ')}`);
    }
  }
  const err = checkElemStmts(stmts, env.registry);
  if (err) env.errors.add(env.pos, err);
  for (const s of stmts) env.registry.statementForJson(s)?.validate?.(s, env);
}

/** The per-packet work of both statements. */
function dynsetFn(
  load: (ctx: ClassifyContext, out: Uint32Array, off: number) => boolean,
  words: number,
  slot: { cur: unknown },
  cap: number,
  timeoutMs: number,
  update: boolean,
  make: (() => ElemExprs) | undefined,
  full: () => void,
): StmtFn {
  const key = new Uint32Array(words);
  return (ctx) => {
    if (!load(ctx, key, 0)) return Code.Break;
    const set = slot.cur;
    if (!(set instanceof HashKeySet)) return Code.Break;
    const now = ctx.nowMs;
    const i = set.addDynamic(key, timeoutMs > 0 ? now + timeoutMs : 0, now, cap, make);
    if (i < 0) {
      full();
      return Code.Break; // the set is full: the kernel's dynset breaks
    }
    // An element a transaction added keeps the expiry it gave (the control thread expires it
    // on that time): only the packet path's own elements are restarted.
    if (update && !set.created && timeoutMs > 0 && set.expiresOf(i) !== 0 && set.isDynamic(i)) set.setExpires(i, now + timeoutMs);
    const ex = set.exprsOf(i);
    return ex === undefined ? 0 : ex.run(ctx);
  };
}

/** `delete @s { KEY }`: the kernel's dynset delete removes the key (any element) and never stops the rule. */
function dynsetDeleteFn(load: (ctx: ClassifyContext, out: Uint32Array, off: number) => boolean, words: number, slot: { cur: unknown }): StmtFn {
  const key = new Uint32Array(words);
  return (ctx) => {
    if (!load(ctx, key, 0)) return Code.Break;
    const set = slot.cur;
    if (set instanceof HashKeySet) set.deleteFromPacket(key);
    return 0;
  };
}

function setTypeNames(j: SetJ): string[] {
  return Array.isArray(j.type) ? j.type : [j.type];
}

const dynsetModule: StatementModule = {
  name: 'dynset',
  keywords: ['add', 'update', 'delete'],
  jsonKeys: ['set'],
  help: 'add the packet\'s key to a named set (`add @s { ip saddr }`), or add it and restart its timeout (`update @s { ip saddr timeout 1m }`); per-element statements (counter, limit, quota, ct count) run for the element: `update @s { ip saddr limit rate over 10/second } drop`. `delete @s { ip saddr }` removes the key (an absent key is no error; the rule goes on)',
  params: [
    { name: 'op', type: 'add|update|delete', required: true, help: 'add: add when absent; update: also restart the timeout; delete: remove the key' },
    { name: 'elem', type: 'selector', required: true, help: 'the key (a selector or a concatenation), or {"elem": {"val": KEY, "timeout": S}}' },
    { name: 'set', type: 'string', required: true, help: '"@NAME" of a set in the rule\'s table' },
    { name: 'stmt', type: 'statement[]', help: 'at most 2 of counter, limit, quota, ct count, kept per element' },
  ],
  families: ['ip', 'ip6', 'inet'],
  parse(r, first) {
    const t = r.peek();
    if (t.kind !== Tok.Word || !t.text.startsWith('@') || t.text.length < 2) r.error(`expected @SET after '${first.text}'`, t);
    r.next();
    const { key, stmts } = parseBody(r, first.text);
    const out: DynsetJ = { op: first.text as DynsetJ['op'], elem: key, set: t.text };
    if (stmts.length > 0) out.stmt = stmts;
    return { set: out };
  },
  print(stmt, p) {
    const d = (stmt as { set: DynsetJ }).set;
    return `${d.op} ${d.set} ${printBody(d.elem, d.stmt ?? [], p)}`;
  },
  checkJson(stmt) {
    const d = (stmt as { set: unknown }).set;
    if (!isObj(d)) return '"set" (a dynset) needs {"op", "elem", "set"}';
    if (d.op !== 'add' && d.op !== 'update' && d.op !== 'delete') return '"op" must be "add", "update" or "delete"';
    if (typeof d.set !== 'string' || !/^@[A-Za-z_][A-Za-z0-9_.\-/]*$/.test(d.set)) return '"set" must be "@NAME"';
    const k = checkKey(d.elem);
    if (k) return k;
    if (d.stmt !== undefined && !Array.isArray(d.stmt)) return '"stmt" must be an array of statements';
    return null;
  },
  validate(stmt, env) {
    const d = (stmt as { set: DynsetJ }).set;
    const name = d.set.slice(1);
    const s = env.findSet(name);
    if (!s) return env.errors.add(env.pos, `unknown set '${name}' in table ${env.family} (declare it before the rule)`);
    if (s.map !== undefined) return env.errors.add(env.pos, `'${name}' is a map: changing maps from the packet path (${d.op} @${name} { KEY : DATA }) is not supported yet`);
    if (s.flags?.includes('interval')) return env.errors.add(env.pos, `set '${name}' has flags interval: the packet path ${d.op === 'delete' ? 'deletes' : 'adds'} single keys, and the kernel refuses a dynamic interval set too`);
    if (s.flags?.includes('constant')) return env.errors.add(env.pos, `set '${name}' is constant: the packet path cannot change it`);
    const { timeout } = keyParts(d.elem);
    if (timeout !== undefined && !s.flags?.includes('timeout') && s.timeout === undefined) {
      return env.errors.add(env.pos, `set '${name}' takes no timeouts: declare it with flags timeout (or a timeout) to add elements that expire`);
    }
    validateKey(d.elem, d.stmt ?? [], env, setTypeNames(s), `set '${name}'`);
  },
  compile(stmt, env) {
    const d = (stmt as { set: DynsetJ }).set;
    const target = env.dynSet(d.set.slice(1));
    if (!target) throw new Error(`set ${d.set} not found`);
    const { sel, timeout } = keyParts(d.elem);
    const s = env.selector(sel);
    if (d.op === 'delete') return dynsetDeleteFn(s.load, s.words, target.slot);
    const secs = timeout ?? target.json.timeout ?? 0;
    const make = d.stmt && d.stmt.length > 0 ? elemExprsFactory(d.stmt, env) : undefined;
    return dynsetFn(s.load, s.words, target.slot, target.cap, secs * 1000, d.op === 'update', make, env.setFull);
  },
};

const meterModule: StatementModule = {
  name: 'meter',
  keywords: ['meter'],
  jsonKeys: ['meter'],
  help: 'nft\'s older form of a dynamic set private to the rule: `meter NAME [size N] { KEY [timeout T] STATEMENT }`, e.g. `meter flood { ip saddr limit rate over 10/second } drop`',
  params: [
    { name: 'name', type: 'string', required: true, help: 'the meter\'s name (a set name of the table)' },
    { name: 'key', type: 'selector', required: true, help: 'the key, or {"elem": {"val": KEY, "timeout": S}}' },
    { name: 'stmt', type: 'statement', required: true, help: 'counter, limit, quota or ct count, kept per key' },
    { name: 'size', type: 'integer', help: `most keys held (default ${DYNAMIC_SET_DEFAULT_SIZE})` },
  ],
  families: ['ip', 'ip6', 'inet'],
  parse(r, first) {
    const n = r.peek();
    if (n.kind !== Tok.Word || !/^[A-Za-z_][A-Za-z0-9_.\-/]*$/.test(n.text)) r.error(`expected the meter's name after 'meter'`, n);
    r.next();
    let size = DYNAMIC_SET_DEFAULT_SIZE;
    if (r.acceptWord('size')) {
      const at = r.peek();
      size = r.integer();
      if (!isSetSize(size)) r.error(`meter size must be ${SET_SIZE_RANGE}, got ${size}`, at);
    }
    const { key, stmts } = parseBody(r, 'meter');
    if (stmts.length !== 1) r.error(`a meter keeps exactly one statement per key (counter, limit, quota or ct count), got ${stmts.length}`, first);
    // nft's key order: key, stmt, size, name.
    return { meter: { key, stmt: stmts[0], size, name: n.text } };
  },
  print(stmt, p) {
    const m = (stmt as { meter: MeterJ }).meter;
    return `meter ${m.name} size ${m.size ?? DYNAMIC_SET_DEFAULT_SIZE} ${printBody(m.key, [m.stmt], p)}`;
  },
  checkJson(stmt) {
    const m = (stmt as { meter: unknown }).meter;
    if (!isObj(m)) return '"meter" needs {"key", "stmt", "name"}';
    if (typeof m.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.\-/]*$/.test(m.name)) return 'meter "name" must be a name (letters, digits, _ . - /)';
    if (m.size !== undefined && !isSetSize(m.size)) return `meter "size" must be ${SET_SIZE_RANGE}`;
    if (!isObj(m.stmt)) return 'meter "stmt" must be one statement';
    return checkKey(m.key);
  },
  validate(stmt, env) {
    const m = (stmt as { meter: MeterJ }).meter;
    // A meter is a set of the table in nft: the names must differ.
    if (env.findSet(m.name)) return env.errors.add(env.pos, `meter '${m.name}': the table has a set of that name (a meter is a set in nft: the names must differ)`);
    validateKey(m.key, [m.stmt], env, undefined, `meter '${m.name}'`);
  },
  compile(stmt, env) {
    const m = (stmt as { meter: MeterJ }).meter;
    const { sel, timeout } = keyParts(m.key);
    const s = env.selector(sel);
    const slot = { cur: new HashKeySet(s.words) };
    env.meter?.(m.name, slot.cur);
    const make = elemExprsFactory([m.stmt], env);
    // As nft's meter: dynset op update when the key has a timeout (each packet restarts it), add otherwise.
    return dynsetFn(s.load, s.words, slot, env.dynamicCap(m.size), (timeout ?? 0) * 1000, timeout !== undefined, make, env.setFull);
  },
};

export function registerDynset(r: Registry): void {
  r.registerStatement(dynsetModule);
  r.registerStatement(meterModule);
}

/**
 * The sets a rule's statements fill from the packet path (for nft's default size), and its
 * meters; undefined for a rule with neither (most rules: nothing is allocated for them).
 */
export function dynsetTargets(expr: readonly Stmt[]): { sets: string[]; meters: number } | undefined {
  let out: { sets: string[]; meters: number } | undefined;
  for (let i = 0; i < expr.length; i++) {
    const s: unknown = expr[i];
    // Runs before the statements are checked: a JSON rule may hold anything here.
    if (!isObj(s)) continue;
    const d = s.set;
    if (isObj(d) && typeof d.set === 'string' && typeof d.op === 'string') (out ??= { sets: [], meters: 0 }).sets.push(d.set.slice(1));
    else if ('meter' in s) (out ??= { sets: [], meters: 0 }).meters++;
  }
  return out;
}
