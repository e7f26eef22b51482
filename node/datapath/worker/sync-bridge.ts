/**
 * Where conntrack meets state sync, in the datapath thread (which owns the table):
 * - local changes (conntrack events) become StateRecords pushed into the shared ring the
 *   sync worker drains, without allocating;
 * - records from peers are applied to the table as replicas (StateSink), newest first per
 *   owner, stale ones removed after a complete resync.
 * Replicas never produce events of their own (no echo loops); a replica that local traffic
 * runs through (after a takeover) is adopted, and from then on replicated by this node; on
 * becoming master the node adopts the rest in the background (takeover-adopt.ts).
 */
import { CtEventKind, CtSnapshot, CtStatus, TcpDirFlag, ctGroup, type ConnTracker } from '../../conntrack/index.js';
import { EventKind, RING_WALK_END, RING_WALK_RECORD, emptyRecord, syncClock, type EventRing, type StateRecord, type StateSink } from '../../../sync-protocol/index.js';
import { NAT_DST, NAT_SRC, NatKind, NatManip, type NatBinding } from '../../nat/binding.js';
import { bindingFromTuplePair } from '../../nat/tuple-pair.js';
import type { NatState } from './nat-state.js';
import type { DrillWatch } from './drill-watch.js';

/** Snapshot -> record. Address fields are views of the snapshot's arrays (4 or 16 bytes). */
class RecordWriter {
  readonly snap = new CtSnapshot();
  readonly rec = emptyRecord();
  private readonly v4 = [
    this.snap.origSrc.subarray(0, 4), this.snap.origDst.subarray(0, 4), this.snap.replySrc.subarray(0, 4), this.snap.replyDst.subarray(0, 4),
    this.snap.expectSrc.subarray(0, 4), this.snap.expectDst.subarray(0, 4),
    this.snap.expectNatDst.subarray(0, 4), this.snap.expectNatSrc.subarray(0, 4),
  ];

  fill(kind: EventKind, stamp: number): StateRecord {
    const s = this.snap;
    const r = this.rec;
    r.kind = kind;
    r.family = s.family;
    r.proto = s.proto;
    r.zone = s.zone;
    const v4 = s.family === 4;
    r.origSrc = v4 ? this.v4[0]! : s.origSrc;
    r.origDst = v4 ? this.v4[1]! : s.origDst;
    r.replySrc = v4 ? this.v4[2]! : s.replySrc;
    r.replyDst = v4 ? this.v4[3]! : s.replyDst;
    r.origSport = s.origSport;
    r.origDport = s.origDport;
    r.replySport = s.replySport;
    r.replyDport = s.replyDport;
    r.tcpState = s.tcpState;
    r.origTdEnd = s.tdEnd[0]!;
    r.origTdMaxEnd = s.tdMaxEnd[0]!;
    r.origTdMaxWin = s.tdMaxWin[0]!;
    r.origTdMaxAck = s.tdMaxAck[0]!;
    r.origTdScale = s.tdScale[0]!;
    r.origTdFlags = s.tdFlags[0]!;
    r.replyTdEnd = s.tdEnd[1]!;
    r.replyTdMaxEnd = s.tdMaxEnd[1]!;
    r.replyTdMaxWin = s.tdMaxWin[1]!;
    r.replyTdMaxAck = s.tdMaxAck[1]!;
    r.replyTdScale = s.tdScale[1]!;
    r.replyTdFlags = s.tdFlags[1]!;
    r.status = (s.status & ~CtStatus.Replicated) >>> 0;
    r.mark = s.mark;
    // The wire carries whole milliseconds (a fractional value would make the record malformed).
    r.timeoutMs = Math.max(0, Math.floor(s.timeoutMs));
    r.stamp = stamp;
    // The helper and its pending expectation (an FTP data connection announced): the standby
    // relates the data connection after a takeover.
    r.helper = s.helper;
    // One the helper made through NAT travels in expectNatPort with its translation, and
    // expectPort 0: a peer that does not know those fields installs nothing (record-fields.ts).
    const natted = s.expectNatFlags !== 0;
    r.expectPort = natted ? 0 : s.expectPort;
    r.expectNatPort = natted ? s.expectPort : 0;
    r.expectMs = s.expectPort === 0 ? 0 : Math.max(1, Math.floor(s.expectMs));
    r.expectSrc = v4 ? this.v4[4]! : s.expectSrc;
    r.expectDst = v4 ? this.v4[5]! : s.expectDst;
    r.expectNatFlags = natted ? s.expectNatFlags : 0;
    r.expectNatDst = v4 ? this.v4[6]! : s.expectNatDst;
    r.expectNatDport = natted ? s.expectNatDport : 0;
    r.expectNatSrc = v4 ? this.v4[7]! : s.expectNatSrc;
    r.origSeqPos = s.seqPos[0]! >>> 0;
    r.origSeqBefore = s.seqBefore[0]! >>> 0;
    r.origSeqAfter = s.seqAfter[0]! >>> 0;
    r.replySeqPos = s.seqPos[1]! >>> 0;
    r.replySeqBefore = s.seqBefore[1]! >>> 0;
    r.replySeqAfter = s.seqAfter[1]! >>> 0;
    return r;
  }
}

