/**
 * The stateful filter stage: conntrack lookup, then the ruleset's prerouting, forward
 * and postrouting hooks, then the conntrack commit (a new connection enters the table
 * only when its first packet is accepted, like Linux's confirm). Either part may be
 * absent: no ruleset means accept, no conntrack means every packet is `untracked`.
 */
import type { PacketInfo } from '../packet/packet-info.js';
import { ClassifyContext, Hook, Verdict as RuleVerdict, type RulesetEngine } from '../ruleset/index.js';
import type { ConnTracker } from '../conntrack/index.js';
import type { RouteInterfaces } from './route-interfaces.js';
import { Verdict, type PacketStage } from './stage.js';
import { C } from './counters.js';
import type { RejectReplies } from './reject.js';

/** nft ct state bit for untracked packets. */
const CT_UNTRACKED = 64;


export class FilterStage implements PacketStage {
  private readonly ctx = new ClassifyContext();
  /** Answers `reject` verdicts (TCP reset / ICMP unreachable); set by whoever owns the TUN device. */
  rejectReplies?: RejectReplies;

  constructor(
    private readonly rules: RulesetEngine | undefined,
    private readonly ct: ConnTracker | undefined,
    private readonly routes: RouteInterfaces,
    private readonly counters: Float64Array,
    /** State sync's view of where conntrack events come from (this packet's traffic, or expiry). */
    private readonly eventSource?: { local: boolean },
  ) {}

  process(pkt: PacketInfo, nowMs: number): Verdict {
    const ctx = this.ctx;
    ctx.pkt = pkt;
    ctx.nowMs = nowMs;
    const fam = pkt.family as 4 | 6;
    ctx.iif = this.routes.lookup(pkt.buf, pkt.srcOff, fam);
    ctx.oif = this.routes.lookup(pkt.buf, pkt.dstOff, fam);
    ctx.metaMark = 0;
    const events = this.eventSource;
    if (events) events.local = true;
    try {
      return this.classify(pkt, nowMs);
    } finally {
      if (events) events.local = false;
    }
  }

  private classify(pkt: PacketInfo, nowMs: number): Verdict {
    const ctx = this.ctx;
    const ct = this.ct;
    if (ct) {
      ctx.ctState = ct.track(pkt, nowMs);
      const r = ct.result;
      if (r.drop) {
        this.counters[C.ct_table_full_drops] += 1;
        return Verdict.Drop;
      }
      ctx.ctStatus = r.status;
      ctx.ctMark = r.mark;
    } else {
      ctx.ctState = CT_UNTRACKED;
      ctx.ctStatus = 0;
      ctx.ctMark = 0;
    }

    let verdict = RuleVerdict.Accept;
    let rejected = false;
    const compiled = this.rules?.compiled;
    if (compiled) {
      for (let h = 0; h < HOOKS.length; h++) {
        const hook = HOOKS[h]!;
        if (!compiled.hasHook(hook)) continue;
        verdict = compiled.classify(ctx, hook);
        if (ctx.notrack && ct && ct.result.pending) {
          // `notrack` (raw priority in nft): the packet's new entry is never created.
          ct.untracked();
          ctx.ctState = CT_UNTRACKED;
          this.counters[C.notrack] += 1;
        }
        if (ctx.ctMarkSet && ct && ct.result.entry >= 0 && !ct.result.pending) ct.setMark(ct.result.entry, ctx.ctMark);
        if (verdict === RuleVerdict.Drop) {
          rejected = ctx.reject !== 0;
          break;
        }
      }
    }
    if (ct && ct.result.pending) {
      if (!ct.commit(verdict === RuleVerdict.Accept)) {
        this.counters[C.ct_commit_refused] += 1;
        return Verdict.Drop;
      }
      if (ctx.ctMarkSet && verdict === RuleVerdict.Accept) ct.setMark(ct.result.entry, ctx.ctMark);
    }
    if (verdict === RuleVerdict.Accept) return Verdict.Accept;
    if (!rejected) return Verdict.Drop;
    this.rejectReplies?.reply(pkt, this.ctx.reject, this.ctx.rejectCode, nowMs);
    return Verdict.Reject;
  }

  endBatch(nowMs: number): void {
    const ct = this.ct;
    if (!ct) return;
    ct.expire(nowMs);
    this.counters[C.ct_entries] = ct.count();
    this.counters[C.ct_invalid] = ct.stats.invalid;
  }
}

const HOOKS = [Hook.Prerouting, Hook.Forward, Hook.Postrouting] as const;
