/**
 * Packet traces for `hafw trace` (GET /v1/trace), recorded on the datapath thread. While no
 * session is open, the filter stage leaves ClassifyContext.traceMask at 0 and the compiled
 * ruleset never calls here. With sessions, a packet is traced when a rule set
 * `meta nftrace set 1` (for the sessions without a filter) or a session's filter matches
 * it (checked once per packet before the hooks); the compiled ruleset then reports each
 * rule that matched, each chain end and each policy (TraceSink), and the filter stage ends
 * the record with the final verdict, NAT and the connection.
 *
 * Bounded like the connection events: a token bucket of records per second, at most
 * `maxPending` records between two flushes (one message per wake-up of the packet loop),
 * at most MAX_TRACE_STEPS steps per record. What is beyond is dropped and counted
 * (hafw_trace_dropped_total); the packet path never waits for a session.
 */
import { formatAddress } from '../../packet/address.js';
import type { PacketInfo } from '../../packet/packet-info.js';
import {
  ClassifyContext, Hook, HOOK_NAMES, MAX_TRACE_STEPS, Verdict, compileTraceFilter,
  type RulesetEngine, type RuleJ, type TraceRecordOut, type TracePacketJson, type TraceSession, type TraceSink, type TraceStepJson,
} from '../../ruleset/index.js';
import { Printer } from '../../ruleset/printer.js';
import { Code } from '../../ruleset/codes.js';
import { CtSnapshot, CtState, snapshotToJson, type ConnTracker } from '../../conntrack/index.js';
import { BoundedOutbox } from './bounded-outbox.js';
import { C } from '../shared/counters.js';

/** Traced packets per second passed on (burst: DEFAULT_MAX_PENDING). */
const DEFAULT_TRACES_PER_SEC = 1000;
/** Records waiting for the next flush; beyond, they are dropped (counted). */
const DEFAULT_MAX_PENDING = 256;

const TCP_FLAG_NAMES = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ece', 'cwr'];

interface ChainInfo {
  family: string;
  table: string;
  name: string;
  rules: RuleJ[];
}

interface Session {
  id: number;
  /** The filter's private engine (absent: the session follows `meta nftrace`). */
  filter?: RulesetEngine;
}

function ctStateName(s: number): string {
  if (s & CtState.Invalid) return 'invalid';
  if (s & CtState.Untracked) return 'untracked';
  if (s & CtState.Related) return 'related';
  if (s & CtState.New) return 'new';
  if (s & CtState.Established) return 'established';
  return 'none';
}

export class TraceCollector implements TraceSink {
  private sessions: Session[] = [];
  /** ClassifyContext.traceMask while sessions are open: bit 0 some follow `meta nftrace`, bit 1 some have a filter. */
  mask = 0;
  private readonly outbox: BoundedOutbox<TraceRecordOut>;
  private nextId = 1;
  /** The record of the packet being classified (null: none yet). */
  private steps: TraceStepJson[] | null = null;
  private truncated = false;
  private first: TracePacketJson | null = null;
  /** Filter sessions that chose the packet being classified. */
  private chosen: number[] = [];
  private chains = new Map<number, ChainInfo>();
  private chainsGen = -1;
  private readonly ruleText = new Map<RuleJ, string>();
  private readonly snap = new CtSnapshot();
  private readonly printer: Printer;

  constructor(
    private readonly engine: RulesetEngine,
    private readonly counters: Float64Array,
    deliver: (records: TraceRecordOut[]) => void,
    private readonly clock: () => number,
    schedule: (flush: () => void) => void = (f) => void setImmediate(f),
    maxPending = DEFAULT_MAX_PENDING,
    perSec = DEFAULT_TRACES_PER_SEC,
  ) {
    this.outbox = new BoundedOutbox(deliver, schedule, maxPending, perSec);
    this.printer = new Printer(engine.registry);
  }

  get active(): boolean {
    return this.mask !== 0;
  }

  /**
   * The sessions now (the control thread sends the whole list at each change). A filter
   * that does not compile (the control thread checked it with the same code) leaves its
   * session without packets rather than tracing everything.
   */
  setSessions(list: TraceSession[]): void {
    const out: Session[] = [];
    let mask = 0;
    for (const s of list) {
      if (s.filter === undefined) {
        out.push({ id: s.id });
        mask |= 1;
        continue;
      }
      try {
        out.push({ id: s.id, filter: compileTraceFilter(s.filter, { registry: this.engine.registry, ifnames: this.engine.ifnames, clock: this.clock }) });
        mask |= 2;
      } catch {
        /* checked by the control thread before it got here */
      }
    }
    this.sessions = out;
    this.mask = mask;
    this.ruleText.clear();
  }

  /** Before the hooks: the sessions' filters choose the packet (ClassifyContext.nftrace bit 1). */
  select(ctx: ClassifyContext): void {
    this.steps = null;
    this.truncated = false;
    this.first = null;
    this.chosen.length = 0;
    if ((this.mask & 2) === 0) return;
    for (const s of this.sessions) {
      if (s.filter === undefined) continue;
      if (s.filter.compiled.classify(ctx, Hook.Prerouting) === Verdict.Accept) this.chosen.push(s.id);
    }
    // The filter's chain ran with the packet's context: its outputs are cleared for the real hooks.
    ctx.resetOutputs();
    if (this.chosen.length > 0) ctx.nftrace |= 2;
  }

