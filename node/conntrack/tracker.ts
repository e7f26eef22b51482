/**
 * ConnTracker: the connection table and the per-protocol trackers behind one small API.
 *
 *   const ct = new ConnTracker({ maxEntries: 1 << 20 });
 *   ct.onEvent = (kind, entry) => { ct.snapshot(entry, snap); ... };
 *   const state = ct.track(pkt, now, zone);   // ct.result has entry/dir/state/status/mark
 *   ...run the ruleset...
 *   ct.commit(verdict === accept);             // a new entry is inserted only when accepted
 *
 * Like Linux, a new connection is inserted at "confirm" time, i.e. only once the ruleset
 * accepted its first packet (nf_conntrack_confirm): a dropped SYN leaves no entry behind.
 * A pending entry that is not committed before the next track() call is discarded.
 *
 * Nothing on the per-packet path allocates: keys live in a scratch Uint32Array, results
 * in the reused `result` object, and all entry data in the typed arrays of ConnTable.
 *
 * This file is the engine every protocol shares: lookup, new entries and their commit,
 * results, events, expiry and the entry API. Each protocol's rules are in its own module
 * (tcp-tracker, udp-tracker, icmp-tracker, generic-tracker), the tuples' layout in
 * ConnTable, and the replicas a peer owns in replicas.ts.
 */
import { randomBytes } from 'node:crypto';
import { IpProto, type PacketInfo, ParseStatus } from '../packet/packet-info.js';
import { PacketInfo as PacketInfoClass } from '../packet/packet-info.js';
import { ConnTable, Slot } from './conn-table.js';
import {
  type ConntrackOptions,
  CtDir,
  CtEventKind,
  CtResult,
  CtSnapshot,
  CtState,
  CtStats,
  CtStatus,
  type CtTimeouts,
  type CtReplyTupleLike,
  type CtTupleLike,
  DEFAULT_TIMEOUTS,
  TcpState,
  withCtGroup,
} from './ct-types.js';
import { genericPacket } from './generic-tracker.js';
import { IcmpKind, icmpCanCreate, icmpErrorKey, icmpErrorToQuotedSender, icmpId, icmpInverse, icmpKind, icmpTimeout } from './icmp-tracker.js';
import { Replicas } from './replicas.js';
import {
  type TcpConfig,
  TcpVerdict,
  TIMEOUT_RETRANS,
  TIMEOUT_UNACK,
  tcpClosing,
  tcpFlagsValid,
  tcpIndex,
  tcpNew,
  tcpNextState,
  tcpPacket,
} from './tcp-tracker.js';
import { udpNew, udpPacket } from './udp-tracker.js';
import { CtHelperId } from '../ct-state/index.js';
import { ExpectNat, ExpectNatFlag, EXPECT_TIMEOUT_MS, Expectations } from './expectations.js';
import { FtpHelper, type FtpNatHook } from './ftp-helper.js';
import { SeqAdj, seqAdjustPacket } from './seqadj.js';

/** importEntry(): the table is full (or the probe cap or the family refused it). */
export const IMPORT_REFUSED = -1;
/** importEntry(): a connection with this tuple (either direction) is already in the table. */
export const IMPORT_EXISTS = -2;

export type CtEventHandler = (kind: CtEventKind, entry: number) => void;

/** lookup(): the entry is a replica the gate claimed (replicaGate). */
const LOOKUP_HANDOFF = -2;

/** A replica's pending expectation as its owner's record gives it (sync-protocol's record fields). */
export interface ReplicaExpect {
  expectPort: number;
  expectSrc: Uint8Array;
  expectDst: Uint8Array;
  /** Made through NAT (then expectPort is 0): its port, translation flags (ExpectNatFlag) and addresses. */
  expectNatPort?: number;
  expectNatFlags?: number;
  expectNatDst?: Uint8Array;
  expectNatDport?: number;
  expectNatSrc?: Uint8Array;
}

export class ConnTracker {
  readonly table: ConnTable;
  readonly result = new CtResult();
  readonly stats = new CtStats();
  readonly timeouts: Readonly<CtTimeouts>;
  onEvent: CtEventHandler | null = null;
  /**
   * Asked when a packet hits a replica (another node's connection): true claims the packet
   * for that node. The tracker then leaves the entry untouched and answers with
   * `result.handoff` set (the datapath hands the packet to the owner: worker/handoff.ts).
   * Null: a replica a packet hits is tracked here, and adopted (sync-bridge.ts).
   */
  replicaGate: ((entry: number) => boolean) | null = null;
  /**
   * True while an Update handler runs for a timeout/window refresh only (nothing an
   * operator sees changed: state, status, mark and tuples are as before). State sync needs
   * those (the peer's timeout); `hafw ct events` skips them.
   */
  refreshOnly = false;

  private readonly opts: ConntrackOptions;
  private readonly tcpCfg: TcpConfig;
  private readonly inner = new PacketInfoClass();
  private pendingEntry = -1;
  private pendingNow = 0;
  private sweepCursor = 0;
  private dropCursor = 0;
  private readonly replicas: Replicas;
  /** Data connections helpers announced (expectations.ts), and the FTP helper that announces them. */
  readonly expectations: Expectations;
  private readonly ftp: FtpHelper;
  /** conntrack.checksum: whether the caller sums packets the kernel vouched for nothing about. */
  readonly verifyChecksums: boolean;
  /**
   * The connection entries' TCP sequence adjustments (seqadj.ts), by entry index: only the
   * control connections whose payload a NAT helper resized have one. Part of the entry's
   * state (as Linux's seqadj extension is the conntrack's): dropped with the entry.
   */
  private readonly seqAdj = new Map<number, SeqAdj>();

