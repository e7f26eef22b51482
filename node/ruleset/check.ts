/**
 * The plain functions behind `hafw ruleset check` and `hafw ruleset convert`.
 */
import type { ErrorItem } from './errors.js';
import { RulesetError } from './errors.js';
import { RulesetEngine } from './engine.js';
import type { EngineOptions } from './engine.js';
import type { RulesetJson } from './ast.js';
import type { SourceMap } from './includes.js';

export interface CheckResult {
  ok: boolean;
  tables: number;
  chains: number;
  rules: number;
  sets: number;
  /** Time to parse, validate and compile, in ms. */
  ms: number;
  errors: ErrorItem[];
}

/** Parses, validates and compiles; never throws for user errors. */
export function checkRuleset(text: string, fileName = '<input>', opts: EngineOptions = {}): CheckResult {
  return checkRulesetIn(new RulesetEngine(opts), text, fileName);
}

/** The same into a given engine, which holds the ruleset afterwards when it is valid (for more checks on it). */
export function checkRulesetIn(engine: RulesetEngine, text: string, fileName = '<input>', sources?: SourceMap): CheckResult {
  const t0 = performance.now();
  try {
    engine.load(text, fileName, sources);
    const c = engine.counts();
    return { ok: true, ...c, ms: performance.now() - t0, errors: [] };
  } catch (e) {
    if (!(e instanceof RulesetError)) throw e;
    return { ok: false, tables: 0, chains: 0, rules: 0, sets: 0, ms: performance.now() - t0, errors: e.errors };
  }
}

/** Text or JSON -> the other form (or the same, normalised). Throws RulesetError with positions. */
export function convertRuleset(input: string | RulesetJson, to: 'json' | 'nft', fileName = '<input>', sources?: SourceMap): string {
  const engine = new RulesetEngine();
  engine.load(input, fileName, sources);
  if (to === 'nft') return engine.list();
  const json = engine.toJSON();
  for (const item of json.nftables) {
    const body = Object.values(item)[0] as Record<string, unknown>;
    if (body && typeof body === 'object') delete body.handle;
  }
  return JSON.stringify(json, null, 2) + '\n';
}
