/**
 * The node's effect and cluster-segment warnings (effect-warnings.ts), kept up to date
 * commit by commit: the same lines as a full recompute, at the cost of what a commit
 * changed. A chain's warnings depend on that chain alone, and a commit replaces every
 * chain it touches with a new object (ruleset/transaction.ts), so warnings are cached per
 * chain object. A commit that only changed rules (engine.lastTouched, not
 * structureChanged) leaves every chain in place: only its touched chains are recomputed
 * and spliced in by their position (O(touched chains' rules + lines returned)). A structural commit (chains or tables came or went,
 * a base chain changed) walks the chain list again, as the engine's own commit does, and
 * recomputes only the chains it has not seen.
 */
import type { ChainState, RulesetEngine, RulesetState } from '../../ruleset/index.js';
import { chainEffectWarnings, clusterSegmentText, dropsOwnTraffic, flowtableEffectWarnings, type ClusterSegment, type EffectWarning } from './effect-warnings.js';

interface ChainEntry {
  chain: ChainState;
  /** Position in ruleset order (tables, then their chains). */
  ord: number;
  lines: string[];
}

export class EffectWarningsCache {
  /** Chains whose warnings were computed (a chain's rules walked): the work a commit costs. */
  chainsComputed = 0;
  /** Chains looked at in a structural walk (a map lookup each, rules not walked). */
  chainsScanned = 0;

  /** Nothing computed yet, or a structural commit since: walk. */
  private stale = true;
  /** Chains replaced by rules-only commits since the last answer, by chain id (the latest copy). */
  private readonly pending = new Map<number, ChainState>();
  private readonly protectedIfs: ReadonlySet<string>;
  private byId = new Map<number, ChainEntry>();
  /** Entries with at least one line, in ruleset order. */
  private warned: ChainEntry[] = [];
  private cluster: string[] = [];
  /** Flowtable device lines (after the chains'): flowtables change only in structural commits. */
  private flowtables: string[] = [];

  /**
   * Follows the engine's commits from now on (its 'change' event, which every commit
   * emits): commits between two answers (element expiry, element-only batches the
   * service does not ask about) are accumulated, not lost.
   */
  constructor(private readonly engine: RulesetEngine, private readonly seg: ClusterSegment) {
    this.protectedIfs = new Set(seg.interfaces);
    engine.on('change', () => {
      const t = engine.lastTouched;
      if (t.structureChanged) {
        this.stale = true;
        this.pending.clear();
      } else if (!this.stale) for (const c of t.chains) this.pending.set(c.id, c);
    });
  }

  /** The warnings of the engine's committed ruleset: effect lines in ruleset order, then the cluster one. */
  warnings(): string[] {
    if (this.stale || (this.pending.size > 0 && !this.follow([...this.pending.values()]))) this.walk(this.engine.ruleset);
    this.stale = false;
    this.pending.clear();
    const out: string[] = [];
    for (const e of this.warned) for (const l of e.lines) out.push(l);
    for (const l of this.flowtables) out.push(l);
    for (const l of this.cluster) out.push(l);
    return out;
  }

  private linesOf(family: string, table: string, c: ChainState): string[] {
    this.chainsComputed++;
    const ws: EffectWarning[] = [];
    chainEffectWarnings(family, table, c, this.protectedIfs, ws);
    return ws.map((w) => `${w.where}: ${w.message}`);
  }

  /**
   * A rules-only commit: recompute the touched chains in place. False (nothing changed
   * here) when a touched chain is unknown or its definition changed, which only a
   * structural commit does: the caller walks instead.
   */
  private follow(touched: readonly ChainState[]): boolean {
    const updates: [ChainEntry, ChainState][] = [];
    for (const c of touched) {
      const e = this.byId.get(c.id);
      if (e === undefined || e.chain.json !== c.json) return false;
      updates.push([e, c]);
    }
    for (const [e, c] of updates) {
      const had = e.lines.length > 0;
      e.chain = c;
      e.lines = this.linesOf(c.json.family, c.json.table, c);
      const has = e.lines.length > 0;
      if (had === has) continue;
      // Binary search by position: O(log warned chains).
      let lo = 0;
      let hi = this.warned.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.warned[mid].ord < e.ord) lo = mid + 1;
        else hi = mid;
      }
      if (has) this.warned.splice(lo, 0, e);
      else this.warned.splice(lo, 1);
    }
    return true;
  }

  /** Every chain in ruleset order; warnings reused for chain objects already seen. */
  private walk(state: RulesetState): void {
    const byId = new Map<number, ChainEntry>();
    const warned: ChainEntry[] = [];
    const dropping: string[] = [];
    let ord = 0;
    for (const t of state.tables.values()) {
      for (const c of t.chains.values()) {
        this.chainsScanned++;
        const old = this.byId.get(c.id);
        const lines = old !== undefined && old.chain === c ? old.lines : this.linesOf(t.json.family, t.json.name, c);
        const e: ChainEntry = { chain: c, ord: ord++, lines };
        byId.set(c.id, e);
        if (lines.length > 0) warned.push(e);
        if (dropsOwnTraffic(c)) dropping.push(`table ${t.json.family} ${t.json.name} chain ${c.json.name}`);
      }
    }
    this.byId = byId;
    this.warned = warned;
    this.cluster = clusterSegmentText(this.seg, dropping);
    const ft: EffectWarning[] = [];
    flowtableEffectWarnings(state, this.protectedIfs, ft);
    this.flowtables = ft.map((w) => `${w.where}: ${w.message}`);
  }
}