  constructor(options: Partial<ConntrackOptions> = {}) {
    const o: ConntrackOptions = {
      maxEntries: 65536,
      tcpLoose: false,
      tcpBeLiberal: false,
      checksum: true,
      tcpIgnoreInvalidRst: false,
      tcpMaxRetrans: 3,
      maxProbe: 64,
      eventRefreshMs: 5000,
      sweepPerPacket: 4,
      earlyDropScan: 64,
      now: Date.now,
      prefaultIndex: false,
      maxExpectations: 4096,
      ...options,
      timeouts: { ...DEFAULT_TIMEOUTS, ...(options.timeouts ?? {}) },
      hashKey: options.hashKey ?? randomBytes(8),
    };
    this.opts = o;
    this.verifyChecksums = o.checksum;
    const to = o.timeouts as CtTimeouts;
    for (const [k, v] of Object.entries(to)) {
      if (!(typeof v === 'number' && v >= 0 && Number.isFinite(v))) throw new RangeError(`timeout ${k} must be a finite number >= 0`);
    }
    this.timeouts = Object.freeze({ ...to });
    const tt = new Float64Array(12);
    tt[TcpState.SynSent] = to.tcpSynSent;
    tt[TcpState.SynRecv] = to.tcpSynRecv;
    tt[TcpState.Established] = to.tcpEstablished;
    tt[TcpState.FinWait] = to.tcpFinWait;
    tt[TcpState.CloseWait] = to.tcpCloseWait;
    tt[TcpState.LastAck] = to.tcpLastAck;
    tt[TcpState.TimeWait] = to.tcpTimeWait;
    tt[TcpState.Close] = to.tcpClose;
    tt[TcpState.SynSent2] = to.tcpSynSent2;
    tt[TIMEOUT_RETRANS] = to.tcpRetrans;
    tt[TIMEOUT_UNACK] = to.tcpUnacknowledged;
    this.tcpCfg = {
      loose: o.tcpLoose,
      beLiberal: o.tcpBeLiberal,
      ignoreInvalidRst: o.tcpIgnoreInvalidRst,
      maxRetrans: o.tcpMaxRetrans,
      timeouts: tt,
    };
    this.table = new ConnTable(o.maxEntries, o.maxProbe, o.hashKey, o.prefaultIndex);
    this.expectations = new Expectations(o.maxExpectations, this.stats);
    this.ftp = new FtpHelper(this.expectations, this.stats, (e) => {
      let a = this.seqAdj.get(e);
      if (a === undefined) this.seqAdj.set(e, (a = new SeqAdj()));
      return a;
      // An expectation made, or the sequence adjustment changed: what a peer must hold for
      // the control connection changed (state sync sends it again).
    }, (m) => this.announce(m, CtEventKind.Update));
    this.replicas = new Replicas({
      table: this.table,
      stats: this.stats,
      result: this.result,
      allocSlot: (now) => this.allocSlot(now),
      destroy: (e, notify) => this.destroy(e, notify),
    });
  }

  /** Live (confirmed) entries. */
  count(): number {
    return this.table.live;
  }

  get capacity(): number {
    return this.table.cap;
  }

  // ================================================================ per packet

  /**
   * Classifies one parsed packet and updates the table. Returns the ct state and fills
   * `result`. For a NEW connection `result.pending` is true: call commit().
   */
  track(pkt: PacketInfo, nowMs: number, zone = 0): CtState {
    if (this.pendingEntry >= 0) this.commit(false);
    if (this.expectations.taken.entry >= 0) this.releaseTaken();
    this.clearResult();
    if (this.opts.sweepPerPacket > 0) this.expire(nowMs, this.opts.sweepPerPacket);

    const st = pkt.status;
    if (st !== ParseStatus.Ok) {
      // Not IP at all: conntrack does not apply. IP with a header chain we do not walk
      // (e.g. IPv6 ESP): track by addresses and protocol, like Linux's generic tracker.
      if (st === ParseStatus.Unsupported && pkt.family === 0) return this.finish(CtState.Untracked);
      if (st === ParseStatus.Unsupported && pkt.l4proto !== 0 && pkt.addrLen !== 0) {
        return this.trackGeneric(pkt, nowMs, zone & 0xffff);
      }
      return this.invalid();
    }
    if (pkt.isFragment) {
      // Linux tracks reassembled packets only (nf_defrag_ipv4/ipv6 run first); so does the
      // datapath (DefragStage). A fragment that still gets here (the sniffer, which only
      // watches) cannot be tracked alone: it carries no ct.
      this.stats.fragments++;
      return this.invalid();
    }
    zone &= 0xffff;
    const proto = pkt.l4proto;
    if (proto === IpProto.Tcp) return this.trackTcp(pkt, nowMs, zone);
    if (proto === IpProto.Udp) return this.trackUdp(pkt, nowMs, zone);
    if (proto === IpProto.Icmp || proto === IpProto.Icmpv6) {
      // ICMP inside IPv6 (or ICMPv6 inside IPv4) is invalid, as in Linux's icmp(v6) trackers.
      if ((proto === IpProto.Icmp) !== (pkt.family === 4)) return this.invalid();
      return this.trackIcmp(pkt, nowMs, zone);
    }
    return this.trackGeneric(pkt, nowMs, zone);
  }

  /** For a packet a `notrack` rule exempted: sets result to untracked without a lookup. */
  untracked(): CtState {
    if (this.pendingEntry >= 0) this.commit(false);
    this.clearResult();
    return this.finish(CtState.Untracked);
  }

  /**
   * For a packet whose checksum is wrong (the caller checked, conntrackChecksumOk): invalid
   * without a lookup, as Linux's trackers answer before they look at the table, so a
   * corrupted segment can neither open a connection nor move one's state.
   */
  badChecksum(): CtState {
    if (this.pendingEntry >= 0) this.commit(false);
    this.clearResult();
    this.stats.badChecksum++;
    return this.invalid();
  }

