/**
 * RulesetEngine: the committed ruleset, its generation, its compiled form, and the
 * transaction pipeline: commands -> Draft -> validate -> compile what changed ->
 * commit (swap state + compiled ruleset + set structures in one synchronous step, so
 * the datapath sees the old or the new generation between two packets, never a mix)
 * -> 'change' event. Any error anywhere before commit changes nothing.
 */
import { EventEmitter } from 'node:events';
import type { Command, ElemJ, RuleJ, RulesetJson, Selector, SetJ, Value, VerdictJ } from './ast.js';
import { MapValues, dataInterned } from './map-values.js';
import { Code } from './codes.js';
import { CompiledChain, CompiledRuleset, ruleKey } from './compiled-ruleset.js';
import { anonymousSets } from './canonical.js';
import { metersJson, parseObjectCommands, runObjectCommands } from './object-commands.js';
import type { CompiledRule } from './compiled-ruleset.js';
import { RuleCompiler, SetSlot, verdictCode } from './compiler.js';
import type { LogSink } from './context.js';
import { ErrorList, RulesetError } from './errors.js';
import { InterfaceNames } from './interface-names.js';
import { jsonToCommands, stateToJson, toPlainJson } from './json-codec.js';
import { parseJsonWithPositions } from './json-text.js';
import { builtinRegistry } from './modules/index.js';
import { parseText } from './parser.js';
import { Printer } from './printer.js';
import type { CompileEnv, CounterCell, Registry } from './registry.js';
import { HashKeySet, buildSet } from './set-structures.js';
import type { CompiledSet, SetElementSpec } from './set-structures.js';
import type { ChainState, ElemEntry, ElemItem, SetState, TableState } from './state.js';
import type { DataType } from './data-types.js';
import { RULE_COMPILED, RulesetState, elemOptions, elemValue } from './state.js';
import { elemExprsFactory, elemStmts, hasElemStmts, liveElemStmts } from './elem-exprs.js';
import { decodeKey } from './key-decode.js';
import { dynsetTargets } from './modules/dynset.js';
import { DYNAMIC_SET_DEFAULT_SIZE } from './set-attrs.js';
import type { Change } from './transaction.js';
import { Draft, commitElements, elemPositions, elementsAfter, positions, rulePositions } from './transaction.js';
import type { PendingElems } from './transaction.js';
import { setHasTimeouts, validateDraft, type InputInterfaces } from './validate.js';
import { toInterval } from './values.js';
import type { SourceMap } from './includes.js';
import { objKey } from './objects.js';
import type { FlowtableState } from './flowtables.js';
import { DEFAULT_LIMITS, formatBytes, type RulesetLimits } from './limits.js';

export interface EngineOptions {
  registry?: Registry;
  ifnames?: InterfaceNames;
  /** Where `log` statements write (default: nowhere). */
  log?: LogSink;
  /** Clock for element timeouts, in ms; must be the clock the datapath puts in ctx.nowMs. */
  clock?: () => number;
  /** Caps on a ruleset's size and cost (default DEFAULT_LIMITS; fields left out keep theirs). */
  limits?: Partial<RulesetLimits>;
  /** Called when the packet path found a set (or meter) full: its key was not added and the rule did not match. */
  onSetFull?: () => void;
  /**
   * How the datapath running these rules knows the input interface (validate.ts
   * InputInterfaces): `inferred` refuses `fib saddr . iif oif`, which needs the real one.
   * Default `exact` (datapath.inputDevices per-interface, the node's default).
   */
  inputInterfaces?: InputInterfaces;
}

export interface ChangeEvent {
  generation: number;
  changes: Change[];
}

/**
 * What the last commit replaced, for copies that follow the ruleset incrementally (the
 * node's warnings): the chains it touched are new objects in the committed state, every
 * other chain is the same object as before. With structureChanged, chains or tables came
 * or went (or a base chain changed): the touched set is then not the whole story.
 */
export interface CommitTouched {
  generation: number;
  structureChanged: boolean;
  chains: ReadonlySet<ChainState>;
}

export interface CommitResult {
  generation: number;
  changes: Change[];
  ms: number;
}

const HOOK_INDEX: Record<string, number> = { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4 };

/** What bounds the reading of a text (RulesetEngine.parse). */
export type ParseCaps = Pick<RulesetLimits, 'maxBytes' | 'maxExpandedTokens'>;

/** A prepared load whose engine committed something else since (RulesetEngine.prepareLoad). */
export class StalePrepareError extends Error {
  constructor(prepared: number, now: number) {
    super(`the ruleset was prepared at generation ${prepared}, the engine is at ${now}`);
  }
}

/**
 * An element's statements as nft -j writes them: a packet limit with its burst of 5 packets
 * written out (the text leaves that default out; nft 1.0.6's JSON of a meter's or a set's
 * elements has it).
 */
