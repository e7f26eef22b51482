/**
 * The stateful filter stage: conntrack lookup, then the ruleset's hooks along the packet's
 * path, then the conntrack commit (a new connection enters the table only when its first
 * packet is accepted, like Linux's confirm). Either part may be absent: no ruleset means
 * accept, no conntrack means every packet is `untracked`.
 *
 * The paths are netfilter's:
 *   forwarded              prerouting -> forward -> postrouting
 *   to the node            prerouting -> input
 *   from the node          output -> postrouting
 * The kernel steers the node's own traffic through the TUN device too (kernel-plumbing.ts,
 * own-traffic-routes.ts), so the datapath tells the paths apart by address: a packet from
 * one of the node's addresses was sent by the node (the kernel drops one that arrives on a
 * protected interface with such a source: anti-spoof rules), one addressed to the node
 * after prerouting (a DNAT may have made it so) is for the node. A connection remembers its
 * path in its status (LocalIn / LocalOut), so its later packets need no address lookup.
 */
import { IpProto, PacketInfo, TcpFlag } from '../../packet/packet-info.js';
import { conntrackChecksumOk } from '../../packet/checksum.js';
import { ClassifyContext, Hook, Verdict as RuleVerdict, type FlowtableState, type RulesetEngine } from '../../ruleset/index.js';
import { CT_STATUS_NO_GROUP, CtDir, CtSnapshot, CtState, CtStatus, TcpState, type ConnTracker } from '../../conntrack/index.js';
import { CtHelperId } from '../../ct-state/index.js';
import { NatBinding, NatKind, NatManip } from '../../nat/binding.js';
import type { NatRequest } from '../../nat/request.js';
import { NatSetupStatus, setupNat } from '../../nat/setup.js';
import { NatResult, applyNat, translateIcmpError } from '../../nat/translate.js';
import { writeReplyTuple } from '../../nat/tuple-pair.js';
import { ExpectedBindResult, FtpNat, bindExpected } from '../../nat/ftp-nat.js';
import type { ExpectNat } from '../../conntrack/expectations.js';
import { seqAdjustQuoted } from '../../conntrack/seqadj.js';
import type { NatState } from './nat-state.js';
import type { LocalAddresses } from './local-addresses.js';
import type { RouteInterfaces } from './route-interfaces.js';
import { Verdict, type PacketStage } from './stage.js';
import { C } from '../shared/counters.js';
import type { RejectReplies } from './reject.js';
import { publishCtCounters } from './ct-gc.js';
import type { TraceCollector } from './trace-collector.js';

/** Where a packet goes through the node (see the module comment). */
const enum Path {
  /** Not decided before prerouting: input or forward, by the destination after prerouting. */
  Inbound = 0,
  Forward = 1,
  Input = 2,
  Output = 3,
}


export class FilterStage implements PacketStage {
  private readonly ctx = new ClassifyContext();
  /** Answers `reject` verdicts (TCP reset / ICMP unreachable); set by whoever owns the TUN device. */
  rejectReplies?: RejectReplies;
  /** `hafw trace` sessions (absent or inactive: nothing is traced; see trace-collector.ts). */
  private trace?: TraceCollector;
  /**
   * Hands a packet of another node's connection to that node (worker/handoff.ts): set with
   * ConnTracker.replicaGate, whose claimed packets come here as `result.handoff`.
   */
  handoff: ((slot: Uint8Array) => void) | null = null;
  /**
   * True while a packet a peer handed over runs through: it passes only through a
   * connection this node owns; a replica's or an unknown connection's packet is dropped
   * (never handed on again, never the start of a new connection).
   */
  fromPeer = false;
  /**
   * The interface id (the engine's InterfaceNames) the packets being processed came in on,
   * when the device knows it (a per-interface TUN device, datapath.inputDevices); 0: not
   * known, the input interface is inferred from the route back to the source (the shared
   * TUN device, replay, packets a peer hands over). Set per batch by the packet loop.
   */
  inputIf = 0;