  /** The per-packet result before a packet is classified: no entry, nothing pending. */
  private clearResult(): void {
    const r = this.result;
    r.entry = -1;
    r.dir = CtDir.Original;
    r.status = 0;
    r.mark = 0;
    r.pending = false;
    r.drop = false;
    r.handoff = false;
  }

  /**
   * Confirms (accepted) or discards the pending new entry of the last track() call.
   * Returns false when the packet must be dropped: the insert failed (tuple clash or
   * probe cap), as Linux drops a packet whose confirm fails.
   */
  commit(accepted: boolean): boolean {
    const e = this.pendingEntry;
    if (e < 0) return true;
    this.pendingEntry = -1;
    const t = this.table;
    if (this.result.entry === e) this.result.pending = false;
    if (!accepted) {
      t.free(e);
      return true;
    }
    const rc = t.link(e);
    if (rc !== 0) {
      if (rc === 2) this.stats.chainOverflow++;
      this.stats.insertFailed++;
      t.free(e);
      if (this.result.entry === e) this.result.entry = -1;
      return false;
    }
    t.status[e] |= CtStatus.Confirmed;
    t.lastEvent[e] = this.pendingNow;
    this.stats.inserted++;
    this.emit(CtEventKind.New, e);
    return true;
  }

  private finish(state: CtState): CtState {
    this.result.state = state;
    if (state === CtState.Untracked) this.stats.untracked++;
    return state;
  }

  private invalid(): CtState {
    this.stats.invalid++;
    const r = this.result;
    r.entry = -1;
    r.pending = false;
    r.status = 0;
    r.mark = 0;
    r.state = CtState.Invalid;
    return CtState.Invalid;
  }

  /** Looks up table.key; returns the tuple v or -1, destroying an expired entry it finds. */
  private lookup(now: number): number {
    const t = this.table;
    this.stats.searched++;
    const v = t.find(t.hashKey());
    if (v < 0) return -1;
    const e = v >> 1;
    if (t.expires[e] <= now) {
      // Linux's lookup also treats an expired entry as gone (nf_ct_is_expired).
      this.expireEntry(e);
      return -1;
    }
    const gate = this.replicaGate;
    if (gate !== null && (t.status[e] & CtStatus.Replicated) !== 0 && gate(e)) {
      this.stats.handedOff++;
      return LOOKUP_HANDOFF;
    }
    this.stats.found++;
    return v;
  }

  /** The result of a packet whose replica the gate claimed: no entry, nothing changed. */
  private handedOff(): CtState {
    const r = this.result;
    r.entry = -1;
    r.pending = false;
    r.status = 0;
    r.mark = 0;
    r.handoff = true;
    r.state = CtState.Untracked;
    return CtState.Untracked;
  }

  /**
   * Starts a pending entry from the packet key in table.key: stores the original tuple and
   * its inverse as the reply tuple. `replyDport` is the reply's dport (ICMP: inverted type).
   */
  private startEntry(pkt: PacketInfo, zone: number, now: number, replySport: number, replyDport: number): number {
    const e = this.allocSlot(now);
    if (e < 0) return -1;
    const t = this.table;
    t.family[e] = pkt.family;
    t.proto[e] = pkt.l4proto;
    t.zone[e] = zone;
    t.storeKeyAndInverse(e, replySport, replyDport);
    this.pendingEntry = e;
    this.pendingNow = now;
    this.stats.new++;
    return e;
  }

  /** A free slot, making room by early drop when the table is full; -1 when refused. */
  private allocSlot(now: number): number {
    const t = this.table;
    const e = t.alloc();
    if (e >= 0) return e;
    const cap = t.cap;
    for (let i = 0; i < this.opts.earlyDropScan; i++) {
      const c = this.dropCursor;
      this.dropCursor = c + 1 < cap ? c + 1 : 0;
      if (t.slot[c] !== Slot.Live) continue;
      if (t.expires[c] <= now) {
        this.expireEntry(c);
        return t.alloc();
      }
      // Linux early_drop: entries not assured, or TCP ones already closing.
      if (!(t.status[c] & CtStatus.Assured) || (t.proto[c] === IpProto.Tcp && tcpClosing(t.tcpState[c]))) {
        this.stats.earlyDrop++;
        this.destroy(c, true);
        return t.alloc();
      }
    }
    this.stats.refusedFull++;
    return -1;
  }

  private refused(): CtState {
    // Linux drops the packet when no entry can be allocated ("table full, dropping packet").
    this.result.drop = true;
    return this.invalid();
  }

  /** Common ending for a packet that matched live entry e in direction dir (oldTcp -1: not TCP). */
  private hit(e: number, dir: number, state: CtState, oldStatus: number, oldTcp: number, refreshed: boolean, now: number): CtState {
    const t = this.table;
    if (dir === CtDir.Reply) t.status[e] |= CtStatus.SeenReply;
    const r = this.result;
    r.entry = e;
    r.dir = dir;
    r.status = t.status[e];
    r.mark = t.mark[e];
    r.state = state;
    // oldTcp < 0: not TCP, so the TCP state array (one more cache miss at 1M entries) is not read.
    if (t.status[e] !== oldStatus || (oldTcp >= 0 && t.tcpState[e] !== oldTcp)) {
      t.lastEvent[e] = now;
      this.emit(CtEventKind.Update, e);
    } else if (refreshed && now - t.lastEvent[e] >= this.opts.eventRefreshMs) {
      t.lastEvent[e] = now;
      this.refreshOnly = true;
      this.emit(CtEventKind.Update, e);
      this.refreshOnly = false;
    }
    return state;
  }

