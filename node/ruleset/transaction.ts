/**
 * Applying commands to a Draft of the committed state. Commands run in order like an
 * nft batch; references (chains, sets) are checked at the end, by validation, so a
 * batch may add a chain after the rule that jumps to it. Nothing here touches the
 * committed state: a failed batch is simply dropped.
 */
import { SET_TYPEOF } from './ast.js';
import type { ChainJ, Command, ElementJ, ObjJ, ObjKind, RuleJ, SetJ, TableJ, Verb } from './ast.js';
import { checkObjSpec, helperL3, makeObj, objKey } from './objects.js';
import { FlowtableState, checkFlowtableSpec } from './flowtables.js';
import type { FlowtableJ } from './ast.js';
import type { Registry } from './registry.js';
import { ErrorList, POS, markOf, posOf } from './errors.js';
import type { ChainState, ElemEntry, ElemItem, SetState, TableState } from './state.js';
import { dynsetTargets } from './modules/dynset.js';
import { DYNAMIC_SET_DEFAULT_SIZE } from './set-attrs.js';
import { RULE_COMPILED, RULE_REFS, RulesetState, elemKey, elemOptions, tableKey } from './state.js';
import { OverlayMap } from './overlay-map.js';
import { onlyKey } from './registry.js';
import { anonymousSets, canonicalExpr } from './canonical.js';

/** The first own enumerable key (what Object.keys(o)[0] gives), without the key array. */
function firstKey(o: object): string | undefined {
  for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) return k;
  return undefined;
}

export type ChangeKind = 'table' | 'chain' | 'rule' | 'set' | 'map' | 'element' | 'ruleset' | 'counter' | 'quota' | 'limit' | 'ct helper' | 'flowtable';

export interface Change {
  op: 'add' | 'insert' | 'replace' | 'delete' | 'flush';
  kind: ChangeKind;
  family?: string;
  table?: string;
  chain?: string;
  name?: string;
  handle?: number;
  /** The object as JSON (a rule with its expr, a table, the elements added...). */
  object?: unknown;
}

/**
 * Element changes of one set in a batch. The committed element map is shared, not
 * copied (a 100,000-element set costs nothing to touch); the changes are applied to it
 * only at commit, after everything validated and compiled.
 */
export interface PendingElems {
  adds: Map<string, ElemEntry>;
  dels: Set<string>;
  /** The set starts empty in this batch (new or flushed): the committed map is ignored. */
  flushed: boolean;
  /**
   * `delete element` of keys the committed state does not hold, in a set with flags
   * dynamic: the packet path may have added them, and only the structure of the engine
   * that classifies knows (engine.ts deletes them there if they are). By elemKey.
   */
  dynDels?: Map<string, ElemItem>;
}

export class Draft {
  readonly pending = new Map<SetState, PendingElems>();
  tables: Map<string, TableState>;
  nextHandle: number;
  nextId: number;
  readonly changes: Change[] = [];
  /** Rules added or replaced: validated and compiled. */
  readonly newRules = new Set<RuleJ>();
  /** Rules removed (their references are released). */
  readonly goneRules: { table: TableState; chain: ChainState; rule: RuleJ }[] = [];
  /** Chains whose rule list changed (recompiled), by table key + name. */
  readonly touchedChains = new Set<ChainState>();
  /** Sets whose elements or definition changed (rebuilt). */
  readonly touchedSets = new Set<SetState>();
  readonly touchedTables = new Set<string>();
  readonly deletedChains: { table: TableState; name: string; pos: unknown }[] = [];
  readonly deletedSets: { table: TableState; name: string; pos: unknown }[] = [];
  /** Objects deleted in this batch ("KIND NAME"): refused while rules still name them. */
  readonly deletedObjs: { table: TableState; key: string; pos: unknown }[] = [];
  /** Flowtables deleted in this batch: refused while rules still name them (nft: EBUSY). */
  readonly deletedFlowtables: { table: TableState; name: string; pos: unknown }[] = [];
  structureChanged = false;
  /** `flush ruleset` ran: every rule after it is new in this batch. */
  rulesetFlushed = false;
  private readonly ownTables = new Set<TableState>();
  private readonly ownChains = new Set<ChainState>();
  private readonly ownSets = new Set<SetState>();