  /**
   * Holds the first packet of a connection this node forwards until the peers have its
   * state (worker/defer.ts): true when it took the packet. Null: no deferral.
   */
  defer: ((buf: Uint8Array, offset: number, length: number) => boolean) | null = null;

  setTrace(t: TraceCollector): void {
    this.trace = t;
    t.ctxRef = this.ctx;
  }

  constructor(
    private readonly rules: RulesetEngine | undefined,
    private readonly ct: ConnTracker | undefined,
    private readonly routes: RouteInterfaces,
    private readonly counters: Float64Array,
    /** State sync's view of where conntrack events come from (this packet's traffic, or expiry). */
    private readonly eventSource?: { local: boolean },
    /**
     * NAT: bindings per conntrack entry. Without it (or without conntrack) NAT
     * statements are accepted by the ruleset but translate nothing.
     */
    readonly nat?: NatState,
    /**
     * The node's own addresses (interface addresses and the VIPs held now): they decide a
     * new packet's path, input or output. Absent: every packet is forwarded traffic.
     */
    private readonly local?: LocalAddresses,
  ) {
    // The FTP helper rewrites announcements on NATed control connections through the bindings.
    if (ct !== undefined && nat !== undefined) ct.setFtpNat(new FtpNat((e) => nat.get(e), nat.allocator));
  }

  /** What decided the last packet (ClassifyContext.decidedChain / decidedRule), for replay's explanations. */
  get decided(): { chain: number; rule: number } {
    return { chain: this.ctx.decidedChain, rule: this.ctx.decidedRule };
  }

  private readonly natSnap = new CtSnapshot();
  private readonly icmpScratch = new PacketInfo();

  process(pkt: PacketInfo, nowMs: number): Verdict {
    const ctx = this.ctx;
    ctx.pkt = pkt;
    ctx.nowMs = nowMs;
    const fam = pkt.family as 4 | 6;
    ctx.iif = this.inputIf !== 0 ? this.inputIf : this.routes.lookup(pkt.buf, pkt.srcOff, fam);
    ctx.oif = this.routes.lookup(pkt.buf, pkt.dstOff, fam);
    ctx.routeMtu = this.routes;
    ctx.fibRoutes = this.routes;
    ctx.metaMark = 0;
    ctx.decidedChain = -1;
    ctx.decidedRule = 0;
    ctx.localAddrs = this.local ?? null;
    ctx.nftrace = 0;
    const trace = this.trace;
    ctx.traceMask = trace !== undefined ? trace.mask : 0;
    if (ctx.traceMask !== 0) ctx.tracer = trace!;
    const events = this.eventSource;
    if (events) events.local = true;
    try {
      const v = this.classify(pkt, nowMs);
      // A traced packet's record ends with its fate (and, after commit, its connection).
      if (ctx.nftrace !== 0 && ctx.traceMask !== 0) trace!.finish(ctx, v === Verdict.Accept ? 'accept' : v === Verdict.Reject ? 'reject' : 'drop', this.ct);
      return v;
    } finally {
      if (events) events.local = false;
    }
  }

  /** A packet of a connection this node does not own: to its owner, or (handed over already) dropped. */
  private handOff(pkt: PacketInfo): Verdict {
    if (this.fromPeer || this.handoff === null) {
      this.counters[C.handoff_not_owner] += 1;
      return Verdict.Drop;
    }
    // As it came out of the TUN device: virtio header (a super-packet stays one) and packet.
    this.handoff(pkt.buf.subarray(pkt.vnetLen > 0 ? pkt.vnetOff : pkt.l3Off, pkt.end));
    return Verdict.Stolen;
  }

