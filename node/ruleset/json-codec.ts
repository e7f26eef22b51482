/**
 * The libnftables JSON form, both ways. Reading: `{"nftables": [...]}` whose items are
 * objects (`{"table": ...}` means add) or commands (`{"add": {"rule": ...}}`), checked
 * for shape here and for meaning by validation, like text. Writing: the listing as
 * `nft -j list ruleset` lays it out (metainfo, then per table: table, sets, maps,
 * chains, rules).
 */
import { NFT_KEYWORDS } from './nft-keywords.js';
import type { FlowtableJ } from './ast.js';
import type { Command, RuleJ, RulesetJson, RulesetObj, SetJ, Value, VerdictJ } from './ast.js';
import { CHAIN_TYPES, FAMILIES, HOOKS } from './ast.js';
import { ErrorList, posOf, setPos, type Pos } from './errors.js';
import { liveObj } from './objects.js';
import { PRIORITY_RANGE, isPriority } from './priorities.js';
import { badStringChar, describeBadChar } from './string-chars.js';
import type { ElemItem, RulesetState, SetState } from './state.js';
import { withLiveCells } from './live-cells.js';
import { checkSetAttrsJson } from './set-attrs.js';
import { layer2Family, layer2Hook } from './layer3-only.js';
import { familyCtTuples } from './modules/ct-tuple.js';

const VERBS = ['add', 'create', 'insert', 'replace', 'delete', 'flush'];
const OBJECTS = ['table', 'chain', 'rule', 'set', 'map', 'element', 'counter', 'quota', 'limit', 'ct helper', 'flowtable', 'ruleset'];

const JSON_SCHEMA_VERSION = 1;

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Checks the outer shape and returns commands. Throws RulesetError listing every problem. */
export function jsonToCommands(input: unknown, file = '<input>'): Command[] {
  const errors = new ErrorList(file);
  const out: Command[] = [];
  if (!isObj(input) || !Array.isArray(input.nftables)) {
    errors.add(posOf(input), 'expected {"nftables": [...]}');
    errors.throwIfAny();
  }
  const items = (input as { nftables: unknown[] }).nftables;
  items.forEach((item, idx) => {
    const where = `/nftables/${idx}`;
    const pos = posOf(item);
    if (!isObj(item) || Object.keys(item).length !== 1) return errors.add(pos, `${where}: expected an object with one key`);
    const k = Object.keys(item)[0];
    if (k === 'metainfo') return;
    let verb = 'add';
    let obj: unknown = item;
    if (VERBS.includes(k)) {
      verb = k;
      obj = item[k];
      if (!isObj(obj) || Object.keys(obj).length !== 1) return errors.add(pos, `${where}/${k}: expected one object`);
    }
    const kind = Object.keys(obj as object)[0];
    const body = (obj as Record<string, unknown>)[kind];
    if (!OBJECTS.includes(kind)) return errors.add(pos, `${where}: unknown object '${kind}' (${OBJECTS.join(', ')})`);
    const bpos = posOf(body) ?? pos;
    const e = checkObject(kind, body, verb);
    if (e) return errors.add(bpos, `${where}/${kind}: ${e}`);
    const bad = badStringIn(body);
    if (bad) return errors.add(bad.pos ?? bpos, `${where}/${kind}${bad.where}: ${bad.what} in a string`);
    if (kind === 'rule') {
      const r = body as RuleJ;
      // nft's family-less `ct original saddr` takes the table's family (its own listings write it).
      if (Array.isArray(r.expr)) familyCtTuples(r.expr, r.family);
      r.expr?.forEach((s) => {
        if (!posOf(s)) setPos(s, bpos);
      });
      setPos(r, bpos);
    }
    out.push(setPos({ [verb]: { [kind]: body } } as Command, bpos));
  });
  errors.throwIfAny();
  return out;
}

