/**
 * A set element's own stateful statements (nft's per-element expressions): `add @s { ip
 * saddr counter }` gives each element the packet path adds a counter of its own, and a
 * listing shows it (`192.0.2.1 counter packets 3 bytes 180`). The same statements may be
 * declared on an element (`elements = { 192.0.2.1 counter packets 3 bytes 180 }`), which is
 * how a listing loads back. JSON (libnftables): the statements' keys in the element's object,
 * `{"elem": {"val": "192.0.2.1", "counter": {"packets": 3, "bytes": 180}}}`.
 *
 * The statements are compiled by their own modules (counter, limit, quota, ct count), once
 * per element: each element has its own count, bucket, budget or connection list.
 */
import type { ElemJ, Stmt } from './ast.js';
import type { ClassifyContext } from './context.js';
import type { CompileEnv, CounterCell, Registry, StmtFn } from './registry.js';
import type { ElemExprs } from './set-structures.js';
import { withLiveCells } from './live-cells.js';

/** The statements an element may carry, as nft allows them in a dynamic set's element. */
export const ELEM_STMT_KEYS: readonly string[] = ['counter', 'limit', 'quota', 'ct count'];
/** The kernel keeps at most two per element (NFT_SET_EXPR_MAX; more is E2BIG). */
const ELEM_STMT_MAX = 2;

/** The statements written in an element's object, in the order they appear. */
export function elemStmts(e: ElemJ | Record<string, unknown>): Stmt[] {
  const out: Stmt[] = [];
  for (const k of Object.keys(e)) if (ELEM_STMT_KEYS.includes(k)) out.push({ [k]: (e as Record<string, unknown>)[k] } as Stmt);
  return out;
}

/** Whether an element's object carries statements (cheap: no array). */
export function hasElemStmts(e: object): boolean {
  for (const k of ELEM_STMT_KEYS) if (k in e) return true;
  return false;
}

/** Checks element statements: which ones, how many, their shape. An error message or null. */
export function checkElemStmts(stmts: readonly Stmt[], registry: Registry): string | null {
  if (stmts.length > ELEM_STMT_MAX) return `an element carries at most ${ELEM_STMT_MAX} statements (as the kernel's sets), got ${stmts.length}`;
  for (const s of stmts) {
    if (s === null || typeof s !== 'object' || Array.isArray(s)) return 'each of an element\'s statements is an object ({"counter": null}, {"limit": {...}})';
    const mod = registry.statementForJson(s);
    const key = Object.keys(s)[0];
    if (!mod || !ELEM_STMT_KEYS.includes(key)) return `'${key}' cannot be kept per element: only ${ELEM_STMT_KEYS.join(', ')} can`;
    const v = (s as Record<string, unknown>)[key];
    if (typeof v === 'string') return `a named ${key} ('${v}') cannot be kept per element: write the statement itself`;
    const err = mod.checkJson(s);
    if (err) return err;
  }
  return null;
}

/**
 * A factory of one element's statements: the rule's compile environment, with counters
 * and quotas captured for the element (not registered as the rule's own).
 */
export function elemExprsFactory(stmts: readonly Stmt[], env: CompileEnv): () => ElemExprs {
  let cells: CounterCell[] = [];
  const elemEnv: CompileEnv = { ...env, counter: (c: CounterCell) => void cells.push(c) };
  const mods = stmts.map((s) => {
    const m = env.registry.statementForJson(s);
    if (!m) throw new Error(`unknown statement ${JSON.stringify(s)}`);
    return m;
  });
  return () => {
    cells = [];
    const fns: StmtFn[] = mods.map((m, i) => m.compile(stmts[i], elemEnv));
    return { stmts: stmts as Record<string, unknown>[], cells, run: runAll(fns) };
  };
}

function runAll(fns: StmtFn[]): (ctx: ClassifyContext) => number {
  if (fns.length === 1) return fns[0];
  return (ctx) => {
    for (let i = 0; i < fns.length; i++) {
      const c = fns[i](ctx);
      if (c !== 0) return c;
    }
    return 0;
  };
}

/** The element's statements with their current values, as keys of its JSON object. */
export function liveElemStmts(ex: ElemExprs): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of withLiveCells(ex.stmts as Stmt[], ex.cells)) Object.assign(out, s);
  return out;
}