  constructor(readonly base: RulesetState, readonly errors: ErrorList, readonly nowMs: number, readonly registry: Registry) {
    this.tables = new Map(base.tables);
    this.nextHandle = base.nextHandle;
    this.nextId = base.nextId;
  }

  /** Commit step: writes the tables' overlays into the committed maps. */
  commitTables(): void {
    for (const t of this.tables.values()) {
      if (t.chains instanceof OverlayMap) t.chains = t.chains.applyToBase();
      if (t.sets instanceof OverlayMap) t.sets = t.sets.applyToBase();
      if (t.refs instanceof OverlayMap) t.refs = t.refs.applyToBase();
    }
  }

  finish(): RulesetState {
    return new RulesetState(this.tables, this.nextHandle, this.nextId);
  }

  /**
   * The table the previous command touched (owned by this draft): a load's rules come
   * table by table. Forgotten whenever the tables map itself changes.
   */
  private lastTable: TableState | undefined;

  /** mutTable by family and name, skipping the key string while the table repeats. */
  private mutTableOf(family: string, name: string, pos: unknown): TableState | undefined {
    const last = this.lastTable;
    if (last !== undefined && last.json.name === name && last.json.family === family) return last;
    return (this.lastTable = this.mutTable(`${family} ${name}`, pos));
  }

  private mutTable(key: string, pos: unknown): TableState | undefined {
    const t = this.tables.get(key);
    if (!t) {
      this.errors.add(posOf(pos), `unknown table '${key}'`);
      return undefined;
    }
    if (this.ownTables.has(t)) return t;
    // Overlays, not copies: touching one chain of 10,000 costs O(1) here (overlay-map.ts).
    const c: TableState = { json: t.json, chains: new OverlayMap(t.chains), sets: new OverlayMap(t.sets), objs: new Map(t.objs), flowtables: new Map(t.flowtables), refs: new OverlayMap(t.refs), nextHandle: t.nextHandle };
    this.ownTables.add(c);
    this.tables.set(key, c);
    this.touchedTables.add(key);
    return c;
  }

  mutChain(t: TableState, name: string, pos: unknown): ChainState | undefined {
    const c = t.chains.get(name);
    if (!c) {
      this.errors.add(posOf(pos), `unknown chain '${name}' in table ${t.json.family} ${t.json.name}`);
      return undefined;
    }
    if (this.ownChains.has(c)) return c;
    const n: ChainState = { json: c.json, rules: c.rules.slice(), compiled: c.compiled.slice(), id: c.id, out: new Map(c.out) };
    this.ownChains.add(n);
    t.chains.set(name, n);
    this.touchedChains.add(n);
    return n;
  }

  private mutSet(t: TableState, name: string, pos: unknown): SetState | undefined {
    const s = t.sets.get(name);
    if (!s) {
      this.errors.add(posOf(pos), `unknown set '${name}' in table ${t.json.family} ${t.json.name}`);
      return undefined;
    }
    if (this.ownSets.has(s)) return s;
    const n: SetState = { json: s.json, isMap: s.isMap, elems: s.elems, id: s.id };
    this.ownSets.add(n);
    t.sets.set(name, n);
    this.touchedSets.add(n);
    this.pending.set(n, { adds: new Map(), dels: new Set(), flushed: false });
    return n;
  }

  apply(cmd: Command): void {
    const verb = onlyKey(cmd) as Verb | undefined;
    if (verb === undefined) {
      this.errors.add(posOf(cmd), 'a command has exactly one verb (add, insert, replace, delete, flush)');
      return;
    }
    const obj = cmd[verb] as Record<string, unknown>;
    const kind = obj !== null && typeof obj === 'object' ? firstKey(obj) : undefined;
    const body = (kind === undefined ? undefined : obj[kind]) as never;
    const pos = posOf(cmd) ? cmd : body;
    switch (kind) {
      case 'ruleset':
        if (verb !== 'flush') return this.errors.add(posOf(pos), `cannot ${verb} the ruleset`);
        this.tables = new Map();
        this.lastTable = undefined;
        this.rulesetFlushed = true;
        this.structureChanged = true;
        this.changes.push({ op: 'flush', kind: 'ruleset' });
        return;
      case 'table':
        return this.table(verb, body, pos);
      case 'chain':
        return this.chain(verb, body, pos);
      case 'rule':
        return this.rule(verb, body, pos);
      case 'set':
      case 'map':
        return this.set(verb, body, kind === 'map', pos);
      case 'element':
        return this.element(verb, body, pos);
      case 'counter':
      case 'quota':
      case 'limit':
      case 'ct helper':
        return this.obj(verb, kind, body, pos);
      case 'flowtable':
        return this.flowtable(verb, body, pos);
      default:
        this.errors.add(posOf(pos), `unknown object '${kind}' (table, chain, rule, set, map, element, counter, quota, limit, ct helper, flowtable, ruleset)`);
    }
  }