function checkObject(kind: string, b: unknown, verb: string): string | null {
  if (kind === 'ruleset') return verb === 'flush' ? null : 'only "flush" applies to the ruleset';
  if (!isObj(b)) return 'expected an object';
  if (!(FAMILIES as readonly string[]).includes(b.family as string)) return layer2Family(b.family) ?? `family must be one of ${FAMILIES.join(', ')}`;
  // The text form's comments are quoted strings; another JSON type would print unquoted
  // and load back as a string.
  if (b.comment !== undefined && typeof b.comment !== 'string') return '"comment" must be a string';
  const str = (k: string): string | null => {
    const v = b[k];
    if (typeof v !== 'string' || v === '') return `"${k}" must be a non-empty string`;
    // Names print unquoted in the text form: one that is not a word there would list as
    // text that does not load back (or loads as something else).
    if (!isTextName(v)) return `"${k}" ${JSON.stringify(v)} is not a name the text form can read: use letters, digits and _ . - / : (not starting with $ or @)`;
    // nft -j takes a keyword as a name, but neither nft nor hafw can read its text listing back.
    return NFT_KEYWORDS.has(v) ? `"${k}" ${JSON.stringify(v)} is an nft keyword: nft -j takes it, but its text listing cannot be loaded back by nft or hafw: rename it` : null;
  };
  switch (kind) {
    case 'table':
      return str('name');
    case 'chain':
      if (str('table') || str('name')) return str('table') ?? str('name');
      // The text form refuses any other chain type in the parser; JSON must too, or a JSON
      // ruleset would load and then print as text that does not.
      if (b.type !== undefined && !(CHAIN_TYPES as readonly unknown[]).includes(b.type)) return `type must be one of ${CHAIN_TYPES.join(', ')}`;
      if (b.hook !== undefined && !(HOOKS as readonly string[]).includes(b.hook as string)) return layer2Hook(b.hook) ?? `hook must be one of ${HOOKS.join(', ')}`;
      if (b.hook !== undefined && typeof b.prio !== 'number') return 'a base chain needs a numeric "prio"';
      // As the text parser: any other number prints as a priority the text form refuses.
      if (b.prio !== undefined && !isPriority(b.prio)) return `"prio" must be ${PRIORITY_RANGE}`;
      if (b.policy !== undefined && b.policy !== 'accept' && b.policy !== 'drop') return 'policy must be accept or drop';
      return null;
    case 'rule':
      if (str('table') || str('chain')) return str('table') ?? str('chain');
      if (verb === 'delete') return typeof b.handle === 'number' ? null : 'delete rule needs a "handle"';
      if (!Array.isArray(b.expr)) return '"expr" must be an array of statements';
      return null;
    case 'set':
    case 'map':
      if (str('table') || str('name')) return str('table') ?? str('name');
      if (verb === 'add' || verb === 'create') {
        if (typeof b.type !== 'string' && !Array.isArray(b.type)) return '"type" must be a type name or a list of them';
        if (kind === 'map' && typeof b.map !== 'string') return 'a map needs "map" (its data type)';
      }
      // A set object may carry "map" too (the fuzz pass found a number there): always a type name.
      if (b.map !== undefined && typeof b.map !== 'string') return '"map" must be the data type\'s name (a string)';
      if (b.elem !== undefined && !Array.isArray(b.elem)) return '"elem" must be an array';
      if (b.timeout !== undefined && !isSeconds(b.timeout)) return '"timeout" must be a number of seconds (0 or more)';
      if (checkSetAttrsJson(b, kind === 'map')) return checkSetAttrsJson(b, kind === 'map');
      return elemComments(b.elem as unknown[] | undefined);
    case 'element':
      if (str('table') || str('name')) return str('table') ?? str('name');
      return Array.isArray(b.elem) ? elemComments(b.elem) : '"elem" must be an array';
    case 'counter':
    case 'quota':
    case 'limit':
    case 'ct helper':
      // The fields are the statement's, checked where the object is added (objects.ts).
      return str('table') ?? str('name');
    case 'flowtable':
      // hook, prio and dev are checked where the flowtable is added (flowtables.ts).
      return str('table') ?? str('name');
  }
  return null;
}

