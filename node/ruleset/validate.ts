/**
 * Validation of a Draft before it may be committed: every new rule's statements against
 * the registry (types, families, references), every touched set's elements, references
 * still held by deleted chains and sets, and then the chain graph of each touched table
 * in one linear walk (depth-first, three colours): a back edge is a loop, and the longest
 * jump path from a base chain is its jump depth (kernel limit NFT_JUMP_STACK_SIZE = 16;
 * goto does not use a stack slot). Verdict-map entries are edges like jump/goto.
 */
import type { Family, RuleJ, Selector, Value } from './ast.js';
import type { DataType, EncodeEnv } from './data-types.js';
import type { ErrorList, Pos } from './errors.js';
import { posOf } from './errors.js';
import type { Registry, ValidateEnv } from './registry.js';
import type { ChainState, ElemEntry, SetState, TableState } from './state.js';
import { RULE_REFS, elemOptions, elemValue } from './state.js';
import { checkElemStmts, elemStmts, hasElemStmts } from './elem-exprs.js';
import { objKey } from './objects.js';
import type { Draft } from './transaction.js';
import { elementsAfter, elemPositions, positions, rulePositions } from './transaction.js';
import { checkValue, toInterval } from './values.js';
import { isVerdict } from './modules/verdicts.js';
import { onlyKey } from './registry.js';
import { layer2Selector, layer2Statement, layer2Type } from './layer3-only.js';
import { FIB_REFUSED } from './modules/fib.js';
import { routingFieldRefusal } from './modules/ip6-exthdr.js';
import { notSupportedJson } from './not-supported.js';

/** `{"exthdr": {"name": "srh", "field": "sid[3]"}}`: the reason an index nft 1.0.6 has no type for is refused. */
function exthdrRefusal(sel: object): string | undefined {
  const x = (sel as { exthdr?: { name?: unknown; field?: unknown } }).exthdr;
  return x && typeof x.name === 'string' && typeof x.field === 'string' ? routingFieldRefusal(x.name, x.field) : undefined;
}

export const MAX_JUMP_DEPTH = 16;

/** What a committed rule references: "j:CHAIN", "g:CHAIN", "s:SET", "m:MAP" (symbol slot, see state.ts RULE_REFS). */
const ruleRefs = {
  get: (r: RuleJ): string[] | undefined => (r as { [RULE_REFS]?: string[] })[RULE_REFS],
  set: (r: RuleJ, refs: string[]): void => {
    (r as { [RULE_REFS]?: string[] })[RULE_REFS] = refs;
  },
};
/** Jump/goto targets held by a verdict map's elements. */
const mapTargets = new WeakMap<SetState, { target: string; isGoto: boolean }[]>();

/** `hook`: the base chain's hook, when the rule is in one (selectors with `hooks` check it). */
function selectorTypes(reg: Registry, family: Family, sel: Selector, hook: string | undefined, iif: InputInterfaces): DataType[] | string {
  if (sel === null || typeof sel !== 'object') return `invalid selector ${JSON.stringify(sel)}`;
  if ('concat' in sel) {
    if (!Array.isArray(sel.concat) || sel.concat.length < 2) return 'a concatenation needs at least two selectors';
    const out: DataType[] = [];
    for (const s of sel.concat) {
      const r = selectorTypes(reg, family, s, hook, iif);
      if (typeof r === 'string') return r;
      out.push(...r);
    }
    return out;
  }
  if ('&' in sel) return selectorTypes(reg, family, sel['&'][0], hook, iif);
  const m = reg.matchForLeft(sel);
  if (!m) return layer2Selector(sel) ?? ('fib' in sel ? FIB_REFUSED : undefined) ?? exthdrRefusal(sel) ?? notSupportedJson(sel) ?? `unknown selector ${JSON.stringify(sel)}`;
  if (m.refused) return m.refused;
  if (m.needsExactIif !== undefined && iif === 'inferred') return m.needsExactIif;
  if (!m.families.includes(family)) return `${m.name} cannot be used in a table of family ${family} (only ${m.families.join(', ')})`;
  if (hook !== undefined && m.hooks && !m.hooks.includes(hook)) return `${m.name} cannot be used in a ${hook} chain (only ${m.hooks.join(', ')}: as in the kernel)`;
  if (m.checkSel) {
    const err = m.checkSel(sel, (s) => selectorTypes(reg, family, s, hook, iif));
    if (err) return err;
  }
  return reg.keyTypes(m);
}

