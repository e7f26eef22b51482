/**
 * The module registry: the one place that knows which matches, statements and data
 * types exist. The parser, printer, JSON codec, validation, compiler and `schema`
 * all read it, so adding a match is adding one module file and one `register` call.
 */
import type { ChainJ, Family, ObjKind, Selector, Stmt, Value, VerdictJ, SetJ } from './ast.js';
import type { ObjState } from './objects.js';
import type { FlowtableState } from './flowtables.js';
import type { DataType, EncodeEnv } from './data-types.js';
import type { ClassifyContext, LogSink } from './context.js';
import type { Token } from './lexer.js';
import type { ErrorList, Pos } from './errors.js';
import type { CompiledSet } from './set-structures.js';

/** A compiled statement: returns a Code (codes.ts). Created once per rule, called per packet. */
export type StmtFn = (ctx: ClassifyContext) => number;

export interface ParamSchema {
  name: string;
  type: string;
  required?: boolean;
  help: string;
}

/** What a module's `parse` may use of the parser. */
export interface TextReader {
  readonly file: string;
  /** The family of the table the rule being read is in. */
  readonly tableFamily: Family;
  peek(): Token;
  next(): Token;
  isWord(text?: string): boolean;
  acceptWord(text: string): boolean;
  /** Consumes the punctuation `p` (`,`, `(`...) when it comes next. */
  acceptPunct(p: string): boolean;
  /** The token k places ahead (0: the next one), without consuming anything. */
  peekAt(k: number): Token | undefined;
  expectWord(text?: string): Token;
  /** A chain (table, set...) name: refused when it is one of nft's keywords (nft-keywords.ts). */
  expectName(what: string): Token;
  /** A quoted string or a bare word. */
  string(): string;
  integer(): number;
  /** True at `;`, end of line, `}` or end of input: the rule ends here. */
  atRuleEnd(): boolean;
  error(message: string, tok?: Token): never;
  /** One right-hand value of the given key types (several for a concatenation). */
  value(types: DataType[]): Value;
  verdict(): VerdictJ;
  /** Key types of a selector (throws a positioned error when unknown). */
  typesOf(sel: Selector): DataType[];
  /**
   * `{ KEY : VERDICT, ... }` or `@NAME` after `vmap`; with `data`, `{ KEY : VALUE, ... }` after
   * `map`; with several data types, each VALUE may be `A . B` (up to that many parts).
   */
  mapData(types: DataType[], data?: DataType | DataType[]): string | { set: [Value, VerdictJ | Value][] };
  /** A selector (or concatenation) if the next words name one. */
  trySelectorExpr(): Selector | undefined;
  /** One statement of a rule (for statements that hold others: `add @s { ip saddr counter }`). */
  statement(): Stmt;
  /** Consumes the punctuation `p` or stops with a positioned error. */
  expectPunct(p: string): Token;
}

/** What a module's `print` may use of the printer. */
export interface PrintHelper {
  value(v: Value, types: DataType[]): string;
  selector(sel: Selector): string;
  verdict(v: VerdictJ): string;
  quote(s: string): string;
  typesOf(sel: Selector): DataType[];
  /** A statement's text, as its module prints it (statements that hold others). */
  statement(stmt: Stmt): string;
}

/** Per-rule environment for validation. */
export interface ValidateEnv {
  family: Family;
  errors: ErrorList;
  /** Where the statement being checked is (read it only to report an error: it is computed). */
  readonly pos: Pos | undefined;
  registry: Registry;
  findSet(name: string): SetJ | undefined;
  hasChain(name: string): boolean;
  /** The chain the rule is in (NAT statements check its type and hook). */
  chain?: ChainJ;
  /** Base chains (with a hook) cannot be jump/goto targets (nft refuses them too). */
  isBaseChain(name: string): boolean;
  /** Records a jump/goto edge (validation walks the chain graph once). */
  edge(target: string, isGoto: boolean): void;
  /** Data types of a selector (one per concatenation part), or an error message. */
  selectorTypes(sel: Selector): DataType[] | string;
  /** Checks a value against key types; returns an error message or null. */
  checkValue(v: Value, types: DataType[]): string | null;
  /** Does the table hold this named object? Records the rule's reference to it (delete is refused while referenced). */
  findObject(kind: ObjKind, name: string): boolean;
  /** Does the table hold this flowtable? Records the rule's reference to it. */
  findFlowtable(name: string): boolean;
  /**
   * An earlier statement of the rule matched the transport protocol (`meta l4proto tcp`,
   * `ip protocol udp`, `tcp dport 22`...): nft needs one before a NAT port (`masquerade to
   * :1024`) and before `ct original|reply proto-src|proto-dst`.
   */
  readonly transportContext: boolean;
}