/** Status bits of the node's own connections, never replicated. */
const NODE_OWN = CtStatus.LocalIn | CtStatus.LocalOut;

export class SyncBridge implements StateSink {
  /** Set by the filter stage while conntrack handles a packet: events then come from local traffic. */
  local = false;
  /** Per entry: stamp and owner of the replica applied last (stamps of one owner are ordered). */
  private readonly stamps: Float64Array;
  private readonly owners: Int32Array;
  private readonly writer = new RecordWriter();
  /** A replica's state other than its tuples (applyReplica reads those straight from the record). */
  private readonly inSnap = new CtSnapshot();
  private readonly resyncStart = new Map<number, number>();
  /** rec.nat of records with a binding: one object, refilled per event (the ring copies it). */
  private readonly natOut6 = { kind: 0, addr: new Uint8Array(16), port: 0 };
  private readonly natOut4 = { kind: 0, addr: new Uint8Array(4), port: 0 };
  readonly counts = { pushed: 0, ringFull: 0, applied: 0, stale: 0, ignoredLocal: 0, yielded: 0, deleted: 0, refused: 0, adopted: 0, adoptedOnTakeover: 0 };
  /** Per VRID: 1 while this node is master of that VRRP group. */
  private readonly mastered = new Uint8Array(256);
  /** The lowest VRID this node is master of; 0: none. */
  private firstMastered = 0;
  /**
   * Told its VRRP state at least once. Before (a node without VRRP), its own entries always
   * win over a peer's records (see ownViewWins).
   */
  private vrrpKnown = false;

  constructor(
    private readonly ct: ConnTracker,
    private readonly ring: EventRing,
    /** NAT bindings per entry: sent with the entry's record, installed with replicas. */
    private readonly nat?: NatState,
  ) {
    this.stamps = new Float64Array(ct.capacity);
    this.owners = new Int32Array(ct.capacity);
  }

  /** Free slots in the ring to the sync worker (conntrack gc and the sync bench stay below it). */
  get ringRoom(): number {
    return this.ring.capacity - this.ring.depth;
  }

  /** An API drill's watch of the flows this node hands over (drill-watch.ts); null outside drills. */
  drillWatch: DrillWatch | null = null;

  /** This node became master of VRRP group `vrid` (true) or left that state (false). */
  setMastered(vrid: number, master: boolean): void {
    if (vrid < 1 || vrid > 255) return;
    this.vrrpKnown = true;
    this.mastered[vrid] = master ? 1 : 0;
    this.firstMastered = this.mastered.indexOf(1);
    if (this.firstMastered < 0) this.firstMastered = 0;
  }

  /**
   * The group a connection this node forwards belongs to (ct-types.ts, CT_GROUP_SHIFT):
   * its own tag while this node masters that group, or while it masters none (a backup
   * that forwards keeps the group it came with); else the lowest group this node masters.
   * Traffic arrives at the master of the group whose VIPs the hosts use as their next hop,
   * but a packet does not say which VIP that was: with several groups mastered here, the
   * lowest is a guess, and a returning master's traffic takes its connections back.
   */
  private tagGroup(entry: number, status: number): void {
    const first = this.firstMastered;
    if (first === 0) return;
    const g = ctGroup(status);
    if (g !== 0 && this.mastered[g] === 1) return;
    this.ct.setGroup(entry, first);
  }