/**
 * Validates the rules of one table. The environment the statement modules see is built
 * once and re-pointed per rule and statement (rule, refs, pos), not rebuilt with its
 * callbacks for every statement of a 10,000-rule load.
 */
class RuleValidator {
  private refs: string[] = NO_REFS;
  /** The rule and statement being validated (env.pos reads their positions on demand). */
  private rule: RuleJ | undefined;
  private stmt: unknown;
  /** An earlier statement of the rule matched the transport protocol (ValidateEnv.transportContext). */
  private transport = false;
  private readonly env: ValidateEnv;

  constructor(private readonly reg: Registry, private readonly t: TableState, private readonly errors: ErrorList, enc: EncodeEnv, iif: InputInterfaces) {
    const family = t.json.family;
    const self = this;
    this.env = {
      family,
      errors,
      // Read only when an error is reported: the position of the statement being checked
      // (a symbol-keyed read on objects of many shapes, too slow to do for every statement).
      get pos() {
        return posOf(self.stmt) ?? rulePositions.get(self.rule!);
      },
      get transportContext() {
        return self.transport;
      },
      registry: reg,
      findSet(name) {
        const s = t.sets.get(name);
        if (s) self.addRef(s.isMap && s.json.map === 'verdict' ? `m:${name}` : `s:${name}`);
        return s?.json;
      },
      chain: undefined,
      hasChain: (name) => t.chains.has(name),
      isBaseChain: (name) => t.chains.get(name)?.json.hook !== undefined,
      edge(target, isGoto) {
        self.addRef(`${isGoto ? 'g' : 'j'}:${target}`);
      },
      selectorTypes: (sel) => selectorTypes(reg, family, sel, self.env.chain?.hook, iif),
      checkValue: (v, types) => checkValue(v, types, enc),
      findFlowtable(name) {
        if (!t.flowtables.has(name)) return false;
        self.addRef(`f:${name}`);
        return true;
      },
      findObject(kind, name) {
        const key = objKey(kind, name);
        if (!t.objs.has(key)) return false;
        self.addRef(`o:${key}`);
        return true;
      },
    };
  }

  private addRef(ref: string): void {
    if (this.refs === NO_REFS) this.refs = [];
    this.refs.push(ref);
  }

  validate(r: RuleJ): void {
    const { reg, errors, env } = this;
    const family = this.t.json.family;
    this.refs = NO_REFS;
    let terminal = '';
    if (!Array.isArray(r.expr) || r.expr.length === 0) {
      errors.add(rulePositions.get(r), 'a rule needs at least one statement');
      ruleRefs.set(r, this.refs);
      return;
    }
    env.chain = this.t.chains.get(r.chain)?.json;
    const expr = r.expr;
    this.rule = r;
    this.transport = false;
    for (let i = 0; i < expr.length; i++) {
      const stmt = expr[i];
      this.stmt = stmt;
      if (stmt === null || typeof stmt !== 'object' || Array.isArray(stmt)) {
        // nft 1.0.6's `-j` writes a statement it has no JSON form for as its text (a map update
        // from the packet path), which nft 1.0.6 cannot load back either.
        const text = typeof stmt === 'string' ? ' (nft -j writes a statement it has no JSON form for as its text, and nft cannot load that back either: load the text listing, or write it in the JSON form of later nft versions, e.g. {"map": {"op": "update", "elem": KEY, "data": DATA, "map": "@m"}})' : '';
        errors.add(env.pos, `a statement must be an object, got ${JSON.stringify(stmt)}${text}`);
        continue;
      }
      const mod = reg.statementForJson(stmt);
      if (!mod) {
        errors.add(env.pos, layer2Statement(stmt) ?? notSupportedJson(stmt) ?? `unknown statement '${Object.keys(stmt).join(',')}' (see hafw schema)`);
        continue;
      }
      if (terminal) errors.add(env.pos, `statement after '${terminal}' never runs`);
      const shape = mod.checkJson(stmt);
      if (shape) {
        errors.add(env.pos, shape);
        continue;
      }
      if (!mod.families.includes(family)) errors.add(env.pos, `${mod.name} is not available in family ${family}`);
      mod.validate?.(stmt, env);
      if (!this.transport && givesTransportContext(stmt)) this.transport = true;
      if (mod.terminal) terminal = mod.name === 'verdict' ? (onlyKey(stmt) ?? mod.name) : mod.name;
    }
    ruleRefs.set(r, this.refs);
  }
}