export interface CompileEnv {
  family: Family;
  encode: EncodeEnv;
  registry: Registry;
  set(name: string): CompiledSet | undefined;
  chainIndex(name: string): number;
  log: LogSink;
  /** Handle of the rule being compiled (for counters). */
  ruleHandle: number;
  /** Compiles a selector into a loader of key words, with its width. */
  selector(sel: Selector): { words: number; types: DataType[]; load: (ctx: ClassifyContext, out: Uint32Array, off: number) => boolean };
  /** Compiles a match of `sel op value`. */
  match(sel: Selector, op: string, value: Value): StmtFn;
  /** Builds an anonymous set/map structure from elements. */
  anonSet(types: DataType[], items: { val: Value; data: number }[]): CompiledSet;
  verdictCode(v: VerdictJ): number;
  /** Registers a counter cell; the listing reads it by rule handle. */
  counter(cell: CounterCell): void;
  /** A named object of the rule's table (validated to exist). */
  object(kind: ObjKind, name: string): ObjState | undefined;
  /**
   * A named set the packet path adds to (`add @s`, `update @s`): its slot (the structure is
   * read through it per packet, a commit may swap it), its declaration, and the most
   * elements the packet path may leave in it (its size, default 65535, within the node's
   * ruleset.maxElements).
   */
  dynSet(name: string): { slot: { cur: CompiledSet }; json: SetJ; cap: number } | undefined;
  /** The cap on elements of a set the packet path fills that declares no size (meters too). */
  readonly dynamicCap: (size: number | undefined) => number;
  /** Tells the engine's owner that a set was full (the datapath counts it). */
  readonly setFull: () => void;
  /** A meter's private set, kept with the compiled rule so `list meters` can read it. */
  meter?(name: string, set: object): void;
  /** A flowtable of the rule's table (validated to exist). */
  flowtable(name: string): FlowtableState | undefined;
}

export interface CounterCell {
  packets: number;
  bytes: number;
}

/** A selector ("match") module: where a value comes from and what type it has. */
export interface MatchModule {
  name: string;
  /** Text keywords, e.g. ['ip', 'saddr'] or ['iifname']. */
  keywords: string[];
  /** The libnftables JSON left-hand side. */
  left: Selector;
  type: DataType;
  /** Table families it may appear in. */
  families: Family[];
  /** Packet family it reads (4 or 6); in an inet table it implies that family. */
  l3?: 4 | 6;
  help: string;
  /**
   * Writable with `set` (meta mark, ct mark, tcp option maxseg size): stores a value the
   * type has already checked. The mangle statement calls it; absent: read-only.
   */
  store?(ctx: ClassifyContext, value: number): void;
  /** Why `set` cannot write it here, for a field nft can write (`ct zone set`). */
  notWritable?: string;
  /**
   * The hooks it may be used in (base chains; as the kernel validates it): absent, any.
   * `rt mtu` needs the packet's route, which exists from forward on.
   */
  hooks?: string[];
  /** Why a field nft knows is refused here (`ct label`): any rule using it is refused with this. */
  refused?: string;
  /**
   * Why it is refused where the input interface is only inferred (validateDraft's
   * InputInterfaces `inferred`: the shared TUN device), for an expression whose meaning
   * rests on the real one (`fib saddr . iif oif`).
   */
  needsExactIif?: string;
  /** Reads the value into out[off..off+type.words); false when the packet has no such field. */
  load(ctx: ClassifyContext, out: Uint32Array, off: number): boolean;
  /**
   * A selector with parameters (`numgen inc mod 2`, `jhash ip saddr mod 4 seed 0x1`): reads
   * them after its keywords and returns the selector object (not the shared `left`).
   */
  parseParams?(r: TextReader, first: Token): Selector;
  /** Its text with the parameters. */
  printSel?(sel: Selector, p: PrintHelper): string;
  /** Checks the parameters (text and JSON alike); an error message or null. */
  checkSel?(sel: Selector, typesOf: (s: Selector) => DataType[] | string): string | null;
  /**
   * A loader for this one expression, with its parameters and its own state (numgen inc's
   * counter): called once per compiled expression instead of sharing `load`.
   */
  compileLoad?(sel: Selector, selector: CompileEnv['selector']): (ctx: ClassifyContext, out: Uint32Array, off: number) => boolean;
}