  private table(verb: Verb, j: TableJ, pos: unknown): void {
    this.lastTable = undefined;
    const key = tableKey(j.family, j.name);
    const exists = this.tables.get(key);
    switch (verb) {
      case 'add':
      case 'create': {
        if (exists) {
          if (verb === 'create') this.errors.add(posOf(pos), `table ${key} already exists`);
          return;
        }
        const json: TableJ = { family: j.family, name: j.name, handle: this.nextHandle++ };
        if (j.comment !== undefined) json.comment = j.comment;
        const t: TableState = { json, chains: new Map(), sets: new Map(), objs: new Map(), flowtables: new Map(), refs: new Map(), nextHandle: 1 };
        this.ownTables.add(t);
        this.tables.set(key, t);
        this.touchedTables.add(key);
        this.structureChanged = true;
        this.changes.push({ op: 'add', kind: 'table', family: j.family, table: j.name, handle: json.handle, object: { table: json } });
        return;
      }
      case 'delete': {
        if (!exists) return this.errors.add(posOf(pos), `unknown table '${key}'`);
        this.tables.delete(key);
        this.structureChanged = true;
        this.changes.push({ op: 'delete', kind: 'table', family: j.family, table: j.name, handle: exists.json.handle });
        return;
      }
      case 'flush': {
        const t = this.mutTable(key, pos);
        if (!t) return;
        for (const name of [...t.chains.keys()]) this.flushChain(t, name, pos);
        this.changes.push({ op: 'flush', kind: 'table', family: j.family, table: j.name });
        return;
      }
      default:
        this.errors.add(posOf(pos), `cannot ${verb} a table`);
    }
  }

  /** `add|create|delete counter|quota|limit`: a named stateful object (objects.ts). */
  private obj(verb: Verb, kind: ObjKind, j: ObjJ, pos: unknown): void {
    const t = this.mutTableOf(j.family, j.table, pos);
    if (!t) return;
    const key = objKey(kind, j.name);
    const exists = t.objs.get(key);
    switch (verb) {
      case 'add':
      case 'create': {
        if (exists) {
          // As nft: adding an object that exists leaves it (and its values) as it is.
          if (verb === 'create') this.errors.add(posOf(pos), `${kind} '${j.name}' already exists`);
          return;
        }
        const err = checkObjSpec(kind, j, this.registry);
        if (err) return this.errors.add(posOf(pos), `${kind} '${j.name}': ${err}`);
        const json: ObjJ = { ...j, handle: t.nextHandle++ };
        // nft lists a helper's l3proto always (the table's family when none was given).
        if (kind === 'ct helper') json.l3proto = helperL3(j);
        delete (json as { [POS]?: unknown })[POS];
        t.objs.set(key, makeObj(kind, json, this.nextId++, this.registry, j.family));
        this.structureChanged = true;
        this.changes.push({ op: 'add', kind, family: j.family, table: j.table, name: j.name, handle: json.handle, object: { [kind]: json } });
        return;
      }
      case 'delete': {
        if (!exists) return this.errors.add(posOf(pos), `unknown ${kind} '${j.name}' in table ${j.family} ${j.table}`);
        t.objs.delete(key);
        this.deletedObjs.push({ table: t, key, pos });
        this.structureChanged = true;
        this.changes.push({ op: 'delete', kind, family: j.family, table: j.table, name: j.name, handle: exists.json.handle });
        return;
      }
      default:
        this.errors.add(posOf(pos), `cannot ${verb} a ${kind}`);
    }
  }

