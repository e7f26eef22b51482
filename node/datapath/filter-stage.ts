/**
 * The stateful filter stage: conntrack lookup, then the ruleset's prerouting, forward
 * and postrouting hooks, then the conntrack commit (a new connection enters the table
 * only when its first packet is accepted, like Linux's confirm). Either part may be
 * absent: no ruleset means accept, no conntrack means every packet is `untracked`.
 */
import { PacketInfo } from '../packet/packet-info.js';
import { ClassifyContext, Hook, Verdict as RuleVerdict, type RulesetEngine } from '../ruleset/index.js';
import { CtDir, CtSnapshot, CtStatus, type ConnTracker } from '../conntrack/index.js';
import { NatBinding, NatKind, NatManip } from '../nat/binding.js';
import type { NatRequest } from '../nat/request.js';
import { NatSetupStatus, setupNat } from '../nat/setup.js';
import { NatResult, applyNat, translateIcmpError } from '../nat/translate.js';
import { writeReplyTuple } from '../nat/tuple-pair.js';
import type { NatState } from './nat-state.js';
import type { LocalAddresses } from './local-addresses.js';
import type { RouteInterfaces } from './route-interfaces.js';
import { Verdict, type PacketStage } from './stage.js';
import { C } from './counters.js';
import type { RejectReplies } from './reject.js';
import { publishCtCounters } from './ct-gc.js';

