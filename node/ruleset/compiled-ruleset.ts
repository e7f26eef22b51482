/**
 * The compiled ruleset the datapath calls per packet: `classify(ctx, hook)`. Chains are
 * arrays of compiled rules; jumps name chains by stable id; the return stack is a
 * preallocated Int32Array, so classification allocates nothing. Base chains of a hook
 * run in priority order across tables, as netfilter runs them: accept ends one base
 * chain and the packet goes on to the next, drop ends everything (nft(8) "base chain").
 */
import { Code } from './codes.js';
import type { ClassifyContext, TraceSink } from './context.js';
import { Verdict } from './context.js';
import type { CounterCell, StmtFn } from './registry.js';
import { MAX_JUMP_DEPTH } from './validate.js';
import { InterfaceNames } from './interface-names.js';

export interface CompiledRule {
  handle: number;
  run: StmtFn;
  /** Counter cells of the rule's counter statements, in order (for listing). */
  counters: CounterCell[];
  /** The rule's meters' sets by name (`list meters`); absent for rules without one. */
  meters?: Map<string, object>;
}

export class CompiledChain {
  constructor(
    readonly id: number,
    readonly name: string,
    /** 4 or 6 for ip / ip6 tables, 0 for inet. */
    readonly l3: number,
    readonly rules: CompiledRule[],
    /** Code.Accept or Code.Drop for base chains. */
    readonly policy: number,
    readonly hook: number,
    readonly prio: number,
    /** A `type nat` base chain: runs only when ctx.natChains (first packet of a connection). */
    readonly nat = false,
  ) {}
}

const stackChain = new Int32Array(MAX_JUMP_DEPTH + 2);
const stackRule = new Int32Array(MAX_JUMP_DEPTH + 2);

export class CompiledRuleset {
  constructor(
    readonly generation: number,
    /** By chain id (sparse). */
    readonly chains: (CompiledChain | undefined)[],
    /** Base chains per Hook, sorted by priority. */
    readonly hooks: CompiledChain[][],
    private readonly counterCells: Map<string, CounterCell[]>,
    /** The engine's interface names: ctx.iif / ctx.oif are its ids. */
    private readonly ifnames: InterfaceNames = new InterfaceNames(),
  ) {}

  /** True when some base chain is attached to the hook (the datapath may skip the call otherwise). */
  hasHook(hook: number): boolean {
    return this.hooks[hook].length > 0;
  }

  classify(ctx: ClassifyContext, hook: number): Verdict {
    ctx.resetOutputs();
    ctx.ifnames = this.ifnames;
    const list = this.hooks[hook];
    const fam = ctx.pkt.family;
    for (let i = 0; i < list.length; i++) {
      const base = list[i];
      if (base.l3 !== 0 && base.l3 !== fam) continue;
      if (base.nat && !ctx.natChains) continue;
      // Traced packets take a copy of the loop that reports each step; like the kernel,
      // a packet is traced from the first base chain entered after `meta nftrace set 1`.
      const code = (ctx.nftrace & ctx.traceMask) === 0 ? this.runBase(base, ctx) : this.runBaseTraced(base, ctx, hook, ctx.tracer!);
      if (code === Code.Drop) return Verdict.Drop;
    }
    return Verdict.Accept;
  }

  private runBase(base: CompiledChain, ctx: ClassifyContext): number {
    let chain = base;
    let ri = 0;
    let sp = 0;
    for (;;) {
      const rules = chain.rules;
      let code = Code.Return as number;
      while (ri < rules.length) {
        const r = rules[ri++];
        const c = r.run(ctx);
        if (c === Code.Next || c === Code.Break || c === Code.Continue) continue;
        if (c === Code.Accept || c === Code.Drop) {
          ctx.verdictRule = r.handle;
          ctx.decidedChain = chain.id;
          ctx.decidedRule = r.handle;
          return c;
        }
        if (c === Code.Return) break;
        // jump / goto
        const id = (c - Code.JumpBase) >> 1;
        const target = this.chains[id];
        if (target === undefined) continue;
        if ((c & 1) === 0) {
          if (sp > MAX_JUMP_DEPTH) return Code.Drop; // cannot happen after validation
          stackChain[sp] = chain.id;
          stackRule[sp] = ri;
          sp++;
        }
        chain = target;
        ri = 0;
        code = -1;
        break;
      }
      if (code === -1) continue;
      // end of chain or return
      if (sp === 0) {
        ctx.decidedChain = base.id;
        ctx.decidedRule = 0;
        return base.policy;
      }
      sp--;
      chain = this.chains[stackChain[sp]]!;
      ri = stackRule[sp];
    }
  }

  /** runBase, reporting every matched rule, chain end and policy to `t` (traced packets only). */
  private runBaseTraced(base: CompiledChain, ctx: ClassifyContext, hook: number, t: TraceSink): number {
    let chain = base;
    let ri = 0;
    let sp = 0;
    const stackC: number[] = [];
    const stackR: number[] = [];
    for (;;) {
      const rules = chain.rules;
      let jumped = false;
      let returned = false;
      while (ri < rules.length) {
        const r = rules[ri++];
        const c = r.run(ctx);
        if (c === Code.Break) continue;
        t.step(hook, chain.id, r.handle, c, false);
        if (c === Code.Next || c === Code.Continue) continue;
        if (c === Code.Accept || c === Code.Drop) {
          ctx.verdictRule = r.handle;
          return c;
        }
        if (c === Code.Return) {
          returned = true;
          break;
        }
        const target = this.chains[(c - Code.JumpBase) >> 1];
        if (target === undefined) continue;
        if ((c & 1) === 0) {
          if (sp > MAX_JUMP_DEPTH) return Code.Drop;
          stackC[sp] = chain.id;
          stackR[sp] = ri;
          sp++;
        }
        chain = target;
        ri = 0;
        jumped = true;
        break;
      }
      if (jumped) continue;
      if (sp === 0) {
        t.step(hook, base.id, 0, base.policy, true);
        return base.policy;
      }
      // The end of a jumped-to chain (or `return`): back to the caller.
      if (!returned) t.step(hook, chain.id, 0, Code.Return, false);
      sp--;
      chain = this.chains[stackC[sp]!]!;
      ri = stackR[sp]!;
    }
  }

  /** Counter cells of the rule with this handle in this table (one per counter statement), or undefined. */
  counters(family: string, table: string, handle: number): readonly CounterCell[] | undefined {
    return this.counterCells.get(ruleKey(family, table, handle));
  }
}

/** A rule's identity in the ruleset: handles are numbered per table, as in nft. */
export function ruleKey(family: string, table: string, handle: number): string {
  return `${family} ${table} ${handle}`;
}
