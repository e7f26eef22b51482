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
 * Maps too: `update @m { ip saddr : 0x1 }`, `add @m { ip saddr . tcp dport timeout 30s : meta mark }`
 * (nft 1.0.6's text). As the kernel: the data is written when the element is created; a held
 * element keeps its data (checked against nft 1.0.6 and its kernel: a second `update` with
 * other data leaves the first). The data is a constant or a one-word selector of the map's
 * data type; verdict maps are refused as nft refuses them, and data kept by value (addresses,
 * concatenations) is refused with the reason.
 *
 * JSON (libnftables): `{"set": {"op": "add"|"update"|"delete", "elem": KEY, "set": "@s", "stmt": [...]}}`
 * with KEY a selector or `{"elem": {"val": SELECTOR, "timeout": S}}`, and
 * `{"meter": {"key": KEY, "stmt": STMT, "size": N, "name": "m"}}`. A map: nft 1.0.6 has no JSON
 * form for it (`nft -j` lists such a rule as its text, which nft 1.0.6 cannot load back);
 * hafw reads and writes the form later nft versions use:
 * `{"map": {"op": "add"|"update", "elem": KEY, "data": DATA, "map": "@m", "stmt": [...]}}`.
 */
import type { Selector, SetJ, Stmt, Value } from '../ast.js';
import type { DataType } from '../data-types.js';
import { dataInterned } from '../map-values.js';
import { Code } from '../codes.js';
import type { ClassifyContext } from '../context.js';
import { Tok } from '../lexer.js';
import { formatDuration, parseDuration } from '../durations.js';
import type { CompileEnv, PrintHelper, Registry, StatementModule, StmtFn, TextReader, ValidateEnv } from '../registry.js';
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

/** `add|update|delete @m { KEY : DATA }`: DATA a constant or a selector (delete ignores it, as the kernel). */
interface DynmapJ {
  op: 'add' | 'update' | 'delete';
  elem: KeyJ;
  data: Value | Selector;
  map: string;
  stmt?: Stmt[];
}

/** The map-data types whose element keeps its data in its one word (dataInterned false). */
const DATA_TYPES = Symbol('dynmap data types');

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

/** `{ KEY [timeout T] [STATEMENT ...] [: DATA] }`: the braces of a dynset or a meter. */
function parseBody(r: TextReader, word: string, mapData = false): { key: KeyJ; stmts: Stmt[]; data?: Value | Selector } {
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
  let data: Value | Selector | undefined;
  while (!r.acceptPunct('}')) {
    const t = r.peek();
    if (t.text === ':') {
      if (!mapData) r.error(`'${word}' keeps no data: KEY : DATA is for maps (add @m { KEY : DATA }, update @m { KEY : DATA })`, t);
      r.next();
      data = parseData(r);
      if (r.isWord('timeout')) r.error('a timeout goes after the key, before the data (update @m { KEY timeout 30s : DATA }): nft refuses a timeout on the data too', r.peek());
      const end = r.peek();
      if (!r.acceptPunct('}')) r.error(`'}' expected after the map data of '${word} ... {' (the data is one constant or one selector such as meta mark)`, end);
      break;
    }
    if (t.kind === Tok.Eof) r.error(`'}' expected to close '${word} ... {'`, t);
    const s = r.statement();
    const k = Object.keys(s)[0];
    if (!ELEM_STMT_KEYS.includes(k)) r.error(`'${t.text}' cannot be kept per element: only ${ELEM_STMT_KEYS.join(', ')} can`, t);
    // nft lists an element's counter template bare (`counter`), its JSON as null.
    const c = (s as { counter?: unknown }).counter;
    stmts.push(k === 'counter' && isObj(c) && c.packets === 0 && c.bytes === 0 ? { counter: null } : s);
  }
  return data === undefined ? { key, stmts } : { key, stmts, data };
}

/** A map's data after `:`: a selector (`meta mark`), or one constant (`0x1`, `80`, `established`). */
function parseData(r: TextReader): Value | Selector {
  const sel = r.trySelectorExpr();
  if (sel) return sel;
  const t = r.peek();
  if (t.kind === Tok.String) {
    r.next();
    return t.text;
  }
  if (t.kind !== Tok.Word || t.text === '}' || t.text === 'accept' || t.text === 'drop' || t.text === 'jump' || t.text === 'goto' || t.text === 'continue' || t.text === 'return') {
    r.error(t.kind === Tok.Word && t.text !== '}' ? `a verdict cannot be map data from the packet path (nft refuses '${t.text}' here too): use a map of marks and a rule that matches the mark` : 'expected the map data after \':\' (a constant such as 0x1, or a selector such as meta mark)', t);
  }
  r.next();
  if (/^0x[0-9a-f]+$/i.test(t.text) || /^[0-9]+$/.test(t.text)) {
    const n = Number(t.text);
    if (Number.isSafeInteger(n)) return n;
  }
  return t.text;
}

function printBody(key: KeyJ, stmts: readonly Stmt[], p: PrintHelper, data?: string): string {
  const { sel, timeout } = keyParts(key);
  let s = `{ ${p.selector(sel)}`;
  if (timeout !== undefined) s += ` timeout ${formatDuration(timeout)}`;
  for (const st of stmts) s += ` ${stmtText(st, p)}`;
  if (data !== undefined) s += ` : ${data}`;
  return `${s} }`;
}

function isSelectorData(d: unknown): d is Selector {
  return isObj(d);
}

/**
 * The data's text as nft lists it (`0x00000001` for a mark): a constant is printed with the
 * map's data type, which validation recorded on the statement (DATA_TYPES); a statement
 * printed before it was checked prints the constant as given.
 */
function dataText(m: DynmapJ, p: PrintHelper): string {
  if (isSelectorData(m.data)) return p.selector(m.data);
  const types = (m as { [DATA_TYPES]?: DataType[] })[DATA_TYPES];
  if (types !== undefined) return p.value(m.data, types);
  return typeof m.data === 'string' ? m.data : String(m.data);
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

/** The per-packet work of both statements. `data`: a map's data for the packet (undefined: no value, the rule stops). */
function dynsetFn(
  load: (ctx: ClassifyContext, out: Uint32Array, off: number) => boolean,
  words: number,
  slot: { cur: unknown },
  cap: number,
  timeoutMs: number,
  update: boolean,
  make: (() => ElemExprs) | undefined,
  full: () => void,
  data?: (ctx: ClassifyContext) => number | undefined,
): StmtFn {
  const key = new Uint32Array(words);
  return (ctx) => {
    if (!load(ctx, key, 0)) return Code.Break;
    const set = slot.cur;
    if (!(set instanceof HashKeySet)) return Code.Break;
    let d = 0;
    if (data !== undefined) {
      const v = data(ctx);
      if (v === undefined) return Code.Break; // as the kernel: a data load that finds no field breaks
      d = v;
    }
    const now = ctx.nowMs;
    const i = set.addDynamic(key, timeoutMs > 0 ? now + timeoutMs : 0, now, cap, make, d);
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
  jsonKeys: ['set', 'map'],
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
    const { key, stmts, data } = parseBody(r, first.text, true);
    if (data !== undefined) {
      // nft's key order (later versions' JSON): op, elem, data, map, stmt.
      const m = { op: first.text, elem: key, data, map: t.text } as DynmapJ;
      if (stmts.length > 0) m.stmt = stmts;
      return { map: m };
    }
    const out: DynsetJ = { op: first.text as DynsetJ['op'], elem: key, set: t.text };
    if (stmts.length > 0) out.stmt = stmts;
    return { set: out };
  },
  print(stmt, p) {
    if ('map' in stmt) {
      const m = (stmt as { map: DynmapJ }).map;
      return `${m.op} ${m.map} ${printBody(m.elem, m.stmt ?? [], p, dataText(m, p))}`;
    }
    const d = (stmt as { set: DynsetJ }).set;
    return `${d.op} ${d.set} ${printBody(d.elem, d.stmt ?? [], p)}`;
  },
  checkJson(stmt) {
    if ('map' in stmt) {
      const m = (stmt as { map: unknown }).map;
      if (!isObj(m)) return '"map" (a map update from the packet path) needs {"op", "elem", "data", "map"}';
      if (m.op !== 'add' && m.op !== 'update' && m.op !== 'delete') return '"op" must be "add", "update" or "delete"';
      if (typeof m.map !== 'string' || !/^@[A-Za-z_][A-Za-z0-9_.\-/]*$/.test(m.map)) return '"map" must be "@NAME"';
      if (!('data' in m) || !(typeof m.data === 'number' || typeof m.data === 'string' || isObj(m.data))) return '"data" must be a constant (number or string) or a selector';
      for (const x of Object.keys(m)) if (!['op', 'elem', 'data', 'map', 'stmt'].includes(x)) return `"map" takes "op", "elem", "data", "map" and "stmt", not "${x}"`;
      const k = checkKey(m.elem);
      if (k) return k;
      if (m.stmt !== undefined && !Array.isArray(m.stmt)) return '"stmt" must be an array of statements';
      return null;
    }
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
    if ('map' in stmt) return validateMap((stmt as { map: DynmapJ }).map, env);
    const d = (stmt as { set: DynsetJ }).set;
    const name = d.set.slice(1);
    const s = env.findSet(name);
    if (!s) return env.errors.add(env.pos, `unknown set '${name}' in table ${env.family} (declare it before the rule)`);
    if (s.map !== undefined) return env.errors.add(env.pos, `'${name}' is a map: give the data for the key (${d.op} @${name} { KEY : DATA }; the kernel refuses a map update without data)`);
    checkTarget(s, name, d.op, d.elem, env);
    validateKey(d.elem, d.stmt ?? [], env, setTypeNames(s), `set '${name}'`);
  },
  compile(stmt, env) {
    if ('map' in stmt) return compileMap((stmt as { map: DynmapJ }).map, env);
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

/** What `add|update|delete @NAME` needs of its set or map, whatever it holds. */
function checkTarget(s: SetJ, name: string, op: string, elem: KeyJ, env: ValidateEnv): boolean {
  const what = s.map !== undefined ? 'map' : 'set';
  if (s.flags?.includes('interval')) {
    env.errors.add(env.pos, `${what} '${name}' has flags interval: the packet path ${op === 'delete' ? 'deletes' : 'adds'} single keys, and the kernel refuses a dynamic interval ${what} too`);
    return false;
  }
  if (s.flags?.includes('constant')) {
    env.errors.add(env.pos, `${what} '${name}' is constant: the packet path cannot change it`);
    return false;
  }
  const { timeout } = keyParts(elem);
  if (timeout !== undefined && !s.flags?.includes('timeout') && s.timeout === undefined) {
    env.errors.add(env.pos, `${what} '${name}' takes no timeouts: declare it with flags timeout (or a timeout) to add elements that expire`);
    return false;
  }
  return true;
}

/** `add|update|delete @m { KEY : DATA }`: the map, its key, and the data against the map's data type. */
function validateMap(m: DynmapJ, env: ValidateEnv): void {
  const name = m.map.slice(1);
  const s = env.findSet(name);
  if (!s) return env.errors.add(env.pos, `unknown map '${name}' in table ${env.family} (declare it before the rule)`);
  if (s.map === undefined) return env.errors.add(env.pos, `'${name}' is a set, not a map: it keeps no data (${m.op} @${name} { KEY })`);
  if (s.map === 'verdict') return env.errors.add(env.pos, `map '${name}' holds verdicts: nft refuses verdicts as data from the packet path; use a map of marks and a rule that matches the mark`);
  const dataTypes = env.registry.dataTypes(s.map);
  if (dataTypes === undefined) return env.errors.add(env.pos, `map '${name}': unknown data type ${s.map}`);
  if (dataInterned(dataTypes.map((t) => ({ words: t.words, prefix: t.prefix })))) {
    return env.errors.add(env.pos, `map '${name}' holds ${s.map}: data of that type from the packet path is not supported (hafw keeps such data by value for the engine's lifetime, which a flood of distinct packets would grow without bound): use a map whose data fits one word (mark, inet_service, ct_state...)`);
  }
  const refusal = dynamicKeyRefusal(dataTypes[0]!);
  if (refusal) return env.errors.add(env.pos, refusal.replace('elements of type', 'data of type').replace('use another key', 'use another data type'));
  if (!checkTarget(s, name, m.op, m.elem, env)) return;
  if (isSelectorData(m.data)) {
    const got = env.selectorTypes(m.data);
    if (typeof got === 'string') return env.errors.add(env.pos, got);
    if (got.map((t) => t.name).join(' . ') !== s.map) return env.errors.add(env.pos, `datatype mismatch: map '${name}' holds ${s.map} data, the data ${got.length > 1 ? 'is' : 'has type'} ${got.map((t) => t.name).join(' . ')}`);
  } else {
    const err = env.checkValue(m.data, dataTypes);
    if (err) return env.errors.add(env.pos, `map '${name}' data: ${err}`);
  }
  // Listed with the map's data type (nft prints a mark as 0x00000001): kept on the statement, not in its JSON.
  Object.defineProperty(m, DATA_TYPES, { value: dataTypes, enumerable: false, configurable: true });
  validateKey(m.elem, m.stmt ?? [], env, setTypeNames(s), `map '${name}'`);
}

function compileMap(m: DynmapJ, env: CompileEnv): StmtFn {
  const target = env.dynSet(m.map.slice(1));
  if (!target) throw new Error(`map ${m.map} not found`);
  const { sel, timeout } = keyParts(m.elem);
  const s = env.selector(sel);
  if (m.op === 'delete') return dynsetDeleteFn(s.load, s.words, target.slot);
  let data: (ctx: ClassifyContext) => number | undefined;
  if (isSelectorData(m.data)) {
    const d = env.selector(m.data);
    const w = new Uint32Array(d.words);
    data = (ctx) => (d.load(ctx, w, 0) ? w[0] : undefined);
  } else {
    const t = env.registry.dataTypes(target.json.map!)![0]!;
    const w = new Uint32Array(1);
    const err = t.encode(m.data as number | string, w, 0, env.encode);
    if (err) throw new Error(err);
    const v = w[0]!;
    data = () => v;
  }
  const secs = timeout ?? target.json.timeout ?? 0;
  const make = m.stmt && m.stmt.length > 0 ? elemExprsFactory(m.stmt, env) : undefined;
  return dynsetFn(s.load, s.words, target.slot, target.cap, secs * 1000, m.op === 'update', make, env.setFull, data);
}

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
    const m = s.map;
    if (isObj(d) && typeof d.set === 'string' && typeof d.op === 'string') (out ??= { sets: [], meters: 0 }).sets.push(d.set.slice(1));
    else if (isObj(m) && typeof m.map === 'string' && typeof m.op === 'string') (out ??= { sets: [], meters: 0 }).sets.push(m.map.slice(1));
    else if ('meter' in s) (out ??= { sets: [], meters: 0 }).meters++;
  }
  return out;
}