  private classify(pkt: PacketInfo, nowMs: number): Verdict {
    const ctx = this.ctx;
    const ct = this.ct;
    if (ct) {
      // Linux with nf_conntrack_checksum=1 (its default): a bad L4 checksum is invalid.
      ctx.ctState = !ct.verifyChecksums || conntrackChecksumOk(pkt) ? ct.track(pkt, nowMs) : ct.badChecksum();
      const r = ct.result;
      if (r.drop) {
        this.counters[C.ct_table_full_drops] += 1;
        return Verdict.Drop;
      }
      if (r.handoff || (this.fromPeer && (r.pending || r.entry < 0))) return this.handOff(pkt);
      // The group bits are hafw's (CT_GROUP_SHIFT): `ct status` sees the kernel's bits.
      ctx.ctStatus = r.status & CT_STATUS_NO_GROUP;
      ctx.ctMark = r.mark;
      ctx.ctDir = r.dir;
      ctx.ctEntry = r.entry;
      ctx.ctReader = ct;
      ctx.ctHelper = ct.getHelper(r.entry);
    } else {
      ctx.ctState = CtState.Untracked;
      ctx.ctStatus = 0;
      ctx.ctMark = 0;
      ctx.ctEntry = -1;
      ctx.ctHelper = 0;
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
        if (ctx.ctState === CtState.Related && pkt.icmpInnerOff !== 0) {
          // An ICMP error quoting a NATed connection: quote and outer header at once (RFC 5508).
          if (translateIcmpError(pkt, bound, boundDir === CtDir.Original ? 'original' : 'reply', this.icmpScratch) === NatResult.Ok) {
            this.counters[C.nat_translated] += 1;
            this.reroute(pkt);
          }
          // A quoted segment of a connection whose payload a helper resized (FTP through NAT):
          // its sequence numbers back to the space its sender knows (seqadj.ts).
          const adj = ct.seqAdjOf(ct.result.entry);
          if (adj !== undefined) seqAdjustQuoted(adj, boundDir ^ 1, pkt);
          bound = null;
        } else if (applyNat(pkt, bound, boundDir === CtDir.Original ? 'original' : 'reply', boundDir === CtDir.Original ? NatManip.Dst : NatManip.Src) === NatResult.Ok) {
          this.reroute(pkt);
        }
      }
    } else if (nat && pending) {
      // A new connection in a slot a replica (deleted without events) may have left bound.
      nat.release(ct!.result.entry);
    }

    // The flowtable fast path (ruleset/flowtables.ts): an offloaded connection's packets skip
    // every hook and leave with their NAT applied, as the kernel's flowtable forwards them.
    // An ICMP error about the connection (related) is no packet of the flow: the kernel's
    // flowtable does not hold its tuple, it takes the slow path and the flow stays offloaded.
    if (ct !== undefined && !pending && (ctx.ctStatus & CtStatus.Offload) !== 0 && ct.result.entry >= 0 && ctx.ctState !== CtState.Related) {
      if (this.fastPath(pkt, ct.result.entry)) {
        this.counters[C.forwarded] += 1;
        this.counters[C.flow_fastpath] += 1;
        if (bound !== null) applyNat(pkt, bound, boundDir === CtDir.Original ? 'original' : 'reply', boundDir === CtDir.Original ? NatManip.Src : NatManip.Dst);
        return Verdict.Accept;
      }
      ctx.ctStatus &= ~CtStatus.Offload;
    }

    // A packet of a known connection takes the connection's path; a new one (or an ICMP
    // error, which the node may send about a forwarded connection) is placed by address.
    let path: Path;
    if (ct !== undefined && ct.result.entry >= 0 && !pending && ctx.ctState !== CtState.Related) path = pathOf(ctx.ctStatus, ctx.ctDir);
    else path = this.isLocal(pkt, pkt.srcOff) ? Path.Output : Path.Inbound;
    if (path === Path.Output) ctx.iif = 0;