  private pendingResult(e: number, now: number): CtState {
    const r = this.result;
    r.entry = e;
    r.dir = CtDir.Original;
    r.status = this.table.status[e];
    r.mark = 0;
    r.pending = true;
    r.state = CtState.New;
    void now;
    return CtState.New;
  }

  // ---------------------------------------------------------------- TCP

  private trackTcp(pkt: PacketInfo, now: number, zone: number): CtState {
    if (!pkt.l4Valid || !tcpFlagsValid(pkt.tcpFlags)) return this.invalid();
    const t = this.table;
    const cfg = this.tcpCfg;
    this.table.keyFromPacket(pkt, zone, pkt.sport, pkt.dport);
    let v = this.lookup(now);
    if (v === LOOKUP_HANDOFF) return this.handedOff();
    if (v >= 0) {
      const e = v >> 1;
      const dir = v & 1;
      const oldStatus = t.status[e];
      const oldTcp = t.tcpState[e];
      // An expected connection's packets are related until the reply (Linux resolve_normal_ct).
      const state = dir === 1 || oldStatus & CtStatus.SeenReply ? CtState.Established : oldStatus & CtStatus.Expected ? CtState.Related : CtState.New;
      const verdict = tcpPacket(t, e, dir, pkt, now, cfg, this.seqAdj.size === 0 ? undefined : this.seqAdj.get(e));
      switch (verdict) {
        case TcpVerdict.Invalid:
          return this.invalid();
        case TcpVerdict.Ignore:
          this.stats.ignored++;
          return this.hit(e, dir, state, oldStatus, oldTcp, false, now);
        case TcpVerdict.Accept:
          return this.hit(e, dir, state, oldStatus, oldTcp, true, now);
        case TcpVerdict.AcceptKill: {
          // Accepted with its state, but the entry goes at once: one Destroy event only.
          const r = this.result;
          r.dir = dir;
          r.status = t.status[e];
          r.mark = t.mark[e];
          r.state = state;
          this.destroy(e, true);
          return state;
        }
        default:
          // Repeat: the SYN reopens a closed connection; forget it and start over.
          this.destroy(e, true);
          this.table.keyFromPacket(pkt, zone, pkt.sport, pkt.dport);
          v = -1;
      }
    }
    // Not found: only a SYN (or, when loose, an ACK) may create (Linux tcp_new).
    const ns = tcpNextState(0, tcpIndex(pkt.tcpFlags), TcpState.None);
    if (!(ns === TcpState.SynSent || (ns === TcpState.Established && cfg.loose))) return this.invalid();
    const e = this.startEntry(pkt, zone, now, pkt.dport, pkt.sport);
    if (e < 0) return this.refused();
    if (!tcpNew(t, e, pkt, cfg)) {
      this.discardPending();
      return this.invalid();
    }
    const verdict = tcpPacket(t, e, 0, pkt, now, cfg);
    if (verdict === TcpVerdict.Invalid || verdict === TcpVerdict.Repeat || verdict === TcpVerdict.AcceptKill) {
      this.discardPending();
      return this.invalid();
    }
    if (t.expires[e] <= now) t.expires[e] = now + cfg.timeouts[t.tcpState[e]];
    // A data connection a helper announced: related, and the expectation is used up (as
    // Linux takes it when the connection is created, before the ruleset runs).
    const master = this.expectations.count() > 0 ? this.expectations.take(pkt.family, pkt.buf, pkt.srcOff, pkt.dstOff, pkt.addrLen, pkt.dport, now) : -1;
    if (master >= 0) {
      this.expectations.taken.entry = e;
      // The master's expectation is used up: its peers drop their copy (state sync).
      this.announce(master, CtEventKind.Update);
      t.status[e] |= CtStatus.Expected;
      this.pendingResult(e, now);
      this.stats.related++;
      return (this.result.state = CtState.Related);
    }
    return this.pendingResult(e, now);
  }

  /** A taken expectation's port nobody claimed (no NAT to bind it): given back. */
  private releaseTaken(): void {
    const x = this.expectations.taken;
    x.hold?.release(x.holdPort);
    x.clear();
  }

  private discardPending(): void {
    const e = this.pendingEntry;
    if (e < 0) return;
    this.pendingEntry = -1;
    this.table.free(e);
    this.stats.new--;
  }

  // ---------------------------------------------------------------- UDP

  private trackUdp(pkt: PacketInfo, now: number, zone: number): CtState {
    if (!pkt.l4Valid) return this.invalid();
    const t = this.table;
    const to = this.timeouts;
    this.table.keyFromPacket(pkt, zone, pkt.sport, pkt.dport);
    const v = this.lookup(now);
    if (v === LOOKUP_HANDOFF) return this.handedOff();
    if (v >= 0) {
      const e = v >> 1;
      const dir = v & 1;
      const oldStatus = t.status[e];
      const state = dir === 1 || oldStatus & CtStatus.SeenReply ? CtState.Established : CtState.New;
      udpPacket(t, e, now, to);
      return this.hit(e, dir, state, oldStatus, -1, true, now);
    }
    const e = this.startEntry(pkt, zone, now, pkt.dport, pkt.sport);
    if (e < 0) return this.refused();
    udpNew(t, e, now, to);
    return this.pendingResult(e, now);
  }

  // ---------------------------------------------------------------- generic

  private trackGeneric(pkt: PacketInfo, now: number, zone: number): CtState {
    const t = this.table;
    this.table.keyFromPacket(pkt, zone, 0, 0);
    const v = this.lookup(now);
    if (v === LOOKUP_HANDOFF) return this.handedOff();
    if (v >= 0) {
      const e = v >> 1;
      const dir = v & 1;
      const oldStatus = t.status[e];
      const state = dir === 1 || oldStatus & CtStatus.SeenReply ? CtState.Established : CtState.New;
      genericPacket(t, e, now, this.timeouts);
      return this.hit(e, dir, state, oldStatus, -1, true, now);
    }
    const e = this.startEntry(pkt, zone, now, 0, 0);
    if (e < 0) return this.refused();
    genericPacket(t, e, now, this.timeouts);
    return this.pendingResult(e, now);
  }

