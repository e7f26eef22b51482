/**
 * The replica side of the table: entries a peer owns, written from its snapshots by state
 * sync. Replicas carry CtStatus.Replicated and the time they were last written
 * (`replicaAt`); they are applied, deleted and purged without events, so replication never
 * echoes. The tracker's applyReplica / deleteReplica / ... delegate here; this module sees
 * the tracker only through ReplicaHost.
 */
import { Slot, type ConnTable } from './conn-table.js';
import { type CtReplyTupleLike, type CtResult, type CtSnapshot, type CtStats, CtStatus, type CtTupleLike, TcpDirFlag } from './ct-types.js';
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
  /**
   * The last seek() (state sync's own lookup before it applies or deletes): the key it
   * hashed, the hash, its result (tuple or -1), the free bucket on a miss, and the index's
   * generation then (-1: none). apply() and delete() of the same tuple, with the index
   * unchanged since, use it instead of hashing and walking again (at 1M entries each walk
   * is a cache miss).
   */
  private readonly seekKey = new Uint32Array(10);
  private seekHash = 0;
  private seekV = -1;
  private seekAt = -1;
  private seekGen = -1;

  constructor(private readonly host: ReplicaHost) {}

  /** Entry holding this original tuple (either direction), or -1; remembered for apply() and delete(). */
  seek(tuple: CtTupleLike): number {
    const t = this.host.table;
    if (!t.keyFromTupleLike(tuple)) {
      this.seekGen = -1;
      return -1;
    }
    const v = this.seekKeyed();
    return v < 0 ? -1 : v >> 1;
  }

  /** Hashes and seeks `key` (already filled) and remembers the outcome. */
  private seekKeyed(): number {
    const t = this.host.table;
    const h = t.hashKey();
    const v = t.seek(h);
    this.seekKey.set(t.key);
    this.seekHash = h;
    this.seekV = v;
    this.seekAt = v < 0 ? t.seekAt : -1;
    this.seekGen = t.gen;
    return v;
  }

  /** Fills `key` from `tuple` and seeks it unless the remembered seek is of that key and still holds. False: bad family. */
  private seekTuple(tuple: CtTupleLike): boolean {
    const t = this.host.table;
    if (!t.keyFromTupleLike(tuple)) return false;
    if (this.seekGen !== t.gen || !sameKey(this.seekKey, t.key)) this.seekKeyed();
    return true;
  }

  /**
   * Inserts or updates the entry a peer described, marked Replicated. No event is
   * emitted (so replication never echoes). Returns the entry index, or -1 when it could
   * not be stored (bad family, table full, tuple clash, probe cap). The tuples are read
   * from `tuple` (the snapshot's own by default; state sync passes its record), the rest
   * from `snap`. One hash and one walk of the index for the original tuple, shared with a
   * seek() just before; one more of each for the reply tuple of a new entry or a changed one.
   */
  apply(snap: CtSnapshot, nowMs: number, tuple: CtTupleLike & CtReplyTupleLike = snap, imported = false): number {
    const h = this.host;
    const t = h.table;
    const stats = h.stats;
    const refuse = (): number => {
      if (imported) stats.importRefused++;
      else stats.replicaRefused++;
      return -1;
    };
    if (!this.seekTuple(tuple)) return refuse();
    let v = this.seekV;
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
      if (e < 0) return refuse();
      fresh = true;
      // Making room (early drop, expiry) or the clash removal above moved buckets: the
      // remembered free bucket may be wrong now, so seek again (the tuple is still absent).
      if (this.seekGen !== t.gen) {
        t.keyFromTupleLike(tuple);
        this.seekKeyed();
      }
    }
    t.family[e] = tuple.family;
    t.proto[e] = tuple.proto;
    t.zone[e] = tuple.zone;
    t.storeKey(2 * e);
    const replyChanged = t.setReply(e, tuple);
    t.tcpState[e] = snap.tcpState;
    for (let d = 0; d < 2; d++) {
      // A peer (or a record format) that does not carry td_maxack sends 0: then do not
      // claim MAXACK_SET, or RST validation would compare against sequence 0. The next
      // ACK from that side sets it again.
      const flags = snap.tdMaxAck[d] === 0 ? snap.tdFlags[d] & ~TcpDirFlag.MaxAckSet : snap.tdFlags[d];
      t.setTcpWindow(e, d, snap.tdEnd[d], snap.tdMaxEnd[d], snap.tdMaxWin[d], snap.tdMaxAck[d], snap.tdScale[d], flags);
    }
    // An imported entry is this node's own (it forwards the connection from now on).
    t.status[e] = (snap.status | (imported ? 0 : CtStatus.Replicated) | CtStatus.Confirmed) >>> 0;
    t.mark[e] = snap.mark;
    t.expires[e] = nowMs + snap.timeoutMs;
    t.lastEvent[e] = nowMs;
    t.replicaAt[e] = nowMs;
    if (fresh) {
      udpReplicated(t, e, nowMs);
      t.lastIndex[e] = TcpIndex.None;
      // No free bucket within the probe cap for the original (rare): link() tells a reply
      // clash (checked first) from the overflow, as before.
      const rc = this.seekAt < 0 ? t.link(e) : t.linkSought(e, this.seekHash, this.seekAt);
      if (rc !== 0) {
        if (rc === 2) stats.chainOverflow++;
        t.free(e);
        return refuse();
      }
    } else if (replyChanged) {
      const rc = t.relinkReply(e);
      if (rc !== 0) {
        if (rc === 2) stats.chainOverflow++;
        t.free(e);
        return refuse();
      }
    }
    if (imported) stats.imported++;
    else stats.replicaApplied++;
    return e;
  }

  /** Deletes the entry with this tuple (either direction) without an event; unknown is ignored. */
  delete(tuple: CtTupleLike): boolean {
    const h = this.host;
    if (!this.seekTuple(tuple)) return false;
    const v = this.seekV;
    if (v < 0) return false;
    h.destroy(v >> 1, false);
    h.stats.replicaDeleted++;
    return true;
  }

  /**
   * After a full resync from a peer: deletes (without events) the replicated entries not
   * written by apply() since `sinceMs` (and, with `owned`, of that peer), i.e. those the peer no longer has. O(capacity);
   * control plane only. Returns how many went.
   */
  purgeStale(sinceMs: number, owned?: (entry: number) => boolean): number {
    const h = this.host;
    const t = h.table;
    let n = 0;
    for (let e = 0; e < t.cap; e++) {
      if (t.slot[e] === Slot.Live && t.status[e] & CtStatus.Replicated && t.replicaAt[e] < sinceMs && (owned === undefined || owned(e))) {
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

function sameKey(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== b[i]) return false;
  return true;
}
