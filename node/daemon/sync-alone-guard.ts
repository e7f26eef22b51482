/**
 * Keeps a node that only *thinks* it is alone from taking the VIPs with an empty table.
 *
 * State sync declares a node in sync when it hears no sync peer within its startup grace
 * (nobody to resync from: like pfsync ending its bulk-update demotion after a timeout). If
 * the sync link is broken while the peer is alive, that node would then preempt the master
 * with an empty connection table. VRRP knows better: if another router is heard, the node is
 * not alone. So, for VRRP readiness, "alone" also needs silence on the VRRP link for a whole
 * `aloneAfterMs` since start (longer than a live master stays silent); otherwise readiness
 * waits until a sync peer is known (and its resync done, which state sync reports itself).
 */
interface SyncPeersSource {
  (): Promise<{ status: { peers: readonly { inSync?: boolean }[] } } | null>;
}

export class SyncAloneGuard {
  /** On the injected clock, like every later reading (a second clock made tests flaky). */
  private readonly startedAt: number;
  private syncPeerKnown = false;
  /**
   * Sync peers in the last report, and whether each of them had sent its whole table (the
   * guard keeps polling: peers can all go and come back).
   */
  private syncPeers = 0;
  private syncPeersInSync = false;
  private vrrpPeerEverHeard = false;
  private timer?: NodeJS.Timeout;
  private graceTimer?: NodeJS.Timeout;

  constructor(
    private readonly aloneAfterMs: number,
    private readonly syncReport: SyncPeersSource,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
  }

  /** Polls the sync peers; `changed` re-evaluates readiness when there are none, or again some. */
  start(changed: () => void): void {
    this.timer = setInterval(() => {
      void this.syncReport().then((r) => {
        const peers = r?.status.peers ?? [];
        const n = peers.length;
        // A peer counts once its resync is done: the report and sync's in-sync event travel
        // apart, and a peer just heard again must not open the gate before the event closed it.
        const inSync = peers.every((p) => p.inSync !== false);
        const flipped = (n > 0 && inSync) !== (this.syncPeers > 0 && this.syncPeersInSync);
        this.syncPeers = n;
        this.syncPeersInSync = inSync;
        if (n > 0) this.syncPeerKnown = true;
        if (flipped) changed();
      }, () => undefined);
    }, 200);
    this.timer.unref();
    // The moment silence on the VRRP link may mean "alone": re-evaluate then.
    this.graceTimer = setTimeout(changed, this.aloneAfterMs + 10);
    this.graceTimer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.graceTimer);
  }

  /**
   * May sync's "in sync" count for VRRP, given how many VRRP routers this node has heard
   * since start and how many within the last `aloneAfterMs` (default: the same)?
   *
   * After start, until a sync peer is known: alone only if no router was ever heard, for a
   * whole `aloneAfterMs`. Once sync peers were known and all of them are gone (state sync
   * forgot them, so it calls the node alone and in sync), "alone" holds only while no router
   * is heard either: a router heard means the peers are alive and this node is cut off from
   * them on the sync segment, or has just come back from a partition and sync has not heard
   * them again yet. Preempting then would bring back a table frozen at the cut (connections
   * another node adopted and moved on since): readiness waits for a sync peer and its resync.
   */
  allowsReady(vrrpPeersHeard: number, vrrpPeersRecent = vrrpPeersHeard): boolean {
    if (this.syncPeers > 0) return this.syncPeersInSync;
    if (this.syncPeerKnown) return vrrpPeersRecent === 0;
    if (vrrpPeersHeard > 0) this.vrrpPeerEverHeard = true;
    return !this.vrrpPeerEverHeard && this.now() - this.startedAt >= this.aloneAfterMs;
  }
}