  // ---------------------------------------------------------------- ICMP / ICMPv6

  private trackIcmp(pkt: PacketInfo, now: number, zone: number): CtState {
    const kind = icmpKind(pkt);
    if (kind === IcmpKind.Untracked) return this.finish(CtState.Untracked);
    if (kind === IcmpKind.Error) return this.trackIcmpError(pkt, now, zone);
    if (kind !== IcmpKind.Query) return this.invalid();
    const fam = pkt.family;
    const type = pkt.icmpType;
    const id = icmpId(pkt);
    const code = pkt.icmpCode;
    const t = this.table;
    t.keyFromPacket(pkt, zone, id, (type << 8) | code);
    const v = this.lookup(now);
    if (v === LOOKUP_HANDOFF) return this.handedOff();
    if (v >= 0) {
      const e = v >> 1;
      const dir = v & 1;
      const oldStatus = t.status[e];
      const state = dir === 1 || oldStatus & CtStatus.SeenReply ? CtState.Established : CtState.New;
      t.expires[e] = now + icmpTimeout(fam, this.timeouts);
      return this.hit(e, dir, state, oldStatus, -1, true, now);
    }
    if (!icmpCanCreate(fam, type)) return this.invalid();
    const e = this.startEntry(pkt, zone, now, id, (icmpInverse(fam, type) << 8) | code);
    if (e < 0) return this.refused();
    t.expires[e] = now + icmpTimeout(fam, this.timeouts);
    return this.pendingResult(e, now);
  }

  /**
   * ICMP error quoting a packet of a tracked connection: RELATED to it (Linux
   * nf_conntrack_inet_error). The quoted tuple is inverted and looked up; no match, a
   * quote we cannot read, or an error not addressed to the quoted packet's sender is
   * invalid. The entry itself is not refreshed.
   */
  private trackIcmpError(pkt: PacketInfo, now: number, zone: number): CtState {
    const inner = this.inner;
    if (!icmpErrorKey(this.table, pkt, inner, zone)) return this.invalid();
    const v = this.lookup(now);
    if (v === LOOKUP_HANDOFF) return this.handedOff();
    if (v < 0) return this.invalid();
    if (!icmpErrorToQuotedSender(pkt, inner)) return this.invalid();
    const e = v >> 1;
    const t = this.table;
    const r = this.result;
    r.entry = e;
    r.dir = v & 1;
    r.status = t.status[e];
    r.mark = t.mark[e];
    r.state = CtState.Related;
    this.stats.related++;
    return CtState.Related;
  }

  // ================================================================ expiry

  /**
   * The one expiry sweep (per packet, per batch, and the datapath's idle timer all come
   * here): examines up to `slots` slots from a rotating cursor and destroys the expired
   * entries among them (Destroy event each), stopping early once `maxExpired` went, so a
   * call costs O(slots) reads plus at most `maxExpired` destroys whatever the table holds.
   * The cursor stays where it stopped: the next call goes on from there. Returns how many
   * expired.
   */
  expire(nowMs: number = this.opts.now(), slots = 1024, maxExpired = slots): number {
    const t = this.table;
    const cap = t.cap;
    let c = this.sweepCursor;
    let n = 0;
    if (slots > cap) slots = cap;
    for (let i = 0; i < slots && n < maxExpired; i++) {
      if (t.slot[c] === Slot.Live && t.expires[c] <= nowMs) {
        this.expireEntry(c);
        n++;
      }
      c = c + 1 < cap ? c + 1 : 0;
    }
    this.sweepCursor = c;
    return n;
  }

  /** Entry e's timeout passed: counted (local or replica) and destroyed with a Destroy event. */
  private expireEntry(e: number): void {
    this.stats.expired++;
    if (this.table.status[e] & CtStatus.Replicated) this.stats.expiredReplicas++;
    this.destroy(e, true);
  }

  // ================================================================ entries

  private emit(kind: CtEventKind, e: number): void {
    const h = this.onEvent;
    if (h === null) return;
    this.stats.events++;
    h(kind, e);
  }

  /** Removes entry e; with `notify` a Destroy event fires first (entry still readable). */
  private destroy(e: number, notify: boolean): void {
    const t = this.table;
    if (t.slot[e] === Slot.Live && notify) this.emit(CtEventKind.Destroy, e);
    if (t.helper[e] !== CtHelperId.None) this.ftp.stop(e);
    if (this.seqAdj.size !== 0) this.seqAdj.delete(e);
    if (e === this.pendingEntry) this.pendingEntry = -1;
    t.free(e);
  }

  /** Deletes a live entry (conntrack -D); emits Destroy. */
  delete(entry: number): boolean {
    if (!this.isLive(entry)) return false;
    this.stats.deleted++;
    this.destroy(entry, true);
    return true;
  }

  /** Deletes every entry, with Destroy events. */
  flush(): number {
    const t = this.table;
    let n = 0;
    for (let e = 0; e < t.cap; e++) {
      if (t.slot[e] === Slot.Live) {
        this.destroy(e, true);
        n++;
      }
    }
    this.stats.deleted += n;
    return n;
  }

  /** A live entry, or the pending one of a connection's first packet (`ct count` counts both). */
  inUse(entry: number): boolean {
    return entry >= 0 && entry < this.table.cap && this.table.slot[entry] !== Slot.Free;
  }

  isLive(entry: number): boolean {
    return entry >= 0 && entry < this.table.cap && this.table.slot[entry] === Slot.Live;
  }

