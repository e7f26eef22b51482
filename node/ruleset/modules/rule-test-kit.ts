/**
 * Test helper for match modules (not used by the node): one rule in a forward chain, a
 * packet through it, and the round trips every construct must survive (text -> listing ->
 * load, JSON -> load).
 */
import assert from 'node:assert/strict';
import { parsePacket } from '../../packet/parse.js';
import { RulesetEngine } from '../engine.js';
import { ClassifyContext, Hook, Verdict } from '../context.js';

/** An engine with `rules` in one forward chain of `table inet t`. */
export function engine(rules: string): RulesetEngine {
  const e = new RulesetEngine();
  e.load(`table inet t { chain fw { type filter hook forward priority 0; policy accept;\n${rules}\n} }`, 'x.nft');
  return e;
}

/** The forward hook's verdict for a copy of `bytes` (an IP packet). */
export function verdict(e: RulesetEngine, bytes: Uint8Array): Verdict {
  const ctx = new ClassifyContext();
  const copy = bytes.slice();
  parsePacket(ctx.pkt, copy, 0, copy.length, 0);
  return e.compiled.classify(ctx, Hook.Forward);
}

/** Does `RULE drop` drop the packet? */
export const drops = (rule: string, bytes: Uint8Array): boolean => verdict(engine(`${rule} drop`), bytes) === Verdict.Drop;

/** The first rule's statements as `nft -j` writes them. */
function ruleJson(e: RulesetEngine): unknown[] {
  return (e.toJSON().nftables.find((x) => 'rule' in x) as { rule: { expr: unknown[] } }).rule.expr;
}

/**
 * The rule is listed as `listed` (default: as written), the listing loads back the same,
 * and so does the JSON; returns the rule's JSON.
 */
export function roundTrips(rule: string, listed = rule): unknown[] {
  const e = engine(rule);
  assert.ok(e.list().includes(`\n\t\t${listed}\n`), `listed as ${listed}:\n${e.list()}`);
  const again = new RulesetEngine();
  again.load(e.list());
  assert.equal(again.list(), e.list());
  const fromJson = new RulesetEngine();
  fromJson.load(e.toJSON());
  assert.equal(fromJson.list(), e.list());
  return ruleJson(e);
}
