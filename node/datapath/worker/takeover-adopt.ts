/**
 * When this node becomes master it takes over every replica in its table, in the
 * background, whether or not a packet of the connection comes by.
 *
 * Why: a replica is adopted when local traffic runs through it (sync-bridge.ts), but a
 * connection that stays quiet from the takeover on would stay a copy of the dead owner's,
 * and a resync walk carries only its sender's own connections. A node that restarts
 * meanwhile would not get it from the new master, and if it then preempts, the quiet
 * connection's next packet finds no state there (dropped by `ct state established accept;
 * policy drop`). Adopted and announced here, it is replicated under the new master's id
 * and is in its later walks.
 *
 * Which replicas: those of the groups this node just became master of. Each connection is
 * tagged with the VRRP group (VRID) whose master forwards it (CT_GROUP_SHIFT, set by the
 * sync bridge on the owner), so with several groups (active/active) a node taking group B
 * adopts B's connections and leaves A's to A's master, which is alive and forwarding
 * them. An untagged replica (group 0: from a node without VRRP) is adopted by any new
 * master, as with one group. The former owner, if it is alive and not master of the
 * connection's group, takes this node's records for a connection it still holds as its
 * own: the entry becomes this node's replica there (SyncBridge.apply, `yielded`).
 *
 * Bounded: the walk goes a slice of slots per turn on the thread's event loop, so packets
 * after the transition never wait for it (the first turn runs one interval after it), and
 * adopts at most `maxPerTurn` entries a turn and never more than half the free room in the
 * ring to the sync worker (each adoption is one record there; a full ring costs a full
 * local resync). Turns the ring has no room for adopt nothing and try again.
 *
 * Back to backup mid-walk: the walk stops (for that group: a walk for another group this
 * node still masters goes on). What it adopted stays this node's (it announced it); the
 * rest stays replicas, for the new master to adopt.
 */
import { CtStatus, ctGroup, type ConnTracker } from '../../conntrack/index.js';
import { C } from '../shared/counters.js';
import type { SyncBridge } from './sync-bridge.js';

export interface TakeoverAdoptOptions {
  /** Time between turns, ms. */
  intervalMs: number;
  /** Table slots looked at per turn. */
  slotsPerTurn: number;
  /** Adoptions per turn at most (also at most half the ring's free room). */
  maxPerTurn: number;
}

/**
 * A turn every 10 ms over 16,384 slots: a 1 M table is walked in 0.64 s if the ring keeps
 * up; at most 1,024 adoptions a turn (about 100,000 a second, above what one sync worker
 * sends, so the ring's room is what paces a large takeover).
 */
export const TAKEOVER_ADOPT_DEFAULTS: TakeoverAdoptOptions = { intervalMs: 10, slotsPerTurn: 16384, maxPerTurn: 1024 };

export class TakeoverAdopter {
  /** Next slot to look at; -1: no walk. */
  private cursor = -1;
  /** Per VRID: 1 while its replicas are being adopted (index 0: untagged ones, with any group). */
  private readonly walkGroups = new Uint8Array(256);
  /** Adopt every replica whatever its group (setMaster without a group: one-group callers). */
  private anyGroup = false;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly ct: ConnTracker,
    private readonly bridge: SyncBridge,
    private readonly counters: Float64Array,
    private readonly opts: TakeoverAdoptOptions = TAKEOVER_ADOPT_DEFAULTS,
    /** setInterval; tests pass their own and call turn(). */
    private readonly every: (fn: () => void, ms: number) => ReturnType<typeof setInterval> = setInterval,
  ) {
    if (!(opts.intervalMs > 0 && opts.slotsPerTurn >= 1 && opts.maxPerTurn >= 1)) {
      throw new RangeError(`takeover adoption: intervalMs > 0, slotsPerTurn >= 1 and maxPerTurn >= 1 needed (got ${JSON.stringify(opts)})`);
    }
  }

  /** A walk is in progress. */
  get walking(): boolean {
    return this.cursor >= 0;
  }

  /**
   * The node's VRRP state of group `vrid` changed: master starts a walk over the whole
   * table for that group's replicas (and untagged ones), anything else stops adopting the
   * group's (the walk stops when no group is left). Without `vrid`: every replica, whatever
   * its group.
   */
  setMaster(master: boolean, vrid?: number): void {
    if (vrid === undefined) this.anyGroup = master;
    else if (vrid >= 1 && vrid <= 255) this.walkGroups[vrid] = master ? 1 : 0;
    if (!this.anyGroup && this.walkGroups.indexOf(1, 1) < 0) {
      this.stop();
      return;
    }
    if (!master) return;
    // A walk in progress starts over: the slots it passed may hold the new group's replicas.
    this.walkGroups[0] = 1;
    this.cursor = 0;
    if (this.timer === undefined) {
      this.timer = this.every(() => this.turn(), this.opts.intervalMs);
      // The thread lives as long as its message port; the timer must not hold it on stop.
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  stop(): void {
    this.cursor = -1;
    this.walkGroups.fill(0);
    this.anyGroup = false;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One bounded slice of the walk; returns how many replicas it adopted. Ends the walk at the table's end. */
  turn(): number {
    if (this.cursor < 0) return 0;
    const ct = this.ct;
    const max = Math.min(this.opts.maxPerTurn, Math.floor(this.bridge.ringRoom / 2));
    let n = 0;
    let e = this.cursor;
    if (max > 0) {
      const end = Math.min(ct.capacity, e + this.opts.slotsPerTurn);
      for (; e < end && n < max; e++) {
        if (!ct.isLive(e)) continue;
        const status = ct.getStatus(e);
        if ((status & CtStatus.Replicated) === 0) continue;
        if (!this.anyGroup && this.walkGroups[ctGroup(status)] !== 1) continue;
        if (this.bridge.adoptOnTakeover(e)) n++;
      }
    }
    this.counters[C.ct_takeover_adopted] = this.bridge.counts.adoptedOnTakeover;
    if (e >= ct.capacity) this.stop();
    else this.cursor = e;
    return n;
  }
}