  /**
   * Whether a packet that hits replica `entry` belongs to another node: its group is one
   * this node is not master of (its master forwards and tracks it; worker/handoff.ts).
   * Untagged replicas (group 0) are tracked here, as with one group.
   */
  handsOff(entry: number): boolean {
    const g = ctGroup(this.ct.getStatus(entry));
    return g !== 0 && this.mastered[g] === 0;
  }

  /** conntrack's onEvent. */
  onEvent(kind: number, entry: number): void {
    const ct = this.ct;
    if (kind === CtEventKind.Destroy && this.drillWatch !== null) this.drillWatch.localDestroy(entry);
    const status = ct.getStatus(entry);
    // The node's own connections (to or from its addresses) are not the peer's to keep:
    // its addresses differ, and a VIP's services restart on the new master anyway
    // (conntrackd ignores the node's own addresses for the same reason).
    if (status & NODE_OWN) return;
    if (status & CtStatus.Replicated) {
      // A replica's own expiry is not ours to announce; local traffic through it makes it ours.
      if (!this.local) return;
      ct.adoptReplica(entry);
      this.counts.adopted++;
    }
    if (this.local) this.tagGroup(entry, status);
    const w = this.writer;
    ct.snapshot(entry, w.snap);
    const rec = w.fill(kind as EventKind, syncClock());
    rec.nat = this.natRecord(entry);
    if (this.ring.push(rec)) this.counts.pushed++;
    else this.counts.ringFull++;
    // A resync walk in progress may have passed this entry's slot already (sync-walk.ts).
    if ((kind === CtEventKind.New || (status & CtStatus.Replicated) !== 0) && this.walkNote !== null) this.walkNote(entry);
  }

  /** Told of each entry that becomes this node's to replicate (new, or adopted) while a resync walk runs (sync-walk.ts). */
  walkNote: ((entry: number) => void) | null = null;

  /**
   * Puts `entry` in the ring as a record of the sync worker's resync walk (RING_WALK_RECORD)
   * when it is one of the connections this node replicates (live, its own, not the node's
   * own traffic: what dumpLocal() lists). The caller leaves room in the ring. False: not
   * one of them, or no room.
   */
  pushWalk(entry: number): boolean {
    const ct = this.ct;
    if (!ct.isLive(entry) || (ct.getStatus(entry) & (CtStatus.Replicated | NODE_OWN)) !== 0) return false;
    ct.snapshot(entry, this.writer.snap);
    const rec = this.writer.fill(RING_WALK_RECORD as EventKind, syncClock());
    rec.nat = this.natRecord(entry);
    return this.ring.push(rec);
  }

  /** The end of the resync walk (RING_WALK_END); false when the ring has no room. */
  pushWalkEnd(): boolean {
    const rec = this.writer.rec;
    rec.kind = RING_WALK_END as EventKind;
    rec.stamp = syncClock();
    return this.ring.push(rec);
  }

  /**
   * Takes over a replica when this node became master (takeover-adopt.ts), whether or not
   * traffic runs through it: it becomes this node's own and is announced (an Update event:
   * its Replicated bit changed), so sync replicates it under this node's id and it is in
   * this node's later resync walks. False (nothing done): not a live replica.
   */
  adoptOnTakeover(entry: number): boolean {
    const ct = this.ct;
    if (!ct.isLive(entry) || (ct.getStatus(entry) & CtStatus.Replicated) === 0) return false;
    ct.adoptReplica(entry);
    this.counts.adoptedOnTakeover++;
    ct.announce(entry, CtEventKind.Update);
    // Ours from now on: a resync walk that already passed its slot must still send it.
    this.walkNote?.(entry);
    return true;
  }

