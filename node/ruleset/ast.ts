/**
 * The generic structure: the ruleset as libnftables' JSON schema describes it
 * (`man libnftables-json`). The parser produces these objects, the JSON codec reads and
 * writes them as they are, the printer prints them, validation and the compiler read
 * them. Source positions live beside them (errors.ts `posOf`), never inside.
 */

export type Family = 'ip' | 'ip6' | 'inet';
export const FAMILIES: readonly Family[] = ['ip', 'ip6', 'inet'];

export type HookName = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
export const HOOKS: readonly HookName[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

export type ChainType = 'filter' | 'nat' | 'route';
export const CHAIN_TYPES: readonly ChainType[] = ['filter', 'nat', 'route'];
export type Policy = 'accept' | 'drop';

/**
 * A scalar value as libnftables writes it: a number or a string (address, symbol, name), or
 * a boolean for nft's `exists` / `missing` (`tcp option sack-perm exists`: `"right": true`).
 */
export type Scalar = number | string | boolean;

/** Right-hand values and set elements. */
export type Value =
  | Scalar
  | { prefix: { addr: string; len: number } }
  | { range: [Value, Value] }
  | { set: SetItem[] }
  | { concat: Value[] }
  | Scalar[] // flag list: ["established", "related"]
  | { elem: ElemJ };

/** An element of an anonymous set or map: a value, or [key, data] for maps. */
export type SetItem = Value | [Value, Value | VerdictJ];

export interface ElemJ {
  val: Value;
  timeout?: number;
  expires?: number;
  comment?: string;
  /** The element's own stateful statements (elem-exprs.ts), as libnftables writes them. */
  counter?: unknown;
  limit?: unknown;
  quota?: unknown;
  'ct count'?: unknown;
}

/** Left-hand side of a match: what to read from the packet / metadata. */
export type Selector =
  | { payload: { protocol: string; field: string } }
  | { meta: { key: string } }
  | { ct: { key: string; dir?: 'original' | 'reply' } }
  | { fib: { result: string; flags: string[] } }
  | { 'tcp option': { name: string; field?: string } }
  | { rt: { key: string } }
  | { exthdr: { name: string; field?: string } }
  | { 'sctp chunk': { name: string; field?: string } }
  | { concat: Selector[] }
  | { '&': [Selector, Value] }
  | { numgen: { mode: 'inc' | 'random'; mod: number; offset?: number } }
  | { jhash: { mod: number; seed?: number; offset?: number; expr: Selector } }
  | { symhash: { mod: number; offset?: number } };

export type MatchOp = '==' | '!=' | '<' | '>' | '<=' | '>=' | 'in';

export type VerdictJ =
  | { accept: null }
  | { drop: null }
  | { continue: null }
  | { return: null }
  | { jump: { target: string } }
  | { goto: { target: string } };

/** One statement of a rule's `expr` list. Modules own the shapes other than match. */
export type Stmt = { match: { op: MatchOp; left: Selector; right: Value } } | Record<string, unknown>;

export interface TableJ {
  family: Family;
  name: string;
  handle?: number;
  comment?: string;
}

export interface ChainJ {
  family: Family;
  table: string;
  name: string;
  handle?: number;
  type?: ChainType;
  hook?: HookName;
  prio?: number;
  policy?: Policy;
  comment?: string;
}

export interface RuleJ {
  family: Family;
  table: string;
  chain: string;
  handle?: number;
  /** Position for `insert`/`add ... position N` (handle of the reference rule). */
  position?: number;
  /** Position by index (libnftables `index`). */
  index?: number;
  expr: Stmt[];
  comment?: string;
}

/**
 * How a set's key (and a map's data) was declared with `typeof`: the selectors, kept so the
 * set lists as `typeof ip saddr . tcp dport` as nft lists it (nft keeps them in the set's
 * user data). Not JSON: libnftables' JSON has the types only (nft -j lists `type`).
 */
export const SET_TYPEOF: unique symbol = Symbol('typeof');
export interface SetTypeof {
  key: Selector;
  data?: Selector;
}

export interface SetJ {
  [SET_TYPEOF]?: SetTypeof;
  family: Family;
  table: string;
  name: string;
  handle?: number;
  /** Key type: a name, or a list of names for a concatenation. */
  type: string | string[];
  /** For maps: the data type ("verdict", "mark", ...). */
  map?: string;
  flags?: string[];
  /** Default element timeout in seconds. */
  timeout?: number;
  /** Most elements the set may hold (nft `size`); adding past it is refused. */
  size?: number;
  /** nft's structure hint; only `memory` is kept (`performance` is the default, unlisted as in nft). */
  policy?: 'memory';
  /** Interval sets: overlapping and adjacent elements are accepted and match as their union. */
  'auto-merge'?: boolean;
  elem?: (Value | [Value, Value | VerdictJ])[];
  comment?: string;
}

export interface ElementJ {
  family: Family;
  table: string;
  name: string;
  elem: (Value | [Value, Value | VerdictJ])[];
}

/** An object of the ruleset array. `map` is a set with `map` data (libnftables keeps them apart). */
/**
 * A named stateful object (`counter NAME { ... }`, `quota NAME { ... }`, `limit NAME { ... }`),
 * in libnftables' JSON shape: the counter's packets/bytes, the quota's bytes/used/inv, the
 * limit's rate/per/burst/inv (and rate_unit/burst_unit for a byte limit).
 */
export interface ObjJ {
  family: Family;
  table: string;
  name: string;
  handle?: number;
  comment?: string;
  packets?: number;
  bytes?: number;
  used?: number;
  inv?: boolean;
  rate?: number;
  per?: string;
  burst?: number;
  rate_unit?: string;
  burst_unit?: string;
  /** ct helper: the helper ("ftp"), its layer-4 protocol ("tcp") and layer 3 ("ip", "ip6", "inet"). */
  type?: string;
  protocol?: string;
  l3proto?: string;
}

/**
 * A flowtable (`flowtable f { hook ingress priority filter; devices = { lan, wan }; }`) in
 * libnftables' JSON shape: `dev` is one name as a string, several as an array (as nft
 * lists it). See flowtables.ts for what it means in hafw.
 */
export interface FlowtableJ {
  family: Family;
  table: string;
  name: string;
  handle?: number;
  hook?: string;
  prio?: number;
  dev?: string | string[];
}

export const OBJECT_KINDS = ['counter', 'quota', 'limit', 'ct helper'] as const;
export type ObjKind = (typeof OBJECT_KINDS)[number];

export type RulesetObj =
  | { metainfo: Record<string, unknown> }
  | { counter: ObjJ }
  | { quota: ObjJ }
  | { limit: ObjJ }
  | { 'ct helper': ObjJ }
  | { flowtable: FlowtableJ }
  | { table: TableJ }
  | { chain: ChainJ }
  | { rule: RuleJ }
  | { set: SetJ }
  | { map: SetJ }
  | { element: ElementJ };

/** A command: a verb applied to an object (libnftables JSON commands). */
export type Verb = 'add' | 'create' | 'insert' | 'replace' | 'delete' | 'flush';
export type Command = { [V in Verb]?: RulesetObj | { ruleset: null } };

export interface RulesetJson {
  nftables: (RulesetObj | Command)[];
}