/** Headers whose match states the transport protocol (nft's protocol context; `th` does not). */
const TRANSPORT_HEADERS = new Set(['tcp', 'udp', 'udplite', 'sctp', 'dccp', 'icmp', 'icmpv6', 'ah', 'esp', 'comp', 'igmp']);

/**
 * Does the statement give nft's evaluator the transport protocol for what follows in the
 * rule: an equality (or set) match on `meta l4proto`, `ip protocol`, `ip6 nexthdr`,
 * `ct protocol`, or a match on a transport header's field. `!=` does not.
 */
function givesTransportContext(stmt: object): boolean {
  const m = (stmt as { match?: { op?: string; left?: unknown } }).match;
  if (m === undefined || (m.op !== '==' && m.op !== 'in') || m.left === null || typeof m.left !== 'object') return false;
  let left = m.left as Record<string, { key?: string; protocol?: string; field?: string }> & { '&'?: unknown[] };
  if (Array.isArray(left['&'])) left = left['&'][0] as typeof left;
  if (left.meta?.key === 'l4proto' || left.ct?.key === 'protocol') return true;
  const p = left.payload;
  if (p === undefined) return false;
  if ((p.protocol === 'ip' && p.field === 'protocol') || (p.protocol === 'ip6' && p.field === 'nexthdr')) return true;
  return p.protocol !== undefined && TRANSPORT_HEADERS.has(p.protocol);
}

/** Shared by every rule that references nothing (never written: addRef replaces it first). */
const NO_REFS: string[] = [];

function bump(m: Map<string, number>, k: string, d: number): void {
  const n = (m.get(k) ?? 0) + d;
  if (n <= 0) m.delete(k);
  else m.set(k, n);
}

function tableRef(ref: string): string {
  if (ref[0] === 'o' || ref[0] === 'f') return ref;
  return ref[0] === 'j' || ref[0] === 'g' ? `c:${ref.slice(2)}` : `s:${ref.slice(2)}`;
}

/** A set whose elements may time out: `flags timeout`, or a default `timeout` (nft sets the flag then). */
export function setHasTimeouts(s: SetState): boolean {
  return s.json.timeout !== undefined || (s.json.flags?.includes('timeout') ?? false);
}