function jsonElemStmts(st: Record<string, unknown>): Record<string, unknown> {
  const l = st.limit as { rate?: number; burst?: number; rate_unit?: string } | undefined;
  if (l === undefined || l === null || typeof l !== 'object' || l.burst !== undefined || l.rate_unit !== undefined) return st;
  const { rate, ...rest } = l;
  return { ...st, limit: { rate, burst: 5, ...rest } };
}

export class RulesetEngine extends EventEmitter {
  readonly registry: Registry;
  readonly ifnames: InterfaceNames;
  /** Map data wider than a word (concatenated NAT targets), by id. */
  private readonly mapValues = new MapValues();
  private readonly logSink: LogSink;
  private readonly clock: () => number;
  private readonly onSetFull: () => void;
  readonly limits: Readonly<RulesetLimits>;
  private state = new RulesetState();
  private gen = 0;
  private current: CompiledRuleset;
  /** Compiled form of committed rules, kept on the rule under a symbol (see errors.ts POS). */
  private readonly ruleCache = {
    get: (r: RuleJ): CompiledRule | undefined => (r as { [RULE_COMPILED]?: CompiledRule })[RULE_COMPILED],
    set: (r: RuleJ, c: CompiledRule): void => {
      (r as { [RULE_COMPILED]?: CompiledRule })[RULE_COMPILED] = c;
    },
  };
  private readonly slots = new Map<number, SetSlot>();
  private touched: CommitTouched = { generation: 0, structureChanged: true, chains: new Set() };
  /** Counter cells of the rules that have counters, by ruleKey (handles are per table). */
  private readonly counterCells = new Map<string, CounterCell[]>();

  /** EngineOptions.inputInterfaces. */
  readonly inputInterfaces: InputInterfaces;

  constructor(opts: EngineOptions = {}) {
    super();
    this.inputInterfaces = opts.inputInterfaces ?? 'exact';
    this.registry = opts.registry ?? builtinRegistry();
    this.ifnames = opts.ifnames ?? new InterfaceNames();
    this.logSink = opts.log ?? { write: () => undefined };
    this.clock = opts.clock ?? Date.now;
    this.onSetFull = opts.onSetFull ?? (() => undefined);
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.current = new CompiledRuleset(0, [], [[], [], [], [], []], this.counterCells, this.ifnames);
  }

  /** Generation of the committed ruleset; every commit adds one. */
  get generation(): number {
    return this.gen;
  }

  /** The compiled ruleset the datapath calls: read it again after each 'change'. */
  get compiled(): CompiledRuleset {
    return this.current;
  }

  get ruleset(): RulesetState {
    return this.state;
  }

  /** What the last commit touched (CommitTouched). */
  get lastTouched(): CommitTouched {
    return this.touched;
  }

  /**
   * Text (nft syntax) or JSON (object or text) -> commands, with positions. `caps` bounds
   * the reading (default: this engine's limits).
   */
  parse(input: string | RulesetJson | object, file = '<input>', caps: ParseCaps = this.limits): Command[] {
    if (typeof input === 'string') {
      // Before reading a character of it: the cost of what follows grows with the size.
      const max = caps.maxBytes;
      if (input.length > max / 3 && Buffer.byteLength(input, 'utf8') > max) {
        throw RulesetError.at(file, { line: 1, col: 1 }, `ruleset text is ${Buffer.byteLength(input, 'utf8')} bytes, more than ruleset.maxBytes (${formatBytes(max)}); nothing was read or changed`);
      }
      const trimmed = input.trimStart();
      if (trimmed.startsWith('{')) return jsonToCommands(parseJsonWithPositions(input, file), file);
      return parseText(this.registry, input, file, (family, table, name) => this.state.table(family, table)?.sets.get(name)?.json, caps.maxExpandedTokens);
    }
    return jsonToCommands(input, file);
  }

  /**
   * Replaces the whole ruleset, atomically: all of it or nothing. `sources` (from
   * expandIncludes) gives errors in included text their own file:line:col.
   */
  load(input: string | RulesetJson | object, file = '<input>', sources?: SourceMap): CommitResult {
    try {
      const cmds = this.parse(input, file);
      return this.commit([{ flush: { ruleset: null } }, ...cmds], file);
    } catch (e) {
      if (sources !== undefined && e instanceof RulesetError) throw sources.remap(e);
      throw e;
    }
  }

  /**
   * Applies a batch of commands (libnftables JSON commands, or nft text such as
   * `add rule inet t c tcp dport 22 accept`), all or nothing. With `baseGeneration`, the
   * batch is refused when the ruleset changed since that generation.
   */
  transaction(ops: Command[] | string | RulesetJson, baseGeneration?: number, file = '<transaction>'): CommitResult {
    if (baseGeneration !== undefined && baseGeneration !== this.gen) {
      throw RulesetError.at(file, undefined, `ruleset changed: transaction based on generation ${baseGeneration}, current is ${this.gen}`);
    }
    const cmds = Array.isArray(ops) ? jsonToCommands({ nftables: ops }, file) : this.parse(ops, file);
    return this.commit(cmds, file);
  }