  /** `add|create|delete flowtable` (flowtables.ts). */
  private flowtable(verb: Verb, j: FlowtableJ, pos: unknown): void {
    const t = this.mutTableOf(j.family, j.table, pos);
    if (!t) return;
    const exists = t.flowtables.get(j.name);
    switch (verb) {
      case 'add':
      case 'create': {
        const err = checkFlowtableSpec(j);
        if (err) return this.errors.add(posOf(pos), `flowtable '${j.name}': ${err}`);
        if (exists) {
          if (verb === 'create') return this.errors.add(posOf(pos), `flowtable '${j.name}' already exists`);
          // nft adds the new devices to an existing flowtable; its hook and priority cannot change.
          if (j.prio !== exists.json.prio) return this.errors.add(posOf(pos), `flowtable '${j.name}' exists with priority ${exists.json.prio}: its priority cannot change (nft: Operation not supported)`);
          const devs = [...exists.devices];
          for (const d of typeof j.dev === 'string' ? [j.dev] : j.dev ?? []) if (!devs.includes(d)) devs.push(d);
          if (devs.length === exists.devices.length) return;
          const json: FlowtableJ = { ...exists.json, dev: devs.length === 1 ? devs[0] : devs };
          // A new state (the old one retires): its flows take the slow path once and are offloaded again.
          t.flowtables.set(j.name, new FlowtableState(json, this.nextId++));
          this.structureChanged = true;
          this.changes.push({ op: 'add', kind: 'flowtable', family: j.family, table: j.table, name: j.name, handle: json.handle, object: { flowtable: json } });
          return;
        }
        const json: FlowtableJ = { family: j.family, table: j.table, name: j.name, handle: t.nextHandle++, hook: j.hook, prio: j.prio };
        if (j.dev !== undefined) json.dev = Array.isArray(j.dev) && j.dev.length === 1 ? j.dev[0] : Array.isArray(j.dev) ? [...j.dev] : j.dev;
        t.flowtables.set(j.name, new FlowtableState(json, this.nextId++));
        this.structureChanged = true;
        this.changes.push({ op: 'add', kind: 'flowtable', family: j.family, table: j.table, name: j.name, handle: json.handle, object: { flowtable: json } });
        return;
      }
      case 'delete': {
        if (!exists) return this.errors.add(posOf(pos), `unknown flowtable '${j.name}' in table ${j.family} ${j.table}`);
        t.flowtables.delete(j.name);
        this.deletedFlowtables.push({ table: t, name: j.name, pos });
        this.structureChanged = true;
        this.changes.push({ op: 'delete', kind: 'flowtable', family: j.family, table: j.table, name: j.name, handle: exists.json.handle });
        return;
      }
      default:
        this.errors.add(posOf(pos), `cannot ${verb} a flowtable`);
    }
  }

  private chain(verb: Verb, j: ChainJ, pos: unknown): void {
    const t = this.mutTableOf(j.family, j.table, pos);
    if (!t) return;
    const exists = t.chains.get(j.name);
    switch (verb) {
      case 'add':
      case 'create': {
        const base = j.hook !== undefined;
        if (base && (j.type === undefined || j.prio === undefined)) {
          return this.errors.add(posOf(pos), `base chain '${j.name}' needs type, hook and priority`);
        }
        if (exists) {
          if (verb === 'create') return this.errors.add(posOf(pos), `chain '${j.name}' already exists`);
          if (!base) return;
          if (exists.json.hook !== undefined && (exists.json.hook !== j.hook || exists.json.type !== j.type)) {
            return this.errors.add(posOf(pos), `chain '${j.name}' already exists with hook ${exists.json.hook}; its hook cannot change`);
          }
          const c = this.mutChain(t, j.name, pos)!;
          c.json = { ...c.json, type: j.type, hook: j.hook, prio: j.prio, policy: j.policy ?? c.json.policy ?? 'accept' };
          this.structureChanged = true;
          return;
        }
        const json: ChainJ = { family: j.family, table: j.table, name: j.name, handle: t.nextHandle++ };
        if (base) {
          json.type = j.type;
          json.hook = j.hook;
          json.prio = j.prio;
          json.policy = j.policy ?? 'accept';
        }
        if (j.comment !== undefined) json.comment = j.comment;
        const c: ChainState = { json, rules: [], compiled: [], id: this.nextId++, out: new Map() };
        this.ownChains.add(c);
        t.chains.set(j.name, c);
        this.touchedChains.add(c);
        this.structureChanged = true;
        positions.set(c, posOf(j) ?? posOf(pos));
        this.changes.push({ op: 'add', kind: 'chain', family: j.family, table: j.table, chain: j.name, handle: json.handle, object: { chain: json } });
        return;
      }
      case 'delete': {
        if (!exists) return this.errors.add(posOf(pos), `unknown chain '${j.name}'`);
        this.flushChain(t, j.name, pos);
        t.chains.delete(j.name);
        this.deletedChains.push({ table: t, name: j.name, pos });
        this.structureChanged = true;
        this.changes.push({ op: 'delete', kind: 'chain', family: j.family, table: j.table, chain: j.name, handle: exists.json.handle });
        return;
      }
      case 'flush':
        if (!exists) return this.errors.add(posOf(pos), `unknown chain '${j.name}'`);
        this.flushChain(t, j.name, pos);
        this.changes.push({ op: 'flush', kind: 'chain', family: j.family, table: j.table, chain: j.name });
        return;
      default:
        this.errors.add(posOf(pos), `cannot ${verb} a chain`);
    }
  }