/** A statement module: counter, log, limit, verdicts, reject, mangle, vmap... */
export interface StatementModule {
  name: string;
  /** First text words that start it (e.g. ['counter']); empty for selector-led ones. */
  keywords: string[];
  /** For selector-led statements: the word after the selector (`set`, `vmap`). */
  afterSelector?: string;
  /** libnftables JSON keys this module owns (e.g. 'counter', 'mangle'). */
  jsonKeys: string[];
  help: string;
  params: ParamSchema[];
  families: Family[];
  /** Ends rule evaluation (verdicts, reject): nothing after it runs. */
  terminal?: boolean;
  parse(r: TextReader, first: Token, sel?: Selector): Stmt;
  print(stmt: Stmt, p: PrintHelper): string;
  /** Checks a JSON statement's shape; returns an error message or null. */
  checkJson(stmt: Stmt): string | null;
  validate?(stmt: Stmt, env: ValidateEnv): void;
  compile(stmt: Stmt, env: CompileEnv): StmtFn;
}

const MODULE: unique symbol = Symbol('module');

export class Registry {
  readonly types = new Map<string, DataType>();
  readonly matches: MatchModule[] = [];
  private readonly matchSet = new Set<MatchModule>();
  readonly statements: StatementModule[] = [];
  private readonly byFirstWord = new Map<string, MatchModule[]>();
  private readonly stmtByWord = new Map<string, StatementModule>();
  /** First words of statements named by two words (`ct count`). */
  private readonly twoWordFirst = new Set<string>();
  private readonly stmtAfter = new Map<string, StatementModule>();
  private readonly stmtByJson = new Map<string, StatementModule>();
  private readonly matchByLeft = new Map<string, MatchModule>();
  private readonly typesOfMatch = new Map<MatchModule, DataType[]>();

  registerType(t: DataType): void {
    this.types.set(t.name, t);
  }

  /** Registers a selector; returns it (for registerAlias). */
  registerMatch(m: MatchModule): MatchModule {
    this.matches.push(m);
    this.matchSet.add(m);
    let list = this.byFirstWord.get(m.keywords[0]);
    if (!list) this.byFirstWord.set(m.keywords[0], (list = []));
    list.push(m);
    // Longest keyword sequence first, so `meta l4proto` wins over a bare `meta`.
    list.sort((a, b) => b.keywords.length - a.keywords.length);
    this.matchByLeft.set(leftKey(m.left), m);
    this.registerType(m.type);
    return m;
  }

  /**
   * Another text spelling of a match (`meta iifname` for `iifname`): read as the same
   * selector, printed in the match's own words.
   */
  registerAlias(keywords: string[], of: MatchModule): void {
    let list = this.byFirstWord.get(keywords[0]);
    if (!list) this.byFirstWord.set(keywords[0], (list = []));
    list.push({ ...of, keywords });
    list.sort((a, b) => b.keywords.length - a.keywords.length);
  }

  registerStatement(s: StatementModule): void {
    this.statements.push(s);
    for (const w of s.keywords) {
      this.stmtByWord.set(w, s);
      const sp = w.indexOf(' ');
      if (sp > 0) this.twoWordFirst.add(w.slice(0, sp));
    }
    if (s.afterSelector) this.stmtAfter.set(s.afterSelector, s);
    for (const k of s.jsonKeys) this.stmtByJson.set(k, s);
  }

  /** Selector modules whose text starts with `word`, longest first. */
  matchesStartingWith(word: string): MatchModule[] | undefined {
    return this.byFirstWord.get(word);
  }