/** nft ct state bits. */
const CT_UNTRACKED = 64;
const CT_RELATED = 4;


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
    /**
     * NAT (issue 7): bindings per conntrack entry. Without it (or without conntrack) NAT
     * statements are accepted by the ruleset but translate nothing.
     */
    readonly nat?: NatState,
    /**
     * The node's own addresses: packets for the node itself that are not a NAT reply are
     * handed back untracked for local delivery (see local-addresses.ts). Absent: none.
     */
    private readonly local?: LocalAddresses,
  ) {}

  private readonly natSnap = new CtSnapshot();
  private readonly icmpScratch = new PacketInfo();

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
      ctx.ctDir = r.dir;
    } else {
      ctx.ctState = CT_UNTRACKED;
      ctx.ctStatus = 0;
      ctx.ctMark = 0;
    }

    // NAT of a known connection: the binding made on its first packet. Like netfilter, the
    // destination side is rewritten before the forward hook (DNAT in prerouting, or the
    // reply's un-SNAT), the source side after postrouting (SNAT, or the reply's un-DNAT).
    const nat = this.nat;
    let bound: NatBinding | null = null;
    let boundDir = 0;
    const pending = ct !== undefined && ct.result.pending;
    // Nat chains see the first packet of a connection only (nft semantics).
    ctx.natChains = pending && nat !== undefined;
    if (nat && ct && !pending && ct.result.entry >= 0) {
      bound = nat.get(ct.result.entry);
      if (bound !== null) {
        boundDir = ct.result.dir;
        if (ctx.ctState === CT_RELATED && pkt.icmpInnerOff !== 0) {
          // An ICMP error quoting a NATed connection: quote and outer header at once (RFC 5508).
          if (translateIcmpError(pkt, bound, boundDir === CtDir.Original ? 'original' : 'reply', this.icmpScratch) === NatResult.Ok) {
            this.counters[C.nat_translated] += 1;
            this.reroute(pkt);
          }
          bound = null;
        } else if (applyNat(pkt, bound, boundDir === CtDir.Original ? 'original' : 'reply', boundDir === CtDir.Original ? NatManip.Dst : NatManip.Src) === NatResult.Ok) {
          this.reroute(pkt);
        }
      }
    } else if (nat && pending) {
      // A new connection in a slot a replica (deleted without events) may have left bound.
      nat.release(ct!.result.entry);
    }

    let verdict = RuleVerdict.Accept;
    let rejected = false;
    let natNew: NatBinding | null = null;
    const compiled = this.rules?.compiled;
    if (compiled) {
      for (let h = 0; h < HOOKS.length; h++) {
        const hook = HOOKS[h]!;
        // After prerouting (a DNAT may have sent it elsewhere): traffic for the node itself.
        if (hook === Hook.Forward && this.forNode(pkt, bound, natNew)) return this.deliverToNode();
        if (!compiled.hasHook(hook)) continue;
        verdict = compiled.classify(ctx, hook);
        if (ctx.notrack && ct && ct.result.pending) {
          // `notrack` (raw priority in nft): the packet's new entry is never created.
          ct.untracked();
          ctx.ctState = CT_UNTRACKED;
          ctx.natChains = false;
          this.counters[C.notrack] += 1;
        }
        if (ctx.ctMarkSet && ct && ct.result.entry >= 0 && !ct.result.pending) ct.setMark(ct.result.entry, ctx.ctMark);
        if (verdict === RuleVerdict.Drop) {
          rejected = ctx.reject !== 0;
          break;
        }
        if (ctx.natChains) {
          const req = hook === Hook.Prerouting ? ctx.natDst : hook === Hook.Postrouting ? ctx.natSrc : null;
          if (req !== null) {
            natNew = this.setupNat(natNew, req, pkt, hook === Hook.Prerouting ? NatManip.Dst : NatManip.Src);
            if (natNew === null) {
              verdict = RuleVerdict.Drop;
              break;
            }
          }
        }
      }
    }
    if (!compiled && this.forNode(pkt, bound, natNew)) return this.deliverToNode();
    if (ct && ct.result.pending) {
      const entry = ct.result.entry;
      const accepted = verdict === RuleVerdict.Accept;
      if (accepted && natNew !== null && nat) {
        // Replies must find the entry by the translated tuple: it becomes the reply tuple
        // before the entry is hashed (Linux: nf_nat_setup_info changes the reply tuple
        // before confirm).
        const snap = this.natSnap;
        ct.snapshot(entry, snap, nowMs);
        writeReplyTuple(natNew, snap);
        ct.setReplyTuple(entry, snap);
        ct.setStatusBits(entry, ((natNew.manip & NatManip.Src) !== 0 ? CtStatus.SrcNat : 0) | ((natNew.manip & NatManip.Dst) !== 0 ? CtStatus.DstNat : 0));
        nat.activate(entry);
      }
      if (!ct.commit(accepted)) {
        if (natNew !== null) nat?.release(entry);
        this.counters[C.ct_commit_refused] += 1;
        return Verdict.Drop;
      }
      if (!accepted && natNew !== null) nat?.release(entry);
      if (ctx.ctMarkSet && accepted) ct.setMark(ct.result.entry, ctx.ctMark);
    }
    if (verdict === RuleVerdict.Accept) {
      if (bound !== null) {
        applyNat(pkt, bound, boundDir === CtDir.Original ? 'original' : 'reply', boundDir === CtDir.Original ? NatManip.Src : NatManip.Dst);
      }
      return Verdict.Accept;
    }
    if (!rejected) return Verdict.Drop;
    this.rejectReplies?.reply(pkt, this.ctx.reject, this.ctx.rejectCode, nowMs);
    return Verdict.Reject;
  }

  /**
   * Sets up one side of a new connection's binding from a NAT statement's request and
   * translates the packet for that side. Returns the binding, or null when the packet must
   * be dropped (ports exhausted, no interface address): counted, never thrown.
   */
  private setupNat(b: NatBinding | null, req: NatRequest, pkt: PacketInfo, side: number): NatBinding | null {
    const nat = this.nat!;
    const ct = this.ct!;
    const binding = b ?? nat.prepare(ct.result.entry);
    let iface: Uint8Array | null = null;
    // masquerade: the egress interface's address; redirect: the ingress interface's.
    if (req.kind === NatKind.Masquerade) iface = nat.interfaceAddress(this.ctx.oif, pkt.family);
    else if (req.kind === NatKind.Redirect) iface = nat.interfaceAddress(this.ctx.iif, pkt.family);
    const st = setupNat(binding, req, pkt, nat.allocator, iface);
    if (st !== NatSetupStatus.Ok) {
      this.counters[st === NatSetupStatus.PortsExhausted ? C.nat_exhausted_drops : C.nat_failed_drops] += 1;
      nat.allocator.releaseBinding(binding);
      return null;
    }
    if (b === null) this.counters[C.nat_new] += 1;
    // Later hooks of this first packet see the connection as NATed (`ct status dnat` in
    // forward), as the kernel sets IPS_DST_NAT / IPS_SRC_NAT when the binding is made.
    this.ctx.ctStatus |= side === NatManip.Dst ? CtStatus.DstNat : CtStatus.SrcNat;
    if (applyNat(pkt, binding, 'original', side) === NatResult.Ok && side === NatManip.Dst) this.reroute(pkt);
    return binding;
  }

  /**
   * Addressed to the node and not part of a NAT binding: the node's own traffic (its API,
   * replies to its own connections), which only reaches the TUN device because the kernel
   * steers protocols there for NAT replies. It is not forwarded, so neither tracked nor
   * filtered here (nft's forward hook never sees it either).
   */
  private forNode(pkt: PacketInfo, bound: NatBinding | null, natNew: NatBinding | null): boolean {
    // A packet of a tracked connection is forwarded traffic (the node's own never enters the
    // table): the bulk of packets skip the address lookup.
    const ct = this.ct;
    if (ct !== undefined && ct.result.entry >= 0 && !ct.result.pending) return false;
    return bound === null && natNew === null && this.local !== undefined && this.local.has(pkt.buf, pkt.dstOff, pkt.family);
  }

  private deliverToNode(): Verdict {
    const ct = this.ct;
    if (ct && ct.result.pending) ct.untracked();
    this.counters[C.to_node] += 1;
    return Verdict.Accept;
  }

  /** The destination changed: the egress interface may have too. */
  private reroute(pkt: PacketInfo): void {
    this.ctx.oif = this.routes.lookup(pkt.buf, pkt.dstOff, pkt.family as 4 | 6);
  }

  endBatch(nowMs: number): void {
    const ct = this.ct;
    if (!ct) return;
    // The same sweep as the idle timer's (ct-gc.ts), on the same cursor.
    ct.expire(nowMs);
    publishCtCounters(ct, this.counters);
  }
}

const HOOKS = [Hook.Prerouting, Hook.Forward, Hook.Postrouting] as const;