/** Checks a set's definition and the given elements (the new ones, or all of them). */
function validateSet(s: SetState, reg: Registry, errors: ErrorList, enc: EncodeEnv, t: TableState, entries: Iterable<ElemEntry>): void {
  const pos = positions.get(s);
  const names = Array.isArray(s.json.type) ? s.json.type : [s.json.type];
  const types: DataType[] = [];
  for (const n of names) {
    const ty = reg.type(n);
    if (!ty) return errors.add(pos, layer2Type(n) ?? `unknown data type '${n}' in set '${s.json.name}'`);
    types.push(ty);
  }
  if (s.isMap && s.json.map === undefined) return errors.add(pos, `map '${s.json.name}' needs a data type`);
  let dataTypes: DataType[] | undefined;
  if (s.json.map !== undefined && s.json.map !== 'verdict') {
    dataTypes = reg.dataTypes(s.json.map);
    if (!dataTypes) return errors.add(pos, `unknown map data type '${s.json.map}'`);
  }
  for (const f of s.json.flags ?? []) {
    if (!['interval', 'timeout', 'constant', 'dynamic'].includes(f)) errors.add(pos, `unknown set flag '${f}'`);
  }
  const interval = s.json.flags?.includes('interval') ?? false;
  const timed = setHasTimeouts(s);
  const targets: { target: string; isGoto: boolean }[] = [];
  for (const e of entries) {
    const epos = elemPositions.get(e) ?? pos;
    // As the kernel (EINVAL): an element timeout needs a set that supports timeouts.
    if (e.expiresAt !== 0 && !timed) errors.add(epos, `set '${s.json.name}' needs 'flags timeout' (or a set timeout) for element timeouts`);
    const opts = elemOptions(e.item, s.isMap);
    if (hasElemStmts(opts)) {
      // Per-element counters and limits: elements of plain (hash) sets and maps, as the packet
      // path makes them (`update @m { ip saddr counter : 0x1 }` lists its elements with them).
      const noStmts = interval ? 'an interval set' : s.json.map === 'verdict' ? 'a verdict map' : undefined;
      const why = noStmts !== undefined ? `elements of ${noStmts} cannot carry statements (counter, limit, quota, ct count)` : checkElemStmts(elemStmts(opts), reg);
      if (why) errors.add(epos, `set '${s.json.name}': ${why}`);
    }
    const key = elemValue(e.item, s.isMap);
    const iv = toInterval(key, types, enc);
    if (typeof iv === 'string') {
      errors.add(epos, iv);
      continue;
    }
    if (!interval && iv.lo.some((w, i) => w !== iv.hi[i])) {
      errors.add(epos, `set '${s.json.name}' needs 'flags interval' for ranges, prefixes and interface wildcards`);
    }
    if (s.isMap) {
      if (!Array.isArray(e.item) || e.item.length !== 2) {
        errors.add(epos, `map '${s.json.name}' elements need ': ${s.json.map}'`);
        continue;
      }
      const d = e.item[1];
      if (s.json.map === 'verdict') {
        if (!isVerdict(d)) errors.add(epos, `expected a verdict, got ${JSON.stringify(d)}`);
        else if ('jump' in d || 'goto' in d) {
          const target = 'jump' in d ? d.jump.target : d.goto.target;
          targets.push({ target, isGoto: 'goto' in d });
          if (!t.chains.has(target)) errors.add(epos, `unknown chain '${target}'`);
        }
      } else if (dataTypes) {
        const err = checkValue(d as Value, dataTypes, enc);
        if (err) errors.add(epos, err);
      }
    }
  }
  mapTargets.set(s, targets);
}

/** Validates the draft; afterwards the draft's reference counts are up to date. */
/**
 * How the datapath that runs the rules knows a packet's input interface: `exact` (one TUN
 * device per interface, datapath.inputDevices per-interface) or `inferred` from the route
 * back to the source (one shared device): then what needs the real one is refused.
 */
export type InputInterfaces = 'exact' | 'inferred';