  private flushChain(t: TableState, name: string, pos: unknown): void {
    const c = this.mutChain(t, name, pos);
    if (!c) return;
    for (const r of c.rules) this.drop(t, c, r);
    c.rules = [];
    c.compiled = [];
  }

  private drop(t: TableState, c: ChainState, r: RuleJ): void {
    if (this.newRules.delete(r)) return; // added in this batch, never counted
    this.goneRules.push({ table: t, chain: c, rule: r });
  }

  private rule(verb: Verb, j: RuleJ, pos: unknown): void {
    const t = this.mutTableOf(j.family, j.table, pos);
    if (!t) return;
    const c = this.mutChain(t, j.chain, pos);
    if (!c) return;
    switch (verb) {
      case 'add':
      case 'create':
      case 'insert': {
        let at: number;
        if (j.position !== undefined) {
          const i = this.ruleIndex(c, j, pos, j.position, 'position');
          if (i < 0) return;
          at = verb === 'insert' ? i : i + 1;
        } else if (j.index !== undefined) {
          if (j.index < 0 || j.index > c.rules.length) return this.errors.add(posOf(pos), `index ${j.index} is outside chain ${j.chain} (0..${c.rules.length})`);
          at = verb === 'insert' ? j.index : j.index + 1;
          if (at > c.rules.length) at = c.rules.length;
        } else at = verb === 'insert' ? 0 : c.rules.length;
        const r = this.freshRule(t, j, pos);
        if (at === c.rules.length) {
          c.rules.push(r);
          c.compiled.push(undefined);
        } else {
          c.rules.splice(at, 0, r);
          c.compiled.splice(at, 0, undefined);
        }
        this.changes.push({ op: verb === 'insert' ? 'insert' : 'add', kind: 'rule', family: j.family, table: j.table, chain: j.chain, handle: r.handle, object: { rule: r } });
        return;
      }
      case 'replace': {
        const i = this.ruleIndex(c, j, pos, j.handle, 'replace');
        if (i < 0) return;
        this.drop(t, c, c.rules[i]);
        // The rule keeps its handle (as in nft); its anonymous sets still take new ones.
        const r = this.freshRule(t, j, pos, j.handle);
        c.rules[i] = r;
        c.compiled[i] = undefined;
        this.changes.push({ op: 'replace', kind: 'rule', family: j.family, table: j.table, chain: j.chain, handle: r.handle, object: { rule: r } });
        return;
      }
      case 'delete': {
        const i = this.ruleIndex(c, j, pos, j.handle, 'delete');
        if (i < 0) return;
        this.drop(t, c, c.rules[i]);
        c.rules.splice(i, 1);
        c.compiled.splice(i, 1);
        this.changes.push({ op: 'delete', kind: 'rule', family: j.family, table: j.table, chain: j.chain, handle: j.handle });
        return;
      }
      default:
        this.errors.add(posOf(pos), `cannot ${verb} a rule`);
    }
  }