  /**
   * A whole-ruleset replace in two steps: prepareLoad does all of load's work (parse,
   * validate, compile; errors thrown as load throws them) and changes nothing; the
   * returned commit() makes it the running ruleset in one synchronous step, as load
   * would have. commit() throws StalePrepareError if this engine committed anything in
   * between (the prepared form was built against the state it replaces). The datapath
   * thread prepares while the control thread validates the same text (ruleset-service.ts),
   * before anything accepted it: `caps` (the node's) bound the reading of that text on an
   * engine that otherwise has none.
   */
  prepareLoad(input: string, file = '<input>', caps?: ParseCaps): () => CommitResult {
    const cmds = this.parse(input, file, caps);
    return this.prepareCommit([{ flush: { ruleset: null } }, ...cmds], file);
  }

  private commit(cmds: Command[], file: string): CommitResult {
    return this.prepareCommit(cmds, file)();
  }

  private prepareCommit(cmds: Command[], file: string): () => CommitResult {
    const t0 = performance.now();
    const base = this.state;
    const baseGen = this.gen;
    const now = this.clock();
    const errors = new ErrorList(file);
    const draft = new Draft(this.state, errors, now, this.registry);
    for (const c of cmds) draft.apply(c);
    errors.throwIfAny();
    this.checkElementCount(draft, errors);
    checkSetSizes(draft, errors);
    const enc = { ifnames: this.ifnames, mapValues: this.mapValues };
    validateDraft(draft, this.registry, enc, this.inputInterfaces);
    errors.throwIfAny();
    this.checkDynamicSizes(draft, errors);

    // ---- compile what changed (nothing visible yet) ----
    const next = draft.finish();
    const newSlots = new Map<SetState, CompiledSet>();
    const inPlace: (() => void)[] = [];
    for (const s of draft.touchedSets) {
      const t = next.table(s.json.family, s.json.table);
      if (!t || t.sets.get(s.json.name) !== s) continue;
      try {
        const p = draft.pending.get(s);
        const cur = this.slots.get(s.id)?.cur;
        const ops = p && !p.flushed && cur instanceof HashKeySet ? this.hashUpdates(s, t, p, cur) : undefined;
        if (ops) inPlace.push(ops);
        else newSlots.set(s, this.buildNamedSet(s, t, elementsAfter(s, p)));
      } catch (e) {
        errors.add(positions.get(s), `set '${s.json.name}': ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    errors.throwIfAny();
    const slotFor = (t: TableState, name: string): SetSlot | undefined => {
      const s = t.sets.get(name);
      if (!s) return undefined;
      let slot = this.slots.get(s.id);
      const built = newSlots.get(s);
      if (!slot) {
        // new set: a slot that commit registers; until then only this batch's rules see it
        slot = pendingSlots.get(s.id) ?? new SetSlot(built!);
        pendingSlots.set(s.id, slot);
      }
      return slot;
    };
    const pendingSlots = new Map<number, SetSlot>();
    // One compiler per table (its callbacks close over the table), reused for its rules.
    const compilers = new Map<TableState, RuleCompiler>();
    const compilerFor = (t: TableState): RuleCompiler => {
      let rc = compilers.get(t);
      if (rc === undefined) {
        rc = new RuleCompiler({
          registry: this.registry,
          encode: enc,
          family: t.json.family,
          log: this.logSink,
          slot: (name) => slotFor(t, name),
          chainId: (name) => t.chains.get(name)?.id ?? -1,
          object: (kind, name) => t.objs.get(objKey(kind, name)),
          setJson: (name) => t.sets.get(name)?.json,
          maxDynamic: this.limits.maxElements,
          setFull: this.onSetFull,
          flowtable: (name) => t.flowtables.get(name),
        });
        compilers.set(t, rc);
      }
      return rc;
    };
    let lastTable: TableState | undefined;
    for (const r of draft.newRules) {
      // Rules of a load come table by table: skip the key string and lookup while it repeats.
      if (lastTable === undefined || lastTable.json.name !== r.table || lastTable.json.family !== r.family) {
        lastTable = next.table(r.family, r.table);
      }
      const t = lastTable;
      if (!t) continue;
      try {
        const cr = compilerFor(t).compile(r);
        // New rule objects belong to this batch only: tagging them early is invisible if it fails.
        this.ruleCache.set(r, cr);
      } catch (e) {
        errors.add(rulePositions.get(r), e instanceof Error ? e.message : String(e));
      }
    }
    errors.throwIfAny();
    const compiledOf = (r: RuleJ): CompiledRule => this.ruleCache.get(r)!;
    const compileChain = (c: ChainState, l3: number): CompiledChain => {
      const j = c.json;
      // Fill in the rules new in this batch; the rest were compiled before (O(chain) pointer
      // checks, no lookups), and the array is shared with the immutable committed chain.
      const arr = c.compiled;
      for (let i = 0; i < arr.length; i++) if (arr[i] === undefined) arr[i] = compiledOf(c.rules[i]);
      return new CompiledChain(c.id, j.name, l3, arr as CompiledRule[], j.policy === 'drop' ? Code.Drop : Code.Accept,
        j.hook !== undefined ? HOOK_INDEX[j.hook] : -1, j.prio ?? 0, j.type === 'nat');
    };
    const l3Of = (family: string): number => (family === 'ip' ? 4 : family === 'ip6' ? 6 : 0);
    let chains: (CompiledChain | undefined)[];
    let hooks: CompiledChain[][];
    if (draft.structureChanged) {
      // Chains or tables came or went: rebuild the id table and the hook lists (O(chains)).
      chains = [];
      hooks = [[], [], [], [], []];
      const prev = this.current.chains;
      for (const t of next.tables.values()) {
        const l3 = l3Of(t.json.family);
        for (const c of t.chains.values()) {
          const cc = draft.touchedChains.has(c) ? compileChain(c, l3) : prev[c.id]!;
          chains[c.id] = cc;
          if (cc.hook >= 0) hooks[cc.hook].push(cc);
        }
      }
      for (const h of hooks) h.sort((a, b) => a.prio - b.prio);
    } else {
      // Only rules changed: copy the id table and replace the touched chains (O(touched)).
      chains = this.current.chains.slice();
      let baseTouched = false;
      for (const c of draft.touchedChains) {
        const cc = compileChain(c, l3Of(c.json.family));
        chains[c.id] = cc;
        if (cc.hook >= 0) baseTouched = true;
      }
      hooks = baseTouched ? this.current.hooks.map((h) => h.map((b) => chains[b.id]!)) : this.current.hooks;
    }

    // ---- commit: one synchronous step ----
    return () => {
      if (this.state !== base || this.gen !== baseGen) throw new StalePrepareError(baseGen, this.gen);
      if (draft.rulesetFlushed) this.counterCells.clear();
      for (const { rule } of draft.goneRules) this.counterCells.delete(ruleKey(rule.family, rule.table, rule.handle ?? -1));
      for (const r of draft.newRules) {
        const cr = this.ruleCache.get(r);
        if (cr === undefined) continue;
        if (cr.counters.length > 0) this.counterCells.set(ruleKey(r.family, r.table, cr.handle), cr.counters);
        else if (this.counterCells.size > 0) this.counterCells.delete(ruleKey(r.family, r.table, cr.handle));
      }
      draft.commitTables();
      commitElements(draft);
      for (const f of inPlace) f();
      for (const [s, built] of newSlots) {
        const slot = this.slots.get(s.id) ?? pendingSlots.get(s.id);
        if (slot) {
          slot.cur = built;
          this.slots.set(s.id, slot);
        } else this.slots.set(s.id, new SetSlot(built));
      }
      if (draft.structureChanged) {
        const liveSets = new Set<number>();
        for (const t of next.tables.values()) for (const s of t.sets.values()) liveSets.add(s.id);
        for (const id of this.slots.keys()) if (!liveSets.has(id)) this.slots.delete(id);
      }
      if (draft.structureChanged || draft.rulesetFlushed) {
        // A flowtable deleted (or replaced by one with more devices) gives its flows back to
        // the slow path, as the kernel flushes a flowtable's flows when it goes.
        const liveFts = new Set<FlowtableState>();
        for (const t of next.tables.values()) for (const f of t.flowtables.values()) liveFts.add(f);
        for (const t of this.state.tables.values()) for (const f of t.flowtables.values()) if (!liveFts.has(f)) f.retired = true;
      }
      this.state = next;
      this.gen++;
      this.touched = { generation: this.gen, structureChanged: draft.structureChanged || draft.rulesetFlushed, chains: draft.touchedChains };
      this.current = new CompiledRuleset(this.gen, chains, hooks, this.counterCells, this.ifnames);
      const ev: ChangeEvent = { generation: this.gen, changes: draft.changes };
      this.emit('change', ev);
      return { generation: this.gen, changes: draft.changes, ms: performance.now() - t0 };
    };
  }

  /**
   * Refuses a batch that would leave more elements in the named sets than
   * limits.maxElements, before validation or set building (the costly part) look at them.
   * O(sets + elements this batch adds).
   */
  private checkElementCount(draft: Draft, errors: ErrorList): void {
    const max = this.limits.maxElements;
    if (max === Number.POSITIVE_INFINITY) return;
    let total = 0;
    let biggest: SetState | undefined;
    let biggestCount = -1;
    for (const t of draft.tables.values()) {
      for (const s of t.sets.values()) {
        const p = draft.pending.get(s);
        let n: number;
        if (p === undefined) n = s.elems.size;
        else if (p.flushed) n = p.adds.size;
        else {
          n = s.elems.size - p.dels.size;
          for (const k of p.adds.keys()) if (!s.elems.has(k) || p.dels.has(k)) n++;
        }
        total += n;
        // Name the largest set this batch touched: that is where the operator looks.
        if (p !== undefined && n > biggestCount) {
          biggest = s;
          biggestCount = n;
        }
      }
    }
    if (total <= max) return;
    const where = biggest ? `set '${biggest.json.name}' (${biggestCount} elements): ` : '';
    errors.add(biggest ? positions.get(biggest) : undefined, `${where}the ruleset would hold ${total} set elements, more than ruleset.maxElements (${max}); nothing was changed`);
    errors.throwIfAny();
  }

  /**
   * Packets must not grow memory past the node's cap: a set the packet path fills (and a
   * meter) holds at most its size, so that size may not exceed limits.maxElements. Checked
   * here, by the control thread's engine (the datapath's copy has no limits and follows).
   * O(statements of the new rules).
   */
  private checkDynamicSizes(draft: Draft, errors: ErrorList): void {
    const max = this.limits.maxElements;
    if (max === Number.POSITIVE_INFINITY) return;
    for (const r of draft.newRules) {
      const dyn = dynsetTargets(r.expr);
      if (dyn === undefined) continue;
      const t = draft.tables.get(`${r.family} ${r.table}`);
      for (const name of dyn.sets) {
        const size = t?.sets.get(name)?.json.size ?? DYNAMIC_SET_DEFAULT_SIZE;
        if (size > max) errors.add(rulePositions.get(r), `set '${name}' is filled from the packet path and its size is ${size}, more than ruleset.maxElements (${max}): give it a size of at most ${max}`);
      }
      for (const st of r.expr) {
        const m = (st as { meter?: { name: string; size?: number } }).meter;
        if (m && (m.size ?? DYNAMIC_SET_DEFAULT_SIZE) > max) errors.add(rulePositions.get(r), `meter '${m.name}' may hold ${m.size ?? DYNAMIC_SET_DEFAULT_SIZE} keys, more than ruleset.maxElements (${max}): give it a size of at most ${max}`);
      }
    }
    errors.throwIfAny();
  }

  /**
   * Element changes of a hash-structured set as an in-place update to run at commit:
   * O(changes), not O(set size). Undefined when the change needs a rebuild (a range).
   */
  private hashUpdates(s: SetState, t: TableState, p: PendingElems, cur: HashKeySet): (() => void) | undefined {
    const dels: Uint32Array[] = [];
    const adds: SetElementSpec[] = [];
    const types = this.keyTypes(s);
    const enc = { ifnames: this.ifnames, mapValues: this.mapValues };
    for (const k of p.dels) {
      const e = s.elems.get(k);
      if (!e) continue;
      const iv = toInterval(elemValue(e.item, s.isMap), types, enc);
      if (typeof iv === 'string') throw new Error(iv);
      dels.push(iv.lo);
    }
    // Elements the packet path added (only this structure knows them): deleted by key.
    const dynDels: Uint32Array[] = [];
    for (const item of p.dynDels?.values() ?? []) {
      const iv = toInterval(elemValue(item, s.isMap), types, enc);
      if (typeof iv === 'string') throw new Error(iv);
      dynDels.push(iv.lo);
    }
    for (const e of p.adds.values()) {
      const spec = this.elemSpec(s, t, e, types);
      if (spec.lo.some((w, i) => w !== spec.hi[i])) return undefined;
      adds.push(spec);
    }
    return () => {
      for (const k of dels) {
        // A static element that expired and came back from the packet path is that one now:
        // the expiry commit removing the old one must not take it.
        if (cur.isDynamic(cur.indexOf(k))) continue;
        cur.delete(k);
      }
      for (const k of dynDels) if (cur.isDynamic(cur.indexOf(k))) cur.delete(k);
      for (const a of adds) cur.add(a.lo, a.data, a.expires, a.exprs);
    };
  }

  private keyTypes(s: SetState): DataType[] {
    const names = Array.isArray(s.json.type) ? s.json.type : [s.json.type];
    return names.map((n) => this.registry.type(n)!);
  }

  private elemSpec(s: SetState, t: TableState, e: ElemEntry, types: DataType[]): SetElementSpec {
    const enc = { ifnames: this.ifnames, mapValues: this.mapValues };
    const iv = toInterval(elemValue(e.item, s.isMap), types, enc);
    if (typeof iv === 'string') throw new Error(iv);
    let data = 0;
    if (s.isMap && Array.isArray(e.item)) {
      const d = e.item[1];
      if (s.json.map === 'verdict') data = verdictCode(d as VerdictJ, (name) => t.chains.get(name)?.id ?? -1);
      else {
        const dataTypes = this.registry.dataTypes(s.json.map!) ?? [];
        // Wider than one word (ADDR . PORT, an IPv6 address): the element names its value.
        if (dataInterned(dataTypes)) data = this.mapValues.intern(d as Value);
        else {
          const scratch = new Uint32Array(1);
          const err = dataTypes[0]?.encode(d as number | string, scratch, 0, enc);
          if (err) throw new Error(err);
          data = scratch[0];
        }
      }
    }
    const o = elemOptions(e.item, s.isMap);
    const exprs = hasElemStmts(o) ? elemExprsFactory(elemStmts(o), this.elemEnv(t))() : undefined;
    return { lo: iv.lo, hi: iv.hi, expires: e.expiresAt, data, exprs };
  }

  /** What an element's own statements compile with (they reach no set, chain nor object). */
  private elemEnv(t: TableState): CompileEnv {
    return { family: t.json.family, registry: this.registry, counter: () => undefined } as unknown as CompileEnv;
  }

  /**
   * A set's elements as this engine's structure holds them now, for listings: the committed
   * ones (with their statements' current values) and those the packet path added (their
   * key, timeout when it is not the set's, time left, statements). Undefined when the
   * structure adds nothing to the committed elements. `json`: expiry in whole seconds, as
   * nft -j writes it. O(set size).
   */
  private liveElements(s: SetState, json: boolean): ElemItem[] | undefined {
    const cur = this.slots.get(s.id)?.cur;
    if (!(cur instanceof HashKeySet)) return undefined;
    if (s.isMap) return this.liveMapElements(s, cur, json);
    let withStmts = false;
    for (const e of s.elems.values()) if (hasElemStmts(elemOptions(e.item, false))) withStmts = true;
    if (!withStmts && cur.dynamicCount === 0 && cur.staticDeleted === 0) return undefined;
    const now = this.clock();
    const types = this.keyTypes(s);
    const enc = { ifnames: this.ifnames };
    const out: ElemItem[] = [];
    for (const e of s.elems.values()) {
      if (e.expiresAt !== 0 && now >= e.expiresAt) continue;
      const o = elemOptions(e.item, false);
      if (!hasElemStmts(o) && cur.staticDeleted === 0) {
        out.push(e.item);
        continue;
      }
      const iv = toInterval(elemValue(e.item, false), types, enc);
      const at = typeof iv === 'string' ? -1 : cur.indexOf(iv.lo);
      // Deleted by the packet path (`delete @s`), or gone and back as the packet path's own.
      if (cur.staticDeleted !== 0 && (at < 0 || cur.isDynamic(at))) continue;
      const ex = at < 0 ? undefined : cur.exprsOf(at);
      out.push(ex === undefined ? e.item : { elem: { ...(o as ElemJ), ...liveElemStmts(ex) } });
    }
    if (cur.dynamicCount === 0) return out;
    this.dynamicItems(cur, types, s.json.timeout, json, now, out);
    return out;
  }

  /**
   * A map's elements when the packet path changed it (`add|update @m { KEY : DATA }`, `delete
   * @m`): the committed ones it still holds, then its own with their data. Undefined when it
   * did not. O(map size).
   */
  private liveMapElements(s: SetState, cur: HashKeySet, json: boolean): ElemItem[] | undefined {
    let withStmts = false;
    for (const e of s.elems.values()) if (hasElemStmts(elemOptions(e.item, true))) withStmts = true;
    if (!withStmts && cur.dynamicCount === 0 && cur.staticDeleted === 0) return undefined;
    const now = this.clock();
    const types = this.keyTypes(s);
    const enc = { ifnames: this.ifnames, mapValues: this.mapValues };
    const out: ElemItem[] = [];
    for (const e of s.elems.values()) {
      if (e.expiresAt !== 0 && now >= e.expiresAt) continue;
      const o = elemOptions(e.item, true);
      if (!hasElemStmts(o) && cur.staticDeleted === 0) {
        out.push(e.item);
        continue;
      }
      const iv = toInterval(elemValue(e.item, true), types, enc);
      const at = typeof iv === 'string' ? -1 : cur.indexOf(iv.lo);
      // Deleted by the packet path (`delete @m`), or gone and back as the packet path's own.
      if (cur.staticDeleted !== 0 && (at < 0 || cur.isDynamic(at))) continue;
      const ex = at < 0 ? undefined : cur.exprsOf(at);
      const item = e.item as [Value, Value];
      out.push(ex === undefined ? e.item : [{ elem: { ...(o as ElemJ), ...liveElemStmts(ex) } } as Value, item[1]]);
    }
    if (cur.dynamicCount === 0) return out;
    // Only maps whose data fits the element's word take data from the packet path (dynset.ts).
    const dataTypes = this.registry.dataTypes(s.json.map ?? '') ?? [];
    this.dynamicItems(cur, types, s.json.timeout, json, now, out, dataTypes);
    return out;
  }

  /** The elements the packet path added to `cur` (a set's, a map's with `data` types, or a meter's), as listings show them. */
  private dynamicItems(cur: HashKeySet, types: DataType[], setTimeoutS: number | undefined, json: boolean, now: number, out: ElemItem[], data?: DataType[]): void {
    cur.forEachElement((i, keys, off) => {
      if (!cur.isDynamic(i)) return;
      const x = cur.expiresOf(i);
      if (x !== 0 && now >= x) return;
      const val = decodeKey(types, keys, off);
      const elem: ElemJ = { val };
      // As nft lists them: the timeout when it is not the set's, then the time left.
      const tmo = cur.timeoutOf(i);
      if (tmo !== 0 && tmo !== (setTimeoutS ?? 0) * 1000) elem.timeout = tmo / 1000;
      if (x !== 0) elem.expires = json ? Math.floor((x - now) / 1000) : (x - now) / 1000;
      const ex = cur.exprsOf(i);
      if (ex !== undefined) Object.assign(elem, json ? jsonElemStmts(liveElemStmts(ex)) : liveElemStmts(ex));
      const item: Value = elem.timeout === undefined && elem.expires === undefined && ex === undefined ? val : ({ elem } as Value);
      out.push(data === undefined ? item : [item, decodeKey(data, Uint32Array.of(cur.dataOf(i)), 0)]);
    });
  }

  /**
   * `list meters` / `list meter`: the table's meters as nft 1.0.6 lists them, a set each
   * (type, size, flags dynamic[,timeout]) with the keys packets put in it, from this
   * engine's structures (the datapath's copy on a node). In rule order; `name` picks one.
   */
  meterBlocks(t: TableState, name?: string): string[] {
    const printer = new Printer(this.registry);
    const now = this.clock();
    return this.meterViews(t, name, false).map((v) => {
      const view = { json: v.set, isMap: false, elems: new Map() } as unknown as SetState;
      return printer.set(view, '\t', { nowMs: now, elements: () => v.items }).replace(/^\tset /, '\tmeter ');
    });
  }

  /**
   * `nft -j list meters` (1.0.6): each meter as `{"meter": {"family", "name", "table", "type",
   * "handle", "size", "flags"?, "elem"?}}`, flags without `dynamic` (as nft's JSON lists
   * sets), the elements as nft -j writes a set's (whole seconds).
   */
  meterJson(t: TableState, name?: string): Record<string, unknown>[] {
    return this.meterViews(t, name, true).map((v) => {
      const m: Record<string, unknown> = { family: t.json.family, name: v.set.name, table: t.json.name, type: v.set.type, handle: v.handle, size: v.set.size };
      const flags = (v.set.flags ?? []).filter((f) => f !== 'dynamic');
      if (flags.length > 0) m.flags = flags;
      if (v.items.length > 0) m.elem = v.items;
      return { meter: m };
    });
  }

  /** The table's meters (in rule order; `name` picks one): a set's declaration, its handle as nft allocates it, its keys. */
  private meterViews(t: TableState, name: string | undefined, json: boolean): { set: SetJ; handle: number; items: ElemItem[] }[] {
    const out: { set: SetJ; handle: number; items: ElemItem[] }[] = [];
    const printer = new Printer(this.registry);
    const now = this.clock();
    for (const c of t.chains.values()) {
      for (const r of c.rules) {
        // As the kernel: a rule's meters are sets whose handles come just before its
        // anonymous sets' and its own (transaction.ts freshRule).
        const meters = r.expr.filter((st) => (st as { meter?: unknown }).meter !== undefined).length;
        let seen = 0;
        for (const st of r.expr) {
          const m = (st as { meter?: { name: string; key: unknown; size?: number } }).meter;
          if (m === undefined) continue;
          const handle = (r.handle ?? 0) - anonymousSets(r.expr) - (meters - seen);
          seen++;
          if (name !== undefined && m.name !== name) continue;
          const k = m.key as { elem?: { val: Selector; timeout?: number } };
          const sel = (k.elem !== undefined ? k.elem.val : m.key) as Selector;
          const types = printer.typesOf(sel);
          const set: SetJ = { family: t.json.family, table: t.json.name, name: m.name, type: types.length === 1 ? types[0]!.name : types.map((x) => x.name), size: m.size ?? DYNAMIC_SET_DEFAULT_SIZE, flags: k.elem?.timeout !== undefined ? ['dynamic', 'timeout'] : ['dynamic'] };
          const cur = this.ruleCache.get(r)?.meters?.get(m.name);
          const items: ElemItem[] = [];
          if (cur instanceof HashKeySet) this.dynamicItems(cur, types, undefined, json, now, items);
          out.push({ set, handle, items });
        }
      }
    }
    return out;
  }

  private buildNamedSet(s: SetState, t: TableState, entries: Iterable<ElemEntry>): CompiledSet {
    const types = this.keyTypes(s);
    const specs: SetElementSpec[] = [];
    for (const e of entries) specs.push(this.elemSpec(s, t, e, types));
    try {
      return buildSet(types.map((x) => x.words), specs, s.json.flags?.includes('interval') ?? false, s.json['auto-merge'] === true);
    } catch (e) {
      throw new Error(String(e));
    }
  }

  /**
   * The batch that removes elements whose timeout has passed: one `delete element` per
   * set, or none when nothing has expired. O(elements of sets with timeouts). Lookups
   * already ignore an expired element; committing this batch (transaction()) frees it and
   * tells subscribers. A node's control thread commits it and sends the same batch to the
   * datapath's engine, so both copies lose an element in the same generation
   * (RulesetService.expireElements).
   */
  expiredOps(nowMs: number = this.clock()): Command[] {
    const ops: Command[] = [];
    for (const t of this.state.tables.values()) {
      for (const s of t.sets.values()) {
        // Only sets that take timeouts hold expiring elements (validation refuses others):
        // a big static blocklist costs nothing here.
        if (!setHasTimeouts(s)) continue;
        const gone: NonNullable<SetJ['elem']> = [];
        for (const e of s.elems.values()) {
          if (e.expiresAt !== 0 && nowMs >= e.expiresAt) gone.push(elemValue(e.item, s.isMap));
        }
        if (gone.length > 0) ops.push({ delete: { element: { family: t.json.family, table: t.json.name, name: s.json.name, elem: gone } } });
      }
    }
    return ops;
  }


  /**
   * `list|reset counters|quotas|limits ...` (object-commands.ts): nft's listing of the named
   * objects' current values; `reset` then zeroes them. Not a commit: no generation, no event.
   * Throws RulesetError (nothing reset) on a bad command or an unknown table or object.
   */
  objectCommand(text: string, file = '<command>', json = false): string {
    const cmds = parseObjectCommands(text, file);
    if (json) return JSON.stringify(metersJson(this.state, cmds, file, (t, name) => this.meterJson(t, name)));
    return runObjectCommands(this.state, this.registry, cmds, file, (t, name) => this.meterBlocks(t, name));
  }

  /** Counter cells of a rule, for listings. */
  countersOf(rule: RuleJ): readonly CounterCell[] | undefined {
    return this.ruleCache.get(rule)?.counters;
  }

  /**
   * Names what ClassifyContext.decidedChain / decidedRule point at, for explanations (not
   * for the packet path: it walks the tables): the chain as `FAMILY TABLE CHAIN`, and the
   * rule's text, or the chain's policy when `handle` is 0. Undefined for an unknown chain.
   */
  describeDecision(chainId: number, handle: number): { chain: string; handle: number; rule?: string; policy?: string } | undefined {
    const printer = new Printer(this.registry);
    for (const t of this.state.tables.values()) {
      for (const c of t.chains.values()) {
        if (c.id !== chainId) continue;
        const chain = `${t.json.family} ${t.json.name} ${c.json.name}`;
        if (handle === 0) return { chain, handle, policy: c.json.policy ?? 'accept' };
        const r = c.rules.find((x) => x.handle === handle);
        return r ? { chain, handle, rule: printer.rule(r) } : { chain, handle };
      }
    }
    return undefined;
  }

  /** `nft list ruleset`-style text (with `# handle N` when handles is set). */
  list(opts: { handles?: boolean } = {}): string {
    return new Printer(this.registry).ruleset(this.state, {
      handles: opts.handles, counters: (r) => this.countersOf(r), nowMs: this.clock(), elements: (s) => this.liveElements(s, false),
    });
  }

  /** `nft -j list ruleset`-style JSON (plain data). */
  toJSON(): RulesetJson {
    return toPlainJson(stateToJson(this.state, { nowMs: this.clock(), counters: (r) => this.countersOf(r), elements: (s) => this.liveElements(s, true) }));
  }

  counts(): { tables: number; chains: number; rules: number; sets: number } {
    return this.state.counts();
  }

  /** Elements in all named sets and maps (what limits.maxElements caps); O(sets). */
  elementCount(): number {
    let n = 0;
    for (const t of this.state.tables.values()) for (const s of t.sets.values()) n += s.elems.size;
    return n;
  }
}

/**
 * Refuses a batch that leaves a set with more elements than its `size` (the kernel answers
 * ENOSPC), naming the first element past it. O(elements this batch adds).
 */
function checkSetSizes(draft: Draft, errors: ErrorList): void {
  for (const [s, p] of draft.pending) {
    const size = s.json.size;
    if (size === undefined) continue;
    let n = p.flushed ? 0 : s.elems.size - p.dels.size;
    for (const [k, e] of p.adds) {
      if (!p.flushed && s.elems.has(k) && !p.dels.has(k)) continue; // already there: no new element
      if (++n === size + 1) {
        errors.add(elemPositions.get(e) ?? positions.get(s), `set '${s.json.name}' is full: its size is ${size}; raise 'size' in its declaration or remove elements first`);
        break;
      }
    }
  }
  errors.throwIfAny();
}