  /** The whole local (non-replicated) table as records, for a ring-overflow rebuild. */
  dumpLocal(): StateRecord[] {
    const out: StateRecord[] = [];
    const now = syncClock();
    this.ct.forEach((e) => {
      if (this.ct.getStatus(e) & (CtStatus.Replicated | NODE_OWN)) return;
      this.ct.snapshot(e, this.writer.snap);
      const r = this.writer.fill(EventKind.New, now);
      const n = this.natRecord(e);
      r.nat = n === null ? null : { kind: n.kind, addr: n.addr.slice(), port: n.port };
      out.push({
        ...r, origSrc: r.origSrc.slice(), origDst: r.origDst.slice(), replySrc: r.replySrc.slice(), replyDst: r.replyDst.slice(),
        expectSrc: r.expectSrc.slice(), expectDst: r.expectDst.slice(), expectNatDst: r.expectNatDst.slice(), expectNatSrc: r.expectNatSrc.slice(),
      });
    });
    return out;
  }

  /**
   * One replica record. The table reads its tuples straight from the record (address fields
   * are 4- or 16-byte views), and the lookup here is the one applyReplica / deleteReplica
   * go on from (seekReplica): one hash and one walk of the index for the original tuple.
   */
  apply(owner: number, rec: StateRecord, ageMs: number): void {
    const ct = this.ct;
    const s = this.inSnap;
    const now = syncClock();
    const e = ct.seekReplica(rec);
    if (e >= 0) {
      const replica = (ct.getStatus(e) & CtStatus.Replicated) !== 0;
      if (!replica) {
        // A drill's master counts what the new master reports of the flows it handed over.
        this.drillWatch?.peerRecord(e, rec.kind, rec.tcpState);
        if (this.ownViewWins(ct.getStatus(e))) {
          // Our own entry: we forward this connection, our view is the current one.
          this.counts.ignoredLocal++;
          return;
        }
        // Ours, but this node is not master of the connection's group: it does not forward
        // it, so the peer's record is newer than our view and the peer forwards the
        // connection now. The entry becomes the peer's replica (liberal windows, its state).
        this.counts.yielded++;
      } else {
        // A flow a drill watches goes on being counted once it has become the new master's replica.
        this.drillWatch?.peerRecord(e, rec.kind, rec.tcpState);
      }
      if (this.owners[e] === owner && this.stamps[e] > rec.stamp) {
        // A late copy of older state: keep the newer one, but the owner still has it.
        ct.touchReplica(e, now);
        this.counts.stale++;
        return;
      }
    }
    if (rec.kind === EventKind.Destroy) {
      if (e >= 0) this.nat?.release(e);
      if (e >= 0 && ct.deleteReplica(rec)) this.counts.deleted++;
      return;
    }
    s.tcpState = rec.tcpState;
    s.tdEnd[0] = rec.origTdEnd;
    s.tdMaxEnd[0] = rec.origTdMaxEnd;
    s.tdMaxWin[0] = rec.origTdMaxWin;
    s.tdMaxAck[0] = rec.origTdMaxAck;
    s.tdScale[0] = rec.origTdScale;
    // Window data travels only with state changes and periodic refreshes, never per packet,
    // so a replica's windows lag behind the live connection: it is tracked liberally (no
    // window check), as conntrackd does by default, or every packet after a takeover would
    // be out of window.
    s.tdFlags[0] = rec.origTdFlags | TcpDirFlag.BeLiberal;
    s.tdEnd[1] = rec.replyTdEnd;
    s.tdMaxEnd[1] = rec.replyTdMaxEnd;
    s.tdMaxWin[1] = rec.replyTdMaxWin;
    s.tdMaxAck[1] = rec.replyTdMaxAck;
    s.tdScale[1] = rec.replyTdScale;
    s.tdFlags[1] = rec.replyTdFlags | TcpDirFlag.BeLiberal;
    s.status = rec.status;
    s.mark = rec.mark;
    // Timeouts keep running on the replica from the moment the owner took the snapshot.
    s.timeoutMs = Math.max(1, rec.timeoutMs - Math.max(0, ageMs));
    s.replicated = true;
    // TCP sequence offsets (the FTP helper's rewrites through NAT), installed with the helper below.
    s.seqPos[0] = rec.origSeqPos;
    s.seqBefore[0] = rec.origSeqBefore;
    s.seqAfter[0] = rec.origSeqAfter;
    s.seqPos[1] = rec.replySeqPos;
    s.seqBefore[1] = rec.replySeqBefore;
    s.seqAfter[1] = rec.replySeqAfter;
    const applied = ct.applyReplica(s, now, rec);
    if (applied < 0) {
      this.counts.refused++;
      return;
    }
    this.installNat(applied, rec);
    // Its helper and pending expectation (the expectation's age counted as the timeout's).
    if (rec.helper !== 0 || ct.getHelper(applied) !== 0) ct.applyReplicaHelper(applied, rec.helper, rec, rec, rec.expectMs - Math.max(0, ageMs), now, s);
    this.stamps[applied] = rec.stamp;
    this.owners[applied] = owner;
    this.counts.applied++;
    this.onApplied?.(rec.stamp, now, ageMs);
  }