  /** Calls cb for every live entry. The callback may delete the entry it is given. */
  forEach(cb: (entry: number) => void): void {
    const t = this.table;
    for (let e = 0; e < t.cap; e++) if (t.slot[e] === Slot.Live) cb(e);
  }

  /** The connection's helper (CtHelperId). */
  getHelper(entry: number): number {
    return entry >= 0 ? this.table.helper[entry] : CtHelperId.None;
  }

  /**
   * Gives a new connection (pending, or just committed) a helper, as `ct helper set` does;
   * a connection that had one keeps it (Linux assigns helpers to unconfirmed conntracks only).
   */
  setHelper(entry: number, helper: number): void {
    const t = this.table;
    if (entry < 0 || t.helper[entry] !== CtHelperId.None || helper !== CtHelperId.Ftp) return;
    t.helper[entry] = helper;
    this.ftp.start(entry);
  }

  /**
   * Runs the helper of the last tracked packet's connection on it, once the packet is
   * accepted (before the source side of its NAT is applied): reads (and on a NATed
   * connection rewrites) its payload, then applies the connection's sequence adjustment.
   * False: the packet must be dropped (an announcement NAT cannot rewrite; ftp-helper.ts).
   */
  helperPacket(pkt: PacketInfo, nowMs: number): boolean {
    const e = this.result.entry;
    if (e < 0 || this.table.helper[e] !== CtHelperId.Ftp || pkt.l4proto !== IpProto.Tcp) return true;
    const dir = this.result.dir;
    if (!this.ftp.packet(e, dir, this.table.status[e], pkt, nowMs)) return false;
    const adj = this.seqAdj.size === 0 ? undefined : this.seqAdj.get(e);
    if (adj !== undefined) seqAdjustPacket(adj, dir, pkt);
    return true;
  }

  /** NAT's part of the FTP helper (rewriting announcements on NATed control connections); null: none. */
  setFtpNat(hook: FtpNatHook | null): void {
    this.ftp.nat = hook;
  }

  /** Entry's sequence adjustment (seqadj.ts), or undefined: for tests, listings and state sync. */
  seqAdjOf(entry: number): SeqAdj | undefined {
    return this.seqAdj.get(entry);
  }

  /**
   * The NAT part of the expectation the last tracked packet's new connection took, when
   * the control connection was NATed (ExpectNatFlag.Decided), or null. The caller owns its
   * port hold (ExpectNat.hold) and must clear() it once it made the binding.
   */
  expectedNat(entry: number): ExpectNat | null {
    const x = this.expectations.taken;
    return x.entry === entry && entry >= 0 && x.flags !== 0 ? x : null;
  }

  getMark(entry: number): number {
    return this.table.mark[entry];
  }

  /** Sets ct mark (live or pending entry); a change on a live entry emits Update. */
  setMark(entry: number, mark: number): void {
    const t = this.table;
    if (entry < 0 || entry >= t.cap || t.slot[entry] === Slot.Free) return;
    mark >>>= 0;
    if (t.mark[entry] === mark) return;
    t.mark[entry] = mark;
    if (this.result.entry === entry) this.result.mark = mark;
    if (t.slot[entry] === Slot.Live) this.emit(CtEventKind.Update, entry);
  }

  getStatus(entry: number): number {
    return this.table.status[entry];
  }

  /** Adds status bits (e.g. SrcNat/DstNat when NAT binds the entry). */
  setStatusBits(entry: number, bits: number): void {
    const t = this.table;
    if (entry < 0 || entry >= t.cap || t.slot[entry] === Slot.Free) return;
    const before = t.status[entry];
    t.status[entry] = before | bits;
    if (this.result.entry === entry) this.result.status = t.status[entry];
    if (t.status[entry] !== before && t.slot[entry] === Slot.Live) this.emit(CtEventKind.Update, entry);
  }

  /**
   * Tags an entry with the VRRP group (VRID) whose master forwards it (ct-types.ts,
   * CT_GROUP_SHIFT). No event of its own: state sync calls it while it writes the entry's
   * record, which then carries the tag.
   */
  setGroup(entry: number, vrid: number): void {
    const t = this.table;
    if (entry < 0 || entry >= t.cap || t.slot[entry] === Slot.Free) return;
    t.status[entry] = withCtGroup(t.status[entry], vrid);
    if (this.result.entry === entry) this.result.status = t.status[entry];
  }

  /**
   * Marks a live entry offloaded to a flowtable, or gives it back to the slow path. No
   * event: the bit is the node's own fast-path state and is never replicated (snapshot
   * leaves it out), so offloading costs the sync link nothing.
   */
  setOffload(entry: number, on: boolean): void {
    const t = this.table;
    if (entry < 0 || entry >= t.cap || t.slot[entry] !== Slot.Live) return;
    t.status[entry] = on ? (t.status[entry] | CtStatus.Offload) >>> 0 : (t.status[entry] & ~CtStatus.Offload) >>> 0;
    if (this.result.entry === entry) this.result.status = t.status[entry];
  }

  getTcpState(entry: number): TcpState {
    return this.table.tcpState[entry] as TcpState;
  }

  /** Entry's family (4 or 6): for the rules' `ct original|reply ...` reads. */
  entryFamily(entry: number): number {
    return this.table.family[entry];
  }

  /** See ConnTable.tupleAddr. */
  tupleAddr(entry: number, dir: number, end: number, out: Uint32Array, off: number, words: number): void {
    this.table.tupleAddr(entry, dir, end, out, off, words);
  }

  /** See ConnTable.tuplePort. */
  tuplePort(entry: number, dir: number, end: number): number {
    return this.table.tuplePort(entry, dir, end);
  }