export function validateDraft(d: Draft, reg: Registry, enc: EncodeEnv, iif: InputInterfaces = 'exact'): void {
  const errors = d.errors;
  // Rules first: sets and chains may have been added after the rules in the batch.
  // Rules of a load come table by table: look the table up (and make its validator) only
  // when it changes.
  let lastT: TableState | undefined;
  let lastFamily = '';
  let lastName = '';
  const tableOf = (r: RuleJ): TableState | undefined => {
    if (r.table !== lastName || r.family !== lastFamily) {
      lastT = d.tables.get(`${r.family} ${r.table}`);
      lastFamily = r.family;
      lastName = r.table;
    }
    return lastT;
  };
  const validators = new Map<TableState, RuleValidator>();
  for (const r of d.newRules) {
    const t = tableOf(r);
    if (!t) continue;
    let v = validators.get(t);
    if (v === undefined) validators.set(t, (v = new RuleValidator(reg, t, errors, enc, iif)));
    v.validate(r);
  }
  // Indexed loops over per-rule lists below: a load walks 10,000s of them, and an
  // iterator object each adds up before the code is optimised.
  for (const { table, chain, rule } of d.goneRules) {
    const refs = ruleRefs.get(rule) ?? NO_REFS;
    for (let i = 0; i < refs.length; i++) {
      bump(table.refs, tableRef(refs[i]), -1);
      bump(chain.out, refs[i], -1);
    }
  }
  for (const r of d.newRules) {
    const t = tableOf(r);
    const c = t?.chains.get(r.chain);
    if (!t || !c) continue;
    const refs = ruleRefs.get(r) ?? NO_REFS;
    for (let i = 0; i < refs.length; i++) {
      bump(t.refs, tableRef(refs[i]), 1);
      bump(c.out, refs[i], 1);
    }
  }
  for (const s of d.touchedSets) {
    const t = d.tables.get(`${s.json.family} ${s.json.table}`);
    if (!t || t.sets.get(s.json.name) !== s) continue;
    const p = d.pending.get(s);
    // Verdict maps are walked whole (their targets are graph edges); other sets check only what is new.
    const entries = s.isMap && s.json.map === 'verdict' ? elementsAfter(s, p) : p ? p.adds.values() : s.elems.values();
    validateSet(s, reg, errors, enc, t, entries);
  }
  for (const { table, name, pos } of d.deletedChains) {
    const n = table.refs.get(`c:${name}`) ?? 0;
    if (n > 0 && !table.chains.has(name)) errors.add(posOf(pos), `chain '${name}' is still the target of ${n} jump/goto statement(s)`);
    for (const s of table.sets.values()) {
      if (!table.chains.has(name) && mapTargets.get(s)?.some((x) => x.target === name)) {
        errors.add(posOf(pos), `chain '${name}' is still a target in verdict map '${s.json.name}'`);
      }
    }
  }
  for (const { table, key, pos } of d.deletedObjs) {
    const n = table.refs.get(`o:${key}`) ?? 0;
    // The kernel answers EBUSY; nft prints "Device or resource busy".
    if (n > 0) errors.add(posOf(pos), `${key.replace(' ', " '")}' is still used by ${n} rule(s) (nft: Device or resource busy): delete or replace those rules first`);
  }
  for (const { table, name, pos } of d.deletedFlowtables) {
    const n = table.refs.get(`f:${name}`) ?? 0;
    if (n > 0 && !table.flowtables.has(name)) errors.add(posOf(pos), `flowtable '${name}' is still used by ${n} rule(s) (nft: Device or resource busy): delete or replace those rules first`);
  }
  for (const { table, name, pos } of d.deletedSets) {
    const n = table.refs.get(`s:${name}`) ?? 0;
    if (n > 0 && !table.sets.has(name)) errors.add(posOf(pos), `set '${name}' is still used by ${n} rule(s)`);
  }
  if (errors.length > 0) return;
  // Only new edges can make a loop or a deeper path: walk the tables that got some.
  const walk = new Set<TableState>();
  const hasEdge = (r: RuleJ): boolean => {
    const refs = ruleRefs.get(r);
    if (refs === undefined) return false;
    for (let i = 0; i < refs.length; i++) {
      const k = refs[i].charCodeAt(0);
      if (k === 106 || k === 103 || k === 109 || k === 102) return true; // j g m, f (flow add: which hooks reach it)
    }
    return false;
  };
  for (const r of d.newRules) {
    const t = tableOf(r);
    if (t && hasEdge(r)) walk.add(t);
  }
  for (const s of d.touchedSets) {
    const t = d.tables.get(`${s.json.family} ${s.json.table}`);
    if (t && s.isMap && s.json.map === 'verdict') walk.add(t);
  }
  for (const t of walk) walkGraph(t, errors);
}

/**
 * One depth-first walk over the chains of a table: O(chains + edges). Finds loops (back
 * edges) and the jump depth of every chain (longest jump path below it, memoised).
 */