  step(hook: number, chainId: number, handle: number, code: number, policy: boolean): void {
    const ctx = this.ctxRef;
    if (this.steps === null) {
      this.steps = [];
      if (ctx) this.first = this.packetJson(ctx);
    }
    if (this.steps.length >= MAX_TRACE_STEPS) {
      this.truncated = true;
      return;
    }
    const c = this.chain(chainId);
    const st: TraceStepJson = { hook: HOOK_NAMES[hook] ?? String(hook), family: c.family, table: c.table, chain: c.name, type: policy ? 'policy' : handle === 0 ? 'return' : 'rule', verdict: this.verdictText(code) };
    if (handle !== 0) {
      st.handle = handle;
      const r = c.rules.find((x) => x.handle === handle);
      if (r !== undefined) st.rule = this.textOf(r);
    }
    this.steps.push(st);
  }

  /** The context of the packet being classified (the filter stage's; set once). */
  ctxRef: ClassifyContext | null = null;

  /**
   * After the packet's verdict: sends its record to the sessions that want it. `ct` gives
   * the connection (tuples, NAT) when the packet has one.
   */
  finish(ctx: ClassifyContext, verdict: 'accept' | 'drop' | 'reject', ct: ConnTracker | undefined): void {
    const byRule = (ctx.nftrace & 1) !== 0 && (this.mask & 1) !== 0;
    const byFilter = (ctx.nftrace & 2) !== 0;
    if (!byRule && !byFilter) return;
    const to: number[] = byFilter ? this.chosen.slice() : [];
    if (byRule) for (const s of this.sessions) if (s.filter === undefined) to.push(s.id);
    const now = this.clock();
    if (!this.outbox.admit(now)) {
      this.counters[C.trace_dropped] += 1;
      this.steps = null;
      return;
    }
    const after = this.packetJson(ctx);
    const first = this.first ?? after;
    const rec: TraceRecordOut = {
      id: this.nextId++,
      time: Date.now(),
      packet: first,
      steps: this.steps ?? [],
      verdict,
      ctState: ctStateName(ctx.ctState),
      by: [...(byRule ? ['nftrace' as const] : []), ...(byFilter ? ['filter' as const] : [])],
      to,
    };
    if (this.truncated) rec.truncated = true;
    if (after.src !== first.src || after.dst !== first.dst || after.sport !== first.sport || after.dport !== first.dport) rec.after = after;
    if (ct !== undefined && ct.result.entry >= 0 && ct.isLive(ct.result.entry)) {
      const j = snapshotToJson(ct.snapshot(ct.result.entry, this.snap));
      rec.ct = { original: j.original, reply: j.reply, status: j.status, mark: j.mark };
    }
    this.steps = null;
    this.counters[C.trace_packets] += 1;
    this.outbox.push(rec);
  }

  flush(): void {
    this.outbox.flush();
  }

  private packetJson(ctx: ClassifyContext): TracePacketJson {
    const p: PacketInfo = ctx.pkt;
    const j: TracePacketJson = {
      family: p.family === 6 ? 'ip6' : 'ip',
      src: formatAddress(p.buf, p.srcOff, p.addrLen),
      dst: formatAddress(p.buf, p.dstOff, p.addrLen),
      proto: p.l4proto,
      length: p.end - p.l3Off,
      mark: ctx.metaMark >>> 0,
    };
    const iif = ctx.ifnames.nameOf(ctx.iif);
    const oif = ctx.ifnames.nameOf(ctx.oif);
    if (iif !== undefined) j.iif = iif;
    if (oif !== undefined) j.oif = oif;
    if (p.l4Valid && (p.l4proto === 6 || p.l4proto === 17 || p.l4proto === 132)) {
      j.sport = p.sport;
      j.dport = p.dport;
    }
    if (p.l4Valid && p.l4proto === 6) j.tcpFlags = TCP_FLAG_NAMES.filter((_, i) => (p.tcpFlags & (1 << i)) !== 0);
    if (p.l4Valid && (p.l4proto === 1 || p.l4proto === 58)) {
      j.icmpType = p.icmpType;
      j.icmpCode = p.icmpCode;
    }
    return j;
  }

  private verdictText(code: number): string {
    switch (code) {
      case Code.Next:
      case Code.Continue:
        return 'continue';
      case Code.Accept:
        return 'accept';
      case Code.Drop:
        return 'drop';
      case Code.Return:
        return 'return';
      default: {
        if (code < Code.JumpBase) return String(code);
        const target = this.chain((code - Code.JumpBase) >> 1);
        return `${(code & 1) === 0 ? 'jump' : 'goto'} ${target.name}`;
      }
    }
  }

  /** Family, table and name of a chain by its compiled id (rebuilt once per ruleset generation). */
  private chain(id: number): ChainInfo {
    if (this.chainsGen !== this.engine.generation) {
      this.chains.clear();
      this.ruleText.clear();
      for (const t of this.engine.ruleset.tables.values()) {
        for (const c of t.chains.values()) this.chains.set(c.id, { family: t.json.family, table: t.json.name, name: c.json.name, rules: c.rules });
      }
      this.chainsGen = this.engine.generation;
    }
    return this.chains.get(id) ?? { family: '?', table: '?', name: `#${id}`, rules: [] };
  }

  /** The rule in nft syntax; one with a counter or quota shows its live values (so it is not cached). */
  private textOf(r: RuleJ): string {
    let t = this.ruleText.get(r);
    if (t !== undefined) return t;
    if (r.expr.some((x) => 'counter' in x || 'quota' in x)) return this.printer.rule(r, { counters: (rule) => this.engine.countersOf(rule) });
    t = this.printer.rule(r);
    this.ruleText.set(r, t);
    return t;
  }
}