  /** Remaining lifetime in ms (negative once expired). */
  remainingMs(entry: number, nowMs: number = this.opts.now()): number {
    return this.table.expires[entry] - nowMs;
  }

  /**
   * Rewrites the reply tuple of a pending or live entry: NAT makes the reply the inverted
   * translated tuple (node/nat writeReplyTuple fills these snapshot-named fields). For a
   * pending entry the new tuple is hashed at commit(); a live entry is re-hashed now.
   * Returns false (entry unchanged) when a live entry's new reply tuple clashes with
   * another entry or exceeds the probe cap. Not for the per-packet path of established
   * flows: call it once, when the binding is made.
   */
  setReplyTuple(entry: number, tuple: CtReplyTupleLike): boolean {
    const t = this.table;
    if (entry < 0 || entry >= t.cap) return false;
    const slot = t.slot[entry];
    if (slot === Slot.Free) return false;
    t.saveReply(entry);
    t.setReply(entry, tuple);
    if (slot === Slot.Pending) return true;
    if (t.relink(entry) === 0) {
      this.emit(CtEventKind.Update, entry);
      return true;
    }
    // Put the old reply tuple back; its buckets were just freed, so this cannot fail.
    t.restoreReply(entry);
    if (t.link(entry) !== 0) this.destroy(entry, true);
    this.stats.insertFailed++;
    return false;
  }

  // ================================================================ sync interface

  /** Fills `out` with everything a peer needs to rebuild entry `entry`. */
  snapshot(entry: number, out: CtSnapshot, nowMs: number = this.opts.now()): CtSnapshot {
    const t = this.table;
    const e = entry;
    t.readTuples(e, out);
    out.tcpState = t.tcpState[e];
    t.readTcpWindows(e, out);
    // The offload bit is this node's fast path, not connection state (see setOffload).
    out.status = (t.status[e] & ~CtStatus.Offload) >>> 0;
    out.mark = t.mark[e];
    const rem = t.expires[e] - nowMs;
    out.timeoutMs = rem > 0 ? rem : 0;
    out.replicated = (t.status[e] & CtStatus.Replicated) !== 0;
    out.helper = t.helper[e];
    this.expectations.describe(e, nowMs, out);
    // The sequence adjustment (seqadj.ts), per direction; 0 where no change was made.
    const adj = this.seqAdj.size === 0 ? undefined : this.seqAdj.get(e);
    for (let d = 0; d < 2; d++) {
      const on = adj !== undefined && adj.set[d] === 1;
      out.seqPos[d] = on ? adj.pos[d]! : 0;
      out.seqBefore[d] = on ? adj.before[d]! : 0;
      out.seqAfter[d] = on ? adj.after[d]! : 0;
    }
    return out;
  }

  /**
   * A replica's helper and pending expectation, as its owner's record gives them (after
   * applyReplica): the helper is kept (a connection that has one keeps it: it was given at
   * creation), the expectation replaces the replica's earlier one, or goes when the record
   * has none (used up or expired on the owner). Bounded as the node's own: one per
   * connection, the table's cap, at most the helper's 5 minutes; and only between the two
   * ends of the control connection (the local helper's rule: no hole towards a third host),
   * else refused and counted. An unknown helper (a newer peer's) is ignored.
   *
   * An expectation the owner's helper made through NAT (`expectNatPort`, with `expectPort`
   * 0) comes with the data connection's translation: its addresses must be ends of the
   * control connection too, and its port is reserved here on the address the receiver was
   * told (as the owner reserved it), so no other connection takes it before the data
   * connection comes; a port taken here refuses the expectation (counted).
   */
  applyReplicaHelper(
    entry: number, helper: number, tuple: CtTupleLike & CtReplyTupleLike,
    expect: ReplicaExpect, remainingMs: number, nowMs: number = this.opts.now(),
    seq?: { seqPos: readonly number[]; seqBefore: readonly number[]; seqAfter: readonly number[] },
  ): void {
    const t = this.table;
    if (!this.isLive(entry) || (t.status[entry] & CtStatus.Replicated) === 0) return;
    if (helper === CtHelperId.Ftp && t.helper[entry] === CtHelperId.None && tuple.proto === IpProto.Tcp) {
      t.helper[entry] = helper;
      this.ftp.start(entry);
    }
    // The sequence adjustment of a helper's rewrites (seqadj.ts): the replica adjusts the
    // connection's later segments as its owner did (offsets travel modulo 2^32). A direction
    // with all three 0 had no change (the same as no adjustment).
    if (seq !== undefined && t.helper[entry] !== CtHelperId.None) {
      let adj = this.seqAdj.get(entry);
      for (let d = 0; d < 2; d++) {
        const on = (seq.seqPos[d]! | seq.seqBefore[d]! | seq.seqAfter[d]!) !== 0;
        if (!on && adj === undefined) continue;
        if (adj === undefined) this.seqAdj.set(entry, (adj = new SeqAdj()));
        adj.set[d] = on ? 1 : 0;
        adj.pos[d] = seq.seqPos[d]! >>> 0;
        adj.before[d] = seq.seqBefore[d]! | 0;
        adj.after[d] = seq.seqAfter[d]! | 0;
      }
    }
    const natPort = expect.expectNatPort ?? 0;
    const port = expect.expectPort !== 0 ? expect.expectPort : natPort;
    // The earlier one goes first: its port hold is given back before this one reserves it again.
    this.expectations.removeMaster(entry);
    if (port === 0 || remainingMs <= 0 || t.helper[entry] !== CtHelperId.Ftp) return;
    const alen = tuple.family === 4 ? 4 : 16;
    const ends = [tuple.origSrc, tuple.origDst, tuple.replySrc, tuple.replyDst];
    const isEnd = (a: Uint8Array): boolean => a.length >= alen && ends.some((x) => sameAddr(x, a, alen));
    let nat: ExpectNat | null = null;
    let ok = isEnd(expect.expectSrc) && isEnd(expect.expectDst) && !sameAddr(expect.expectSrc, expect.expectDst, alen);
    if (ok && natPort !== 0) {
      // Both forms at once, or a translation that is not the helper's (see ExpectNatFlag).
      const flags = expect.expectNatFlags ?? 0;
      const natDst = expect.expectNatDst;
      const natSrc = expect.expectNatSrc;
      ok = expect.expectPort === 0 && (flags & ExpectNatFlag.Decided) !== 0 && flags <= 7;
      if (ok && (flags & ExpectNatFlag.Dst) !== 0) ok = natDst !== undefined && isEnd(natDst) && (expect.expectNatDport ?? 0) !== 0;
      if (ok && (flags & ExpectNatFlag.Src) !== 0) ok = natSrc !== undefined && isEnd(natSrc);
      if (ok) {
        nat = this.replicaNat;
        nat.clear();
        nat.flags = flags;
        nat.natDst.fill(0);
        nat.natSrc.fill(0);
        if ((flags & ExpectNatFlag.Dst) !== 0) {
          nat.natDst.set(natDst!.subarray(0, alen));
          nat.natDport = expect.expectNatDport!;
          // The owner held the port on the address the receiver was told (plan() in nat/ftp-nat.ts).
          nat.hold = this.ftp.nat?.reserve(tuple.family === 4 ? 4 : 6, expect.expectDst, port) ?? null;
          ok = nat.hold !== null;
        }
        if ((flags & ExpectNatFlag.Src) !== 0) nat.natSrc.set(natSrc!.subarray(0, alen));
      }
    }
    if (!ok) {
      this.stats.expectReplicaRefused++;
      return;
    }
    this.expectations.add(entry, tuple.family, expect.expectSrc, 0, expect.expectDst, 0, alen, port, nowMs, nat, Math.min(remainingMs, EXPECT_TIMEOUT_MS), true);
  }