  matchForLeft(left: Selector): MatchModule | undefined {
    // Selector objects are values that are never mutated: remember the answer on them.
    const tagged = left as { [MODULE]?: MatchModule };
    const hit = tagged[MODULE];
    if (hit !== undefined && this.matchSet.has(hit)) return hit;
    const m = this.matchByLeft.get(leftKey(left));
    if (m && left !== null && typeof left === 'object') tagged[MODULE] = m;
    return m;
  }

  /** [m.type], one shared array per selector module (callers only read it). */
  keyTypes(m: MatchModule): DataType[] {
    let types = this.typesOfMatch.get(m);
    if (types === undefined) this.typesOfMatch.set(m, (types = [m.type]));
    return types;
  }

  matchByName(name: string): MatchModule | undefined {
    return this.matches.find((m) => m.name === name);
  }

  /** Whether some statement's name is `word` and a second word (the parser then looks at both). */
  startsTwoWordStatement(word: string): boolean {
    return this.twoWordFirst.has(word);
  }

  statementForWord(word: string): StatementModule | undefined {
    return this.stmtByWord.get(word);
  }

  statementAfterSelector(word: string): StatementModule | undefined {
    return this.stmtAfter.get(word);
  }

  statementForJson(stmt: Stmt): StatementModule | undefined {
    const k = onlyKey(stmt);
    return k === undefined ? undefined : this.stmtByJson.get(k);
  }

  type(name: string): DataType | undefined {
    return this.types.get(name);
  }

  /**
   * A map's data types: one (`ipv4_addr`), or several for concatenated data, which nft's
   * JSON spells `"map": "ipv4_addr . inet_service"`; undefined when one is unknown.
   */
  dataTypes(map: string): DataType[] | undefined {
    const out: DataType[] = [];
    for (const n of map.split(' . ')) {
      const t = this.types.get(n);
      if (t === undefined) return undefined;
      out.push(t);
    }
    return out;
  }
}

/** The one own enumerable key of `o`, or undefined when it has none or several (no key array). */
export function onlyKey(o: object): string | undefined {
  let key: string | undefined;
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
    if (key !== undefined) return undefined;
    key = k;
  }
  return key;
}

const FIB_FLAG_ORDER = ['saddr', 'daddr', 'mark', 'iif', 'oif'];

/** Canonical string of a JSON left-hand side, for lookups. */
export function leftKey(left: Selector): string {
  const l = left as Record<string, Record<string, string>>;
  // A raw payload (`@nh,96,32`): one module per base and width, whatever the offset.
  if ('payload' in l) return l.payload.base !== undefined ? `payload:@${l.payload.base}:${l.payload.len}` : `payload:${l.payload.protocol}:${l.payload.field}`;
  if ('meta' in l) return `meta:${l.meta.key}`;
  if ('ct' in l) return l.ct.dir === undefined ? `ct:${l.ct.key}` : `ct:${l.ct.dir}:${l.ct.key}`;
  if ('fib' in l) {
    const f = l.fib as unknown as { result?: unknown; flags?: unknown };
    // nft lists the flags in this order; JSON written by hand may not.
    const flags = Array.isArray(f.flags) ? [...f.flags].sort((a, b) => FIB_FLAG_ORDER.indexOf(String(a)) - FIB_FLAG_ORDER.indexOf(String(b))).join('.') : String(f.flags);
    return `fib:${String(f.result)}:${flags}`;
  }
  // Parameterised selectors: one module each, whatever the parameters.
  if ('numgen' in l) return 'numgen';
  if ('jhash' in l) return 'jhash';
  if ('symhash' in l) return 'symhash';
  if ('rt' in l) return `rt:${l.rt.key}`;
  if ('exthdr' in l) return `exthdr:${l.exthdr.name}:${l.exthdr.field ?? ''}`;
  if ('sctp chunk' in l) return `sctp chunk:${l['sctp chunk'].name}:${l['sctp chunk'].field ?? ''}`;
  if ('tcp option' in l) {
    const o = l['tcp option'] as Record<string, unknown>;
    return o.base !== undefined ? `tcp option:@:${String(o.len)}` : `tcp option:${String(o.name)}:${String(o.field ?? '')}`;
  }
  return JSON.stringify(left);
}