    this.natNew = null;
    this.expectedSrc = false;
    this.rejected = false;
    this.helperNew = 0;
    this.offloadTo = null;
    // A data connection a NATed control connection announced: its translation was decided
    // with the announcement (nat/ftp-nat.ts, Linux's nf_nat_follow_master), not by the nat chains.
    if (pending) {
      const x = ct!.expectedNat(ct!.result.entry);
      if (x !== null && !this.bindExpected(pkt, x)) return Verdict.Drop;
    }
    // Trace sessions' filters see the packet as the first hook will (conntrack state known).
    if (ctx.traceMask !== 0) this.trace!.select(ctx);
    let verdict = this.runHooks(path === Path.Output ? OUTPUT_HOOKS : PREROUTING_HOOKS, pkt);
    if (path !== Path.Output) {
      // After prerouting: a DNAT may have made the packet the node's, or sent it elsewhere.
      if (path === Path.Inbound) path = this.isLocal(pkt, pkt.dstOff) ? Path.Input : Path.Forward;
      if (path === Path.Input) ctx.oif = 0;
      if (verdict === RuleVerdict.Accept) verdict = this.runHooks(path === Path.Input ? INPUT_HOOKS : FORWARD_HOOKS, pkt);
    }
    this.counters[path === Path.Input ? C.to_node : path === Path.Output ? C.from_node : C.forwarded] += 1;
    const rejected = this.rejected as boolean;
    const natNew = this.natNew as NatBinding | null; // set by runHooks
    if (ct && ct.result.pending && path !== Path.Forward) {
      ct.setStatusBits(ct.result.entry, path === Path.Input ? CtStatus.LocalIn : CtStatus.LocalOut);
    }
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
      if (this.helperNew !== 0 && accepted) ct.setHelper(ct.result.entry, this.helperNew);
    }
    if (verdict === RuleVerdict.Accept && this.offloadTo !== null && path === Path.Forward && ct !== undefined && !pending) this.offload(pkt, ct, this.offloadTo);
    if (verdict === RuleVerdict.Accept) {
      // The helper reads what the ruleset let through (Linux runs helpers after the filter);
      // on a NATed connection it may rewrite the payload, or ask for the packet to be dropped.
      if (ct && !ct.helperPacket(pkt, nowMs)) return Verdict.Drop;
      if (this.expectedSrc) applyNat(pkt, natNew!, 'original', NatManip.Src);
      if (bound !== null) {
        applyNat(pkt, bound, boundDir === CtDir.Original ? 'original' : 'reply', boundDir === CtDir.Original ? NatManip.Src : NatManip.Dst);
      }
      // A new forwarded connection: its reply may come back through a peer, which must know it first.
      if (pending && path === Path.Forward && this.defer !== null && !this.fromPeer) {
        const from = pkt.vnetLen > 0 ? pkt.vnetOff : pkt.l3Off;
        if (this.defer(pkt.buf, from, pkt.end - from)) return Verdict.Stolen;
      }
      return Verdict.Accept;
    }
    if (!rejected) return Verdict.Drop;
    this.rejectReplies?.reply(pkt, this.ctx.reject, this.ctx.rejectCode, nowMs);
    return Verdict.Reject;
  }

  /**
   * Binds an expected data connection (pending entry, first packet untranslated) as its
   * expectation says: the destination side at once (as DNAT in prerouting), the source
   * side after the hooks. The nat chains do not see the connection. False: drop (no source
   * port free), counted.
   */
  private bindExpected(pkt: PacketInfo, x: ExpectNat): boolean {
    const nat = this.nat;
    // Without NAT state nothing binds it (the tracker gives the port back at its next packet).
    if (nat === undefined) return true;
    const ctx = this.ctx;
    ctx.natChains = false;
    const b = nat.prepare(this.ct!.result.entry);
    if (bindExpected(b, pkt, x, nat.allocator) !== ExpectedBindResult.Ok) {
      x.hold?.release(x.holdPort);
      x.clear();
      this.counters[C.nat_exhausted_drops] += 1;
      return false;
    }
    x.clear();
    if (b.manip === NatManip.None) return true;
    this.natNew = b;
    this.counters[C.nat_new] += 1;
    if ((b.manip & NatManip.Dst) !== 0) {
      ctx.ctStatus |= CtStatus.DstNat;
      if (applyNat(pkt, b, 'original', NatManip.Dst) === NatResult.Ok) this.reroute(pkt);
    }
    if ((b.manip & NatManip.Src) !== 0) {
      ctx.ctStatus |= CtStatus.SrcNat;
      this.expectedSrc = true;
    }
    return true;
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
   * The flowtable each offloaded entry belongs to, as its id + 1 by entry index (allocated
   * at the first offload: 4 bytes per conntrack slot, never more however entries churn);
   * entries without the Offload bit hold stale values, never read.
   */
  private offloadedBy: Int32Array | null = null;
  /** The flowtables those ids name; retired ones are dropped when looked up or when a new one comes. */
  private readonly flowtablesById = new Map<number, FlowtableState>();
  /** What `flow add @f` asked for in the forward hook of this packet (runHooks). */
  private offloadTo: FlowtableState | null = null;

  /**
   * Offloads the packet's connection when the kernel would (nft_flow_offload_eval): a
   * confirmed entry (not this packet's new one), TCP in ESTABLISHED and this packet no FIN
   * or RST, or UDP; not an ICMP error's relation; not a connection with a conntrack helper
   * (the helper must read every packet: an offloaded FTP control connection would announce
   * nothing); both interfaces among the devices. The packet itself has been through the
   * rules; the next ones take the fast path.
   */
  private offload(pkt: PacketInfo, ct: ConnTracker, ft: FlowtableState): void {
    const ctx = this.ctx;
    const entry = ct.result.entry;
    if (entry < 0 || (ctx.ctStatus & CtStatus.Offload) !== 0 || ft.retired) return;
    if (ctx.ctState !== CtState.Established && ctx.ctState !== CtState.New) return;
    if (pkt.l4proto === IpProto.Tcp) {
      if ((pkt.tcpFlags & (TcpFlag.Fin | TcpFlag.Rst)) !== 0 || ct.getTcpState(entry) !== TcpState.Established) return;
    } else if (pkt.l4proto !== IpProto.Udp) return;
    if (ct.getHelper(entry) !== CtHelperId.None) return;
    if (!ft.covers(ctx.iif, ctx.oif)) return;
    ct.setOffload(entry, true);
    const by = (this.offloadedBy ??= new Int32Array(ct.capacity));
    by[entry] = ft.id + 1;
    if (this.flowtablesById.get(ft.id) !== ft) {
      // A new flowtable (a reload makes new ones): forget the retired ones no flow asked about.
      for (const [id, f] of this.flowtablesById) if (f.retired) this.flowtablesById.delete(id);
      this.flowtablesById.set(ft.id, ft);
    }
    ft.offloaded += 1;
    this.counters[C.flow_offloaded] += 1;
  }

  /**
   * Whether an offloaded entry's packet may take the fast path. A TCP FIN or RST tears the
   * flow down (nf_flow_state_check: the kernel hands that packet, and the connection, back
   * to the classic path), as does a flowtable that is gone or a packet on an interface that
   * is not among its devices (the kernel's flowtable hook never sees it).
   */
  private fastPath(pkt: PacketInfo, entry: number): boolean {
    const id = this.offloadedBy !== null ? this.offloadedBy[entry]! - 1 : -1;
    const ft = this.flowtablesById.get(id);
    const ctx = this.ctx;
    const ok = ft !== undefined && !ft.retired && (ctx.ctState === CtState.Established || ctx.ctState === CtState.New) &&
      (pkt.l4proto !== IpProto.Tcp || (pkt.tcpFlags & (TcpFlag.Fin | TcpFlag.Rst)) === 0) && ft.covers(ctx.iif, ctx.oif);
    if (ok) return true;
    this.ct!.setOffload(entry, false);
    if (ft !== undefined && ft.retired) this.flowtablesById.delete(id);
    this.counters[C.flow_teardown] += 1;
    return false;
  }

  /** Is the address at `off` one of the node's own? */
  private isLocal(pkt: PacketInfo, off: number): boolean {
    return this.local !== undefined && this.local.size !== 0 && this.local.has(pkt.buf, off, pkt.family);
  }

  /** What runHooks found besides the verdict (fields, so the hot path allocates nothing). */
  private natNew: NatBinding | null = null;
  /** The expected connection's binding (natNew) has a source side, applied after the hooks. */
  private expectedSrc = false;
  /** The helper a `ct helper set` gave the packet's new connection (0: none), set by runHooks. */
  private helperNew = 0;
  private rejected = false;

  /**
   * Runs the ruleset's chains of `hooks` in order until one drops the packet. A new
   * connection's NAT statements set up its binding: the destination side at prerouting and
   * output (dnat, redirect), the source side at postrouting and input (snat, masquerade).
   */
  private runHooks(hooks: readonly Hook[], pkt: PacketInfo): RuleVerdict {
    const compiled = this.rules?.compiled;
    if (!compiled) return RuleVerdict.Accept;
    const ctx = this.ctx;
    const ct = this.ct;
    for (let h = 0; h < hooks.length; h++) {
      const hook = hooks[h]!;
      if (!compiled.hasHook(hook)) continue;
      const verdict = compiled.classify(ctx, hook);
      if (ctx.notrack && ct && ct.result.pending) {
        // `notrack` (raw priority in nft): the packet's new entry is never created (nor the
        // binding an expectation gave it).
        if (this.natNew !== null) this.nat?.release(ct.result.entry);
        this.natNew = null;
        this.expectedSrc = false;
        ct.untracked();
        ctx.ctState = CtState.Untracked;
        ctx.ctEntry = -1;
        ctx.natChains = false;
        this.counters[C.notrack] += 1;
      }
      if (ctx.ctMarkSet && ct && ct.result.entry >= 0 && !ct.result.pending) ct.setMark(ct.result.entry, ctx.ctMark);
      // `ct helper set` (any hook): given to the connection when its first packet is accepted.
      if (ctx.ctHelperSet) this.helperNew = ctx.ctHelper;
      if (verdict === RuleVerdict.Drop) {
        this.rejected = ctx.reject !== 0;
        return verdict;
      }
      if (hook === Hook.Forward && ctx.flowOffload !== null) this.offloadTo = ctx.flowOffload;
      if (ctx.natChains) {
        const dstSide = hook === Hook.Prerouting || hook === Hook.Output;
        const req = dstSide ? ctx.natDst : hook === Hook.Postrouting || hook === Hook.Input ? ctx.natSrc : null;
        if (req !== null) {
          this.natNew = this.setupNat(this.natNew, req, pkt, dstSide ? NatManip.Dst : NatManip.Src);
          if (this.natNew === null) return RuleVerdict.Drop;
        }
      }
    }
    return RuleVerdict.Accept;
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

const PREROUTING_HOOKS = [Hook.Prerouting] as const;
const FORWARD_HOOKS = [Hook.Forward, Hook.Postrouting] as const;
const INPUT_HOOKS = [Hook.Input] as const;
const OUTPUT_HOOKS = [Hook.Output, Hook.Postrouting] as const;

/** The path of a packet of a known connection, from the path its first packet took. */
function pathOf(status: number, dir: number): Path {
  if (status & CtStatus.LocalIn) return dir === CtDir.Original ? Path.Input : Path.Output;
  if (status & CtStatus.LocalOut) return dir === CtDir.Original ? Path.Output : Path.Input;
  return Path.Forward;
}