  /** applyReplicaHelper's NAT part, refilled per record (add() copies it). */
  private readonly replicaNat = new ExpectNat();

  // The replicas a peer owns (replicas.ts); state sync calls these.

  /**
   * Inserts or updates the entry a peer described, marked Replicated. No event is
   * emitted (so replication never echoes). Returns the entry index, or -1 when it could
   * not be stored (bad family, table full, tuple clash, probe cap).
   */
  applyReplica(snap: CtSnapshot, nowMs: number = this.opts.now(), tuple: CtTupleLike & CtReplyTupleLike = snap): number {
    return this.replicas.apply(snap, nowMs, tuple);
  }

  /**
   * lookupTuple() for state sync, before it applies or deletes a replica of this tuple:
   * the hash and the walk are kept, so the applyReplica() or deleteReplica() that follows
   * (same tuple, no table change between) does not hash and walk the index again.
   */
  seekReplica(tuple: CtTupleLike): number {
    return this.replicas.seek(tuple);
  }

  /** Deletes the entry with this tuple (either direction) without an event; unknown is ignored. */
  deleteReplica(tuple: CtTupleLike): boolean {
    return this.replicas.delete(tuple);
  }

  /**
   * After a full resync: deletes the replicas not written since `sinceMs` (O(capacity)),
   * only those `owned` says belong to the owner whose walk ended (all when omitted).
   */
  purgeStaleReplicas(sinceMs: number, owned?: (entry: number) => boolean): number {
    return this.replicas.purgeStale(sinceMs, owned);
  }

  /** This node takes over a replicated entry: its changes are now ours to replicate. */
  adoptReplica(entry: number): void {
    this.replicas.adopt(entry);
  }

  /** Counts a replicated entry as refreshed by its owner now, without changing it. */
  touchReplica(entry: number, nowMs: number): void {
    this.replicas.touch(entry, nowMs);
  }

  /** Entries replicated from peers (O(capacity): for status and the API, not per packet). */
  countReplicated(): number {
    return this.replicas.count();
  }

  // ================================================================ import

  /**
   * Inserts a connection taken from another tracker's table (`hafw ct import`): a local
   * entry, not a replica, whose windows, status, mark and timeout come from `snap`. No event
   * yet: the caller installs its NAT binding first, then announce()s it, so state sync
   * sends the entry with its binding. Returns the entry, IMPORT_REFUSED (table full,
   * probe cap, bad family) or IMPORT_EXISTS (either tuple is in the table already: the
   * entry there, this node's or a peer's, is left as it is).
   */
  importEntry(snap: CtSnapshot, nowMs: number = this.opts.now()): number {
    if (this.lookupTuple(snap) >= 0) return IMPORT_EXISTS;
    const reply = { family: snap.family, proto: snap.proto, zone: snap.zone, origSrc: snap.replySrc, origDst: snap.replyDst, origSport: snap.replySport, origDport: snap.replyDport };
    if (this.lookupTuple(reply) >= 0) return IMPORT_EXISTS;
    return this.replicas.apply(snap, nowMs, snap, true);
  }

  /**
   * Emits New for an entry inserted outside the packet path (importEntry), as commit() does
   * for a packet's; Update for one whose status changed there (a replica adopted on takeover).
   */
  announce(entry: number, kind: CtEventKind.New | CtEventKind.Update = CtEventKind.New): void {
    if (this.isLive(entry)) this.emit(kind, entry);
  }

  /** Entry of a tuple (either direction), or -1: for the API and tests. */
  lookupTuple(tuple: CtTupleLike): number {
    const t = this.table;
    if (!t.keyFromTupleLike(tuple)) return -1;
    const v = t.find(t.hashKey());
    return v < 0 ? -1 : v >> 1;
  }
}

function sameAddr(a: Uint8Array, b: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}
