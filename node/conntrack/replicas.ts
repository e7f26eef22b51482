/**
 * The replica side of the table: entries a peer owns, written from its snapshots by state
 * sync. Replicas carry CtStatus.Replicated and the time they were last written
 * (`replicaAt`); they are applied, deleted and purged without events, so replication never
 * echoes. The tracker's applyReplica / deleteReplica / ... delegate here; this module sees
 * the tracker only through ReplicaHost.
 */
import { Slot, type ConnTable } from './conn-table.js';
import { type CtResult, type CtSnapshot, type CtStats, CtStatus, type CtTupleLike, TcpDirFlag } from './ct-types.js';
import { TcpIndex } from './tcp-tracker.js';
import { udpReplicated } from './udp-tracker.js';

/** What the replica store needs of the tracker. */
interface ReplicaHost {
  readonly table: ConnTable;
  readonly stats: CtStats;
  /** The per-packet result, kept consistent when an entry it names changes status. */
  readonly result: CtResult;
  /** A free slot, making room by early drop when the table is full; -1 when refused. */
  allocSlot(now: number): number;
  /** Removes entry e; with `notify` a Destroy event fires first. */
  destroy(e: number, notify: boolean): void;
}

export class Replicas {
  constructor(private readonly host: ReplicaHost) {}

  /**
   * Inserts or updates the entry a peer described, marked Replicated. No event is
   * emitted (so replication never echoes). Returns the entry index, or -1 when it could
   * not be stored (bad family, table full, tuple clash, probe cap).
   */
  apply(snap: CtSnapshot, nowMs: number): number {
    const h = this.host;
    const t = h.table;
    const stats = h.stats;
    if (!t.keyFromTupleLike(snap)) {
      stats.replicaRefused++;
      return -1;
    }
    let v = t.find(t.hashKey());
    if (v >= 0 && (v & 1) === 1) {
      // Our entry has this tuple as its reply: the peer's view wins.
      h.destroy(v >> 1, false);
      v = -1;
    }
    let e: number;
    let fresh = false;
    if (v >= 0) {
      e = v >> 1;
    } else {
      e = h.allocSlot(nowMs);
      if (e < 0) {
        stats.replicaRefused++;
        return -1;
      }
      fresh = true;
    }
    t.family[e] = snap.family;
    t.proto[e] = snap.proto;
    t.zone[e] = snap.zone;
    t.storeKey(2 * e);
    const replyChanged = t.setReply(e, snap);
    t.tcpState[e] = snap.tcpState;
    for (let d = 0; d < 2; d++) {
      // A peer (or a record format) that does not carry td_maxack sends 0: then do not
      // claim MAXACK_SET, or RST validation would compare against sequence 0. The next
      // ACK from that side sets it again.
      const flags = snap.tdMaxAck[d] === 0 ? snap.tdFlags[d] & ~TcpDirFlag.MaxAckSet : snap.tdFlags[d];
      t.setTcpWindow(e, d, snap.tdEnd[d], snap.tdMaxEnd[d], snap.tdMaxWin[d], snap.tdMaxAck[d], snap.tdScale[d], flags);
    }
    t.status[e] = (snap.status | CtStatus.Replicated | CtStatus.Confirmed) >>> 0;
    t.mark[e] = snap.mark;
    t.expires[e] = nowMs + snap.timeoutMs;
    t.lastEvent[e] = nowMs;
    t.replicaAt[e] = nowMs;
    if (fresh) {
      udpReplicated(t, e, nowMs);
      t.lastIndex[e] = TcpIndex.None;
      const rc = t.link(e);
      if (rc !== 0) {
        if (rc === 2) stats.chainOverflow++;
        t.free(e);
        stats.replicaRefused++;
        return -1;
      }
    } else if (replyChanged) {
      const rc = t.relink(e);
      if (rc !== 0) {
        if (rc === 2) stats.chainOverflow++;
        t.free(e);
        stats.replicaRefused++;
        return -1;
      }
    }
    stats.replicaApplied++;
    return e;
  }

  /** Deletes the entry with this tuple (either direction) without an event; unknown is ignored. */
  delete(tuple: CtTupleLike): boolean {
    const h = this.host;
    const t = h.table;
    if (!t.keyFromTupleLike(tuple)) return false;
    const v = t.find(t.hashKey());
    if (v < 0) return false;
    h.destroy(v >> 1, false);
    h.stats.replicaDeleted++;
    return true;
  }

  /**
   * After a full resync from a peer: deletes (without events) the replicated entries not
   * written by apply() since `sinceMs`, i.e. those the peer no longer has. O(capacity);
   * control plane only. Returns how many went.
   */
  purgeStale(sinceMs: number): number {
    const h = this.host;
    const t = h.table;
    let n = 0;
    for (let e = 0; e < t.cap; e++) {
      if (t.slot[e] === Slot.Live && t.status[e] & CtStatus.Replicated && t.replicaAt[e] < sinceMs) {
        h.destroy(e, false);
        n++;
      }
    }
    h.stats.replicaDeleted += n;
    return n;
  }

  /**
   * This node takes over a replicated entry (after a failover local traffic runs through
   * it): it is no longer the peer's copy, so its changes are ours to replicate.
   */
  adopt(entry: number): void {
    const t = this.host.table;
    if (entry < 0 || entry >= t.cap || t.slot[entry] !== Slot.Live) return;
    t.status[entry] = (t.status[entry] & ~CtStatus.Replicated) >>> 0;
    const r = this.host.result;
    if (r.entry === entry) r.status = t.status[entry];
  }

  /** Counts a replicated entry as refreshed by its owner now, without changing it (a late, older copy arrived). */
  touch(entry: number, nowMs: number): void {
    const t = this.host.table;
    if (entry >= 0 && entry < t.cap && t.slot[entry] === Slot.Live && t.status[entry] & CtStatus.Replicated) t.replicaAt[entry] = nowMs;
  }

  /** Entries replicated from peers (O(capacity): for status and the API, not per packet). */
  count(): number {
    const t = this.host.table;
    let n = 0;
    for (let e = 0; e < t.cap; e++) if (t.slot[e] === Slot.Live && t.status[e] & CtStatus.Replicated) n++;
    return n;
  }
}