  private ruleIndex(c: ChainState, j: RuleJ, pos: unknown, h: number | undefined, what: string): number {
    let i = -1;
    if (h !== undefined) for (let k = 0; k < c.rules.length && i < 0; k++) if (c.rules[k].handle === h) i = k;
    if (i < 0) this.errors.add(posOf(pos), `no rule with handle ${h} in chain ${j.chain} (${what})`);
    return i;
  }

  /**
   * The committed copy of a rule command's rule, in nft's canonical form (canonical.ts),
   * with a new handle (or `keep`, for replace) and its source position.
   */
  private freshRule(t: TableState, j: RuleJ, pos: unknown, keep?: number): RuleJ {
    const expr = canonicalExpr(j.expr, this.registry, j.family);
    const dyn = Array.isArray(expr) ? dynsetTargets(expr) : undefined;
    if (dyn !== undefined) {
      // As the kernel: each meter is a set of the table, whose handle comes before the rule's.
      t.nextHandle += dyn.meters;
      // A set the packet path fills gets nft's default size (listed from then on, as nft does).
      for (const name of dyn.sets) this.defaultDynamicSize(j.family, j.table, name, pos);
    }
    // nft makes each anonymous set or map a set of the table first: it takes a handle.
    t.nextHandle += anonymousSets(expr);
    // Position, references and compiled form are slots of the literal (state.ts RULE_REFS).
    const r: RuleJ = {
      family: j.family, table: j.table, chain: j.chain, handle: keep ?? t.nextHandle++, expr,
      [POS]: markOf(j) ?? markOf(pos), [RULE_REFS]: undefined, [RULE_COMPILED]: undefined,
    } as RuleJ;
    if (j.comment !== undefined) r.comment = j.comment;
    this.newRules.add(r);
    return r;
  }

  private defaultDynamicSize(family: string, table: string, name: string, pos: unknown): void {
    const t = this.tables.get(`${family} ${table}`);
    const cur = t?.sets.get(name);
    if (!t || !cur || cur.json.size !== undefined) return; // validation reports what is wrong
    const s = this.mutSet(t, name, pos)!;
    s.json = { ...s.json, size: DYNAMIC_SET_DEFAULT_SIZE };
  }

  private set(verb: Verb, j: SetJ, isMap: boolean, pos: unknown): void {
    const t = this.mutTableOf(j.family, j.table, pos);
    if (!t) return;
    const exists = t.sets.get(j.name);
    const kind = isMap ? 'map' : 'set';
    switch (verb) {
      case 'add':
      case 'create': {
        if (exists) {
          if (verb === 'create') return this.errors.add(posOf(pos), `${kind} '${j.name}' already exists`);
          const same = JSON.stringify(exists.json.type) === JSON.stringify(j.type) && exists.json.map === j.map;
          if (!same) return this.errors.add(posOf(pos), `${kind} '${j.name}' already exists with another type`);
          if (j.elem?.length) this.addElems(t, j.name, j.elem, pos);
          return;
        }
        const json: SetJ = { family: j.family, table: j.table, name: j.name, handle: t.nextHandle++, type: j.type };
        if (j.map !== undefined) json.map = j.map;
        if (j.flags?.length) json.flags = j.flags.slice();
        if (j.timeout !== undefined) json.timeout = j.timeout;
        if (j.size !== undefined) json.size = j.size;
        // `performance` is nft's default and not listed (nor kept): the same set either way.
        if (j.policy === 'memory') json.policy = 'memory';
        if (j['auto-merge'] === true) json['auto-merge'] = true;
        if (j.comment !== undefined) json.comment = j.comment;
        if (j[SET_TYPEOF] !== undefined) json[SET_TYPEOF] = j[SET_TYPEOF];
        const s: SetState = { json, isMap, elems: new Map(), id: this.nextId++ };
        this.ownSets.add(s);
        t.sets.set(j.name, s);
        this.touchedSets.add(s);
        this.pending.set(s, { adds: new Map(), dels: new Set(), flushed: true });
        positions.set(s, posOf(j) ?? posOf(pos));
        this.changes.push({ op: 'add', kind, family: j.family, table: j.table, name: j.name, handle: json.handle, object: { [kind]: json } });
        if (j.elem?.length) this.addElems(t, j.name, j.elem, pos);
        return;
      }
      case 'delete': {
        if (!exists) return this.errors.add(posOf(pos), `unknown ${kind} '${j.name}'`);
        t.sets.delete(j.name);
        this.deletedSets.push({ table: t, name: j.name, pos });
        this.structureChanged = true;
        this.changes.push({ op: 'delete', kind, family: j.family, table: j.table, name: j.name, handle: exists.json.handle });
        return;
      }
      case 'flush': {
        const s = this.mutSet(t, j.name, pos);
        if (!s) return;
        const p = this.pending.get(s)!;
        p.flushed = true;
        p.adds.clear();
        p.dels.clear();
        this.changes.push({ op: 'flush', kind, family: j.family, table: j.table, name: j.name });
        return;
      }
      default:
        this.errors.add(posOf(pos), `cannot ${verb} a ${kind}`);
    }
  }