function walkGraph(t: TableState, errors: ErrorList): void {
  const chains = [...t.chains.values()];
  const index = new Map<string, number>();
  chains.forEach((c, i) => index.set(c.json.name, i));
  const n = chains.length;
  const edges: { to: number; w: number }[][] = chains.map((c) => {
    const out: { to: number; w: number }[] = [];
    for (const key of c.out.keys()) {
      const kind = key[0];
      const name = key.slice(2);
      if (kind === 'm') {
        const s = t.sets.get(name);
        for (const e of (s && mapTargets.get(s)) ?? []) {
          const to = index.get(e.target);
          if (to !== undefined) out.push({ to, w: e.isGoto ? 0 : 1 });
        }
      } else if (kind === 'j' || kind === 'g') {
        const to = index.get(name);
        if (to !== undefined) out.push({ to, w: kind === 'g' ? 0 : 1 });
      }
    }
    return out;
  });
  const color = new Uint8Array(n); // 0 white, 1 on stack, 2 done
  const depth = new Int32Array(n);
  const stackNode = new Int32Array(n);
  const stackEdge = new Int32Array(n);
  for (let root = 0; root < n; root++) {
    if (color[root] !== 0) continue;
    let sp = 0;
    stackNode[0] = root;
    stackEdge[0] = 0;
    color[root] = 1;
    while (sp >= 0) {
      const u = stackNode[sp];
      const eu = edges[u];
      if (stackEdge[sp] < eu.length) {
        const e = eu[stackEdge[sp]++];
        if (color[e.to] === 1) {
          const path: string[] = [];
          let k = 0;
          while (k <= sp && stackNode[k] !== e.to) k++;
          for (let j = k; j <= sp; j++) path.push(chains[stackNode[j]].json.name);
          path.push(chains[e.to].json.name);
          errors.add(loopPos(chains[u], chains[e.to].json.name), `loop detected: ${path.join(' -> ')}`);
          return;
        }
        if (color[e.to] === 0) {
          color[e.to] = 1;
          stackNode[++sp] = e.to;
          stackEdge[sp] = 0;
        }
        continue;
      }
      let d = 0;
      for (const e of eu) d = Math.max(d, e.w + depth[e.to]);
      depth[u] = d;
      color[u] = 2;
      sp--;
    }
  }
  for (let i = 0; i < n; i++) {
    const c = chains[i];
    if (c.json.hook !== undefined && depth[i] > MAX_JUMP_DEPTH) {
      errors.add(positions.get(c), `jump depth ${depth[i]} from base chain '${c.json.name}' exceeds the limit of ${MAX_JUMP_DEPTH}`);
    }
  }
  offloadReach(chains, edges, errors);
}

/**
 * `flow add` works in the forward hook only (the kernel's nft_flow_offload_validate checks
 * every base chain that reaches the rule, through jumps, gotos and verdict maps): a regular
 * chain holding one may be reached from forward base chains only, else the statement would
 * never offload anything. O(base chains x (chains + edges)), and nothing without a flow add.
 */
function offloadReach(chains: ChainState[], edges: { to: number }[][], errors: ErrorList): void {
  const n = chains.length;
  const offloads = chains.map((c) => {
    for (const k of c.out.keys()) if (k.charCodeAt(0) === 102) return true; // 'f:NAME'
    return false;
  });
  if (!offloads.some(Boolean)) return;
  for (let b = 0; b < n; b++) {
    const base = chains[b];
    const hook = base.json.hook;
    if (hook === undefined || hook === 'forward') continue;
    const seen = new Uint8Array(n);
    const stack = [b];
    seen[b] = 1;
    while (stack.length > 0) {
      const u = stack.pop()!;
      if (u !== b && offloads[u]) {
        offloads[u] = false; // once per chain
        const c = chains[u];
        errors.add(
          flowPos(c),
          `flow add in chain '${c.json.name}' is reached from base chain '${base.json.name}' (hook ${hook}): flow offload works in the forward hook only (the kernel refuses it there: Operation not supported); jump to '${c.json.name}' from forward chains only`,
        );
      }
      for (const e of edges[u]) {
        if (seen[e.to] === 0) {
          seen[e.to] = 1;
          stack.push(e.to);
        }
      }
    }
  }
}

/** Where the chain's first `flow add` statement is. */
function flowPos(c: ChainState): Pos | undefined {
  for (const r of c.rules) {
    for (const s of r.expr) if (s !== null && typeof s === 'object' && 'flow' in s) return posOf(s) ?? rulePositions.get(r);
  }
  return positions.get(c);
}

function loopPos(c: ChainState, target: string): Pos | undefined {
  for (const r of c.rules) {
    const refs = ruleRefs.get(r) ?? [];
    if (refs.includes(`j:${target}`) || refs.includes(`g:${target}`) || refs.some((x) => x[0] === 'm')) {
      for (const s of r.expr) {
        const p = posOf(s);
        const txt = JSON.stringify(s);
        if (p && txt.includes(`"target":"${target}"`)) return p;
      }
      return rulePositions.get(r) ?? positions.get(c);
    }
  }
  return positions.get(c);
}