/** A duration as nft's JSON writes it: a finite, non-negative number of seconds. */
function isSeconds(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/** A word of the text form's lexer that the parser reads as a name (not a $variable or @set). */
function isTextName(v: string): boolean {
  return /^[0-9A-Za-z_.:/*[\]-][0-9A-Za-z_.:/$@*[\]-]*$/.test(v);
}

/** An element's `{"elem": {"comment": ...}}` (the key's, for a map's [key, data]) must be a string, as a table's. */
function elemComments(elems: unknown[] | undefined): string | null {
  if (!elems) return null;
  for (let i = 0; i < elems.length; i++) {
    const item = elems[i];
    const key = Array.isArray(item) ? item[0] : item;
    if (isObj(key) && isObj(key.elem) && key.elem.comment !== undefined && typeof key.elem.comment !== 'string') {
      return `elem/${i}${Array.isArray(item) ? '/0' : ''}/elem: "comment" must be a string`;
    }
    // As nft's JSON: seconds. Anything else would list as a timeout the text form cannot read.
    for (const k of ['timeout', 'expires'] as const) {
      if (isObj(key) && isObj(key.elem) && key.elem[k] !== undefined && !isSeconds(key.elem[k])) {
        return `elem/${i}${Array.isArray(item) ? '/0' : ''}/elem: "${k}" must be a number of seconds (0 or more)`;
      }
    }
  }
  return null;
}

/**
 * The first string in a command's body that no ruleset string may hold (string-chars.ts),
 * with its JSON pointer under the body and the position of the nearest object or array
 * that has one. Walked without recursion: an API transaction's body was parsed by
 * JSON.parse, which takes any depth.
 */
function badStringIn(body: unknown): { where: string; what: string; pos: Pos | undefined } | null {
  const nodes: unknown[] = [body];
  const parents: number[] = [-1];
  const keys: string[] = [''];
  for (let n = 0; n < nodes.length; n++) {
    const v = nodes[n];
    if (typeof v === 'string') {
      const i = badStringChar(v);
      if (i < 0) continue;
      const path: string[] = [];
      let pos: Pos | undefined;
      for (let k = n; k > 0; k = parents[k]) {
        path.push(keys[k].replace(/~/g, '~0').replace(/\//g, '~1'));
        pos ??= posOf(nodes[parents[k]]);
      }
      return { where: path.length ? `/${path.reverse().join('/')}` : '', what: describeBadChar(v, i), pos };
    }
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        nodes.push(v[i]);
        parents.push(n);
        keys.push(String(i));
      }
    } else {
      for (const k of Object.keys(v)) {
        nodes.push((v as Record<string, unknown>)[k]);
        parents.push(n);
        keys.push(k);
      }
    }
  }
  return null;
}

export interface JsonListOptions {
  nowMs?: number;
  counters?: (rule: RuleJ) => readonly { packets: number; bytes: number }[] | undefined;
  /** A set's elements as they are now (see PrintOptions.elements). */
  elements?: (s: SetState) => readonly ElemItem[] | undefined;
}

/** The state as `{"nftables": [...]}`. */
export function stateToJson(state: RulesetState, opts: JsonListOptions = {}): RulesetJson {
  const items: RulesetObj[] = [{ metainfo: { version: 'hafw', json_schema_version: JSON_SCHEMA_VERSION } }];
  for (const t of state.tables.values()) {
    items.push({ table: { ...t.json } });
    for (const s of t.sets.values()) {
      const j: SetJ = { ...s.json };
      const elem: NonNullable<SetJ['elem']> = [];
      const live = opts.elements?.(s);
      if (live !== undefined) elem.push(...live);
      else {
        for (const e of s.elems.values()) {
          if (opts.nowMs !== undefined && e.expiresAt !== 0 && opts.nowMs >= e.expiresAt) continue;
          elem.push(e.item as Value | [Value, Value | VerdictJ]);
        }
      }
      if (elem.length > 0) j.elem = elem;
      items.push(s.isMap ? { map: j } : { set: j });
    }
    for (const o of t.objs.values()) items.push({ [o.kind]: opts.counters !== undefined ? liveObj(o) : { ...o.json } } as RulesetObj);
    for (const f of t.flowtables.values()) {
      // libnftables' key order: family, name, table, handle, hook, prio, dev.
      const j = f.json;
      const o: FlowtableJ = { family: j.family, name: j.name, table: j.table, handle: j.handle, hook: j.hook, prio: j.prio };
      if (j.dev !== undefined) o.dev = Array.isArray(j.dev) ? [...j.dev] : j.dev;
      items.push({ flowtable: o });
    }
    for (const c of t.chains.values()) items.push({ chain: { ...c.json } });
    for (const c of t.chains.values()) {
      for (const r of c.rules) {
        const expr = withDefaultBurst(withLiveCells(r.expr, opts.counters?.(r)));
        const rj: RuleJ = { family: r.family, table: r.table, chain: r.chain, handle: r.handle, expr };
        if (r.comment !== undefined) rj.comment = r.comment;
        items.push({ rule: rj });
      }
    }
  }
  return { nftables: items };
}

/**
 * A rule's statements as nft -j writes them: a packet limit (`limit rate 10/second`, also
 * inside a set statement's `stmt`) with its default burst of 5 packets written out. The
 * stored form leaves the default out so that the text listing does, as nft's does; nft's
 * JSON has it (an explicit burst goes after the rate, where nft puts it). Byte limits
 * (rate_unit) already carry their burst, in their own order; a named limit's
 * reference is a string and stays as it is.
 */
function withDefaultBurst<T>(v: T): T {
  if (Array.isArray(v)) return v.map(withDefaultBurst) as T;
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    const l = x as { rate?: unknown; burst?: unknown; rate_unit?: unknown } | null;
    if (k === 'limit' && l !== null && typeof l === 'object' && !Array.isArray(l) && l.rate !== undefined && l.rate_unit === undefined) {
      // nft's key order for a packet limit: rate, burst, per, then inv.
      const { rate, burst, ...rest } = l;
      out[k] = { rate, burst: burst ?? 5, ...rest };
    } else out[k] = withDefaultBurst(x);
  }
  return out as T;
}

/** Clean JSON copy (drops undefined fields, the shape `JSON.stringify` would give). */
export function toPlainJson<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}