  private addElems(t: TableState, name: string, elems: NonNullable<SetJ['elem']>, pos: unknown): void {
    const s = this.mutSet(t, name, pos);
    if (!s) return;
    for (const item of elems) {
      const o = elemOptions(item, s.isMap);
      const timeout = o.timeout ?? s.json.timeout;
      const entry: ElemEntry = { item, expiresAt: timeout ? this.nowMs + timeout * 1000 : 0 };
      elemPositions.set(entry, posOf(item) ?? posOf(pos));
      const k = elemKey(item, s.isMap);
      const p = this.pending.get(s)!;
      p.adds.set(k, entry);
      p.dels.delete(k);
    }
    this.changes.push({ op: 'add', kind: 'element', family: t.json.family, table: t.json.name, name, object: { element: { family: t.json.family, table: t.json.name, name, elem: elems } } });
  }

  private element(verb: Verb, j: ElementJ, pos: unknown): void {
    const t = this.mutTableOf(j.family, j.table, pos);
    if (!t) return;
    if (!Array.isArray(j.elem)) return this.errors.add(posOf(pos), 'element needs an elem list');
    if (verb === 'add' || verb === 'create') return this.addElems(t, j.name, j.elem, pos);
    if (verb === 'delete') {
      const s = this.mutSet(t, j.name, pos);
      if (!s) return;
      for (const item of j.elem) {
        const k = elemKey(item, s.isMap && Array.isArray(item));
        const p = this.pending.get(s)!;
        const inBase = !p.flushed && s.elems.has(k) && !p.dels.has(k);
        if (p.adds.delete(k)) {
          if (inBase) p.dels.add(k);
        } else if (inBase) p.dels.add(k);
        else if (s.json.flags?.includes('dynamic') && !s.isMap) (p.dynDels ??= new Map()).set(k, item);
        else this.errors.add(posOf(item) ?? posOf(pos), `element ${k} is not in set '${j.name}'`);
      }
      this.changes.push({ op: 'delete', kind: 'element', family: j.family, table: j.table, name: j.name, object: { element: j } });
      return;
    }
    this.errors.add(posOf(pos), `cannot ${verb} an element`);
  }
}

/** Every element a touched set will hold after the batch (O(set size)). */
export function* elementsAfter(s: SetState, p: PendingElems | undefined): Iterable<ElemEntry> {
  if (!p) {
    yield* s.elems.values();
    return;
  }
  if (!p.flushed) {
    for (const [k, e] of s.elems) if (!p.dels.has(k) && !p.adds.has(k)) yield e;
  }
  yield* p.adds.values();
}

/** Applies a batch's element changes to the (shared) element maps: the commit step. */
export function commitElements(d: Draft): void {
  for (const [s, p] of d.pending) {
    if (p.flushed) s.elems = new Map(p.adds);
    else {
      for (const k of p.dels) s.elems.delete(k);
      for (const [k, e] of p.adds) s.elems.set(k, e);
    }
  }
}

/** Source positions of state objects (for errors found after the batch: loops, references). */
export const positions = new WeakMap<object, ReturnType<typeof posOf>>();
/** Rules carry their position themselves (errors.ts POS); this view keeps call sites readable. */
export const rulePositions = { get: (r: RuleJ) => posOf(r) };
export const elemPositions = new WeakMap<ElemEntry, ReturnType<typeof posOf>>();