  /**
   * Whether this node's own entry (status `status`) wins over a peer's record of the same
   * connection: it does while this node is master of the connection's VRRP group, or was
   * never told its VRRP state (a node without VRRP). A node that left master of a group
   * (preempted, faulted, cut off and healed) may still hold as its own connections of that
   * group that another node adopted and forwards since; while it is not that group's
   * master, that node's records replace them, so ownership converges on the forwarding
   * node and the old owner's stale windows never come back at its next takeover. Per
   * group, not per node: with active/active a node still master of A yields B's
   * connections to B's new master and keeps A's. An untagged entry (made while this node
   * mastered no group) goes by the node: kept while it masters any group; with one group
   * that is the same rule as for a tagged one.
   */
  private ownViewWins(status: number): boolean {
    if (!this.vrrpKnown) return true;
    const g = ctGroup(status);
    return g !== 0 ? this.mastered[g] === 1 : this.firstMastered !== 0;
  }

  /** An observer of each replica applied, with its owner's stamp (the sync bench's lag watch; null in a node). */
  onApplied: ((stamp: number, appliedAt: number, ageMs: number) => void) | null = null;

  /**
   * The record's NAT part (kind: bit 0 source NAT, bit 1 destination NAT; the translated
   * source address and port when the source is translated, else the translated
   * destination). The reply tuple carries the whole translation too.
   */
  private natRecord(entry: number): StateRecord['nat'] {
    const b: NatBinding | null = this.nat?.get(entry) ?? null;
    if (b === null || b.manip === 0) return null;
    const n = b.addrLen;
    const o = n === 4 ? this.natOut4 : this.natOut6;
    const src = (b.manip & NatManip.Src) !== 0;
    const at = src ? NAT_SRC : NAT_DST;
    for (let i = 0; i < n; i++) o.addr[i] = b.addrs[at + i];
    o.kind = b.manip;
    o.port = src ? b.natSport : b.natDport;
    return o;
  }

  /**
   * Installs the binding of a replica from its original and reply tuples (the reply tuple
   * of a NATed entry is the inverted translated tuple), holding its port here so a
   * connection NATed after a takeover cannot reuse it. No NAT: the slot's binding goes.
   */
  private installNat(entry: number, rec: StateRecord): void {
    const nat = this.nat;
    if (!nat) return;
    if (rec.nat === null && (rec.status & (CtStatus.SrcNat | CtStatus.DstNat)) === 0) {
      nat.release(entry);
      return;
    }
    nat.installReplica(entry, (b) => bindingFromTuplePair(rec, b, NatKind.Snat, NatKind.Dnat));
  }

  resyncBegin(owner: number): void {
    this.resyncStart.set(owner, syncClock());
  }

  resyncEnd(owner: number): void {
    const since = this.resyncStart.get(owner);
    if (since === undefined) return;
    this.resyncStart.delete(owner);
    // A walk carries only its sender's own connections: replicas of other owners (a third
    // node's, or one a takeover moved to a new owner) were not in it and are not stale.
    const owners = this.owners;
    this.ct.purgeStaleReplicas(since, (e) => owners[e] === owner);
  }
}
