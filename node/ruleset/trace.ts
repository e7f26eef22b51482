/**
 * Packet tracing (`hafw trace`, GET /v1/trace; like `nft monitor trace`): what a traced
 * packet's record holds, and the trace filter, a selector written in the rule language
 * (`ip saddr 192.0.2.1 tcp dport 22`) that picks packets to trace without touching the
 * ruleset. Records are plain JSON: they cross from the datapath thread to the API.
 */
import { RulesetEngine } from './engine.js';
import { RulesetError } from './errors.js';
import type { InterfaceNames } from './interface-names.js';
import type { Registry } from './registry.js';
import type { RuleJ } from './ast.js';

/** Hook numbers (context.ts Hook) by name, as nft prints them. */
export const HOOK_NAMES: readonly string[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

/** One trace session as the datapath thread sees it: an id the control thread chose and its filter (absent: packets a rule flags with `meta nftrace set 1`). */
export interface TraceSession {
  id: number;
  filter?: string;
}

/** A packet as a trace shows it: addresses and ports after the NAT done so far. */
export interface TracePacketJson {
  family: 'ip' | 'ip6';
  iif?: string;
  oif?: string;
  src: string;
  dst: string;
  proto: number;
  length: number;
  sport?: number;
  dport?: number;
  /** TCP flags by name (syn, ack, fin, rst, psh, urg, ece, cwr). */
  tcpFlags?: string[];
  icmpType?: number;
  icmpCode?: number;
  mark: number;
}

/**
 * One step of the packet's way: a rule that matched (`rule`, with what it returned:
 * continue for a rule without a verdict, accept, drop, return, jump NAME, goto NAME), the
 * end of a jumped-to chain (`return`: back to the caller), or a base chain's policy.
 */
export interface TraceStepJson {
  hook: string;
  family: string;
  table: string;
  chain: string;
  type: 'rule' | 'return' | 'policy';
  handle?: number;
  /** The rule in nft syntax. */
  rule?: string;
  verdict: string;
}

export interface TraceRecord {
  /** Numbers the traced packets of this node (like nft's trace id). */
  id: number;
  /** Wall-clock time, ms since the epoch. */
  time: number;
  /** The packet when the trace started (the first chain it was traced in). */
  packet: TracePacketJson;
  steps: TraceStepJson[];
  /** More steps than a record keeps (MAX_TRACE_STEPS) were taken; the rest were not recorded. */
  truncated?: boolean;
  /** What became of the packet: accept (forwarded or delivered), drop, reject. */
  verdict: 'accept' | 'drop' | 'reject';
  /** The packet as it left, when NAT changed its addresses or ports. */
  after?: TracePacketJson;
  /** Its conntrack state (new, established, related, invalid, untracked) and, with a connection, its tuples (NAT included). */
  ctState: string;
  ct?: { original: { src: string; dst: string; sport?: number; dport?: number }; reply: { src: string; dst: string; sport?: number; dport?: number }; status: string[]; mark: number };
  /** Why it was traced: `meta nftrace set 1` in the ruleset, a session's filter, or both. */
  by: ('nftrace' | 'filter')[];
}

/** A record on its way to the control thread: `to` lists the sessions it is for. */
export type TraceRecordOut = TraceRecord & { to: number[] };

/** Steps one record keeps (a jump loop cannot make it grow without bound). */
export const MAX_TRACE_STEPS = 128;

/** A trace filter that does not compile: `col` is its 1-based column in the filter text. */
export class TraceFilterError extends Error {
  constructor(
    readonly col: number,
    message: string,
  ) {
    super(message);
    this.name = 'TraceFilterError';
  }
}

/** Longest filter text taken (a selector, not a ruleset). */
export const MAX_TRACE_FILTER_LENGTH = 1024;

const HEAD = 'table inet hafw_trace {\n  chain select {\n    type filter hook prerouting priority 0; policy drop;\n';
const FILTER_LINE = 4;

/**
 * Compiles a trace filter: matches only (no statements, no verdict), as one rule of a
 * private engine whose only chain accepts what the filter matches and drops the rest, so
 * `engine.compiled.classify(ctx, Hook.Prerouting) === Verdict.Accept` means "trace this
 * packet". Throws TraceFilterError with the column of the fault.
 */
export function compileTraceFilter(text: string, opts: { registry?: Registry; ifnames?: InterfaceNames; clock?: () => number } = {}): RulesetEngine {
  if (text.trim() === '') throw new TraceFilterError(1, 'the filter is empty: give matches, e.g. ip saddr 192.0.2.1 tcp dport 22');
  if (text.length > MAX_TRACE_FILTER_LENGTH) throw new TraceFilterError(MAX_TRACE_FILTER_LENGTH, `the filter is longer than ${MAX_TRACE_FILTER_LENGTH} characters`);
  if (/[\n\r;{}#]/.test(text)) {
    const col = text.search(/[\n\r;{}#]/) + 1;
    throw new TraceFilterError(col, `'${text[col - 1] === '\n' ? '\\n' : text[col - 1]}' is not allowed in a filter: it is one rule's matches, e.g. ip saddr 192.0.2.1 tcp dport 22`);
  }
  const engine = new RulesetEngine({ registry: opts.registry, ifnames: opts.ifnames, clock: opts.clock });
  try {
    engine.load(`${HEAD}${text} accept\n  }\n}\n`, '<filter>');
  } catch (e) {
    if (e instanceof RulesetError) {
      const first = e.errors[0];
      const col = first !== undefined && first.line === FILTER_LINE ? Math.min(first.col, text.length + 1) : 1;
      // `... accept` (a verdict in the filter) reads as a statement after our own accept.
      if (first?.message.includes('never runs')) throw new TraceFilterError(col, 'a filter holds matches only (no statements such as counter, log or a verdict)');
      throw new TraceFilterError(col, first?.message ?? e.message);
    }
    throw e;
  }
  const rules: RuleJ[] = [...(engine.ruleset.table('inet', 'hafw_trace')?.chains.get('select')?.rules ?? [])];
  const expr = rules[0]?.expr ?? [];
  const stmts = expr.slice(0, -1);
  const bad = stmts.findIndex((s) => !('match' in (s as object)));
  if (rules.length !== 1 || bad >= 0) throw new TraceFilterError(1, 'a filter holds matches only (no statements such as counter, log or a verdict)');
  return engine;
}
