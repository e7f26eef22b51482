/**
 * The ruleset as committed: tables holding chains (ordered rules) and sets, with
 * handles. Immutable once committed; a transaction works on a Draft that copies only
 * what it touches (the tables map, a touched table's maps, a touched chain's rule
 * array), so a one-rule change costs the size of one chain's pointer array, not the
 * size of the ruleset.
 */
import type { ChainJ, Family, RuleJ, SetJ, TableJ, Value, VerdictJ } from './ast.js';
import type { CompiledRule } from './compiled-ruleset.js';
import type { ObjState } from './objects.js';
import type { FlowtableState } from './flowtables.js';

/**
 * Per-rule data kept on committed rule objects under symbol keys (see errors.ts POS):
 * what the rule references (validate.ts) and its compiled form (engine.ts). Declared
 * here so a new rule is created with these slots in its literal: adding a property to
 * an existing object allocates a property array, and a load makes 10,000s of rules.
 */
export const RULE_REFS: unique symbol = Symbol('refs');
export const RULE_COMPILED: unique symbol = Symbol('compiled');

export interface ChainState {
  json: ChainJ;
  rules: RuleJ[];
  /** Compiled form of each rule, index for index; undefined for rules new in a draft (filled at commit). */
  compiled: (CompiledRule | undefined)[];
  /** Stable id for the chain's lifetime: compiled jumps name chains by id. */
  id: number;
  /** Outgoing references counted per kind and name: "j:NAME", "g:NAME", "m:MAP". */
  out: Map<string, number>;
}

export type ElemItem = Value | [Value, Value | VerdictJ];

export interface ElemEntry {
  item: ElemItem;
  /** Absolute expiry (engine clock, ms); 0 = never. */
  expiresAt: number;
}

export interface SetState {
  json: SetJ; // without elem
  isMap: boolean;
  /** Committed elements by elemKey. Shared between a set and its draft copy; changed only at commit. */
  elems: Map<string, ElemEntry>;
  id: number;
}

export interface TableState {
  json: TableJ;
  chains: Map<string, ChainState>;
  sets: Map<string, SetState>;
  /** Named stateful objects by "KIND NAME" (objects.ts); copied whole when a draft touches the table (they are few). */
  objs: Map<string, ObjState>;
  /** Flowtables by name (flowtables.ts); copied whole when a draft touches the table, as objs. */
  flowtables: Map<string, FlowtableState>;
  /** How many rules reference a chain ("c:NAME"), set ("s:NAME") or object ("o:KIND NAME") or flowtable ("f:NAME"). */
  refs: Map<string, number>;
  /**
   * The table's handle counter, as the kernel keeps one per table: its chains, sets,
   * objects and rules (and the anonymous sets nft makes for a rule's `{ ... }`) take the
   * next number, never reused while the table lives (handles.ts).
   */
  nextHandle: number;
}
// In a Draft these maps are OverlayMaps over the committed ones (transaction.ts).

export class RulesetState {
  constructor(
    readonly tables: Map<string, TableState> = new Map(),
    /** Table handles: one counter for all tables (the kernel's per-namespace one); `flush ruleset` does not reset it. */
    readonly nextHandle = 1,
    readonly nextId = 1,
  ) {}

  table(family: Family, name: string): TableState | undefined {
    return this.tables.get(tableKey(family, name));
  }

  counts(): { tables: number; chains: number; rules: number; sets: number } {
    let chains = 0;
    let rules = 0;
    let sets = 0;
    for (const t of this.tables.values()) {
      chains += t.chains.size;
      sets += t.sets.size;
      for (const c of t.chains.values()) rules += c.rules.length;
    }
    return { tables: this.tables.size, chains, rules, sets };
  }
}

export function tableKey(family: Family, name: string): string {
  return `${family} ${name}`;
}

/** The key of an element ([key, data] for maps), without element options. */
export function elemValue(item: ElemItem, isMap: boolean): Value {
  let v = (isMap && Array.isArray(item) ? item[0] : item) as Value;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'elem' in v) v = v.elem.val;
  return v;
}

/** Canonical identity of an element's key (JSON of the key as written). */
export function elemKey(item: ElemItem, isMap: boolean): string {
  return JSON.stringify(elemValue(item, isMap));
}

/** Element options: timeout (s) and comment, when written as {elem: {...}}. */
export function elemOptions(item: ElemItem, isMap: boolean): { timeout?: number; comment?: string } {
  const v = (isMap && Array.isArray(item) ? item[0] : item) as Value;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'elem' in v) return v.elem;
  return {};
}
