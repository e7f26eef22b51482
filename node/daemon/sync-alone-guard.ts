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
  (): Promise<{ status: { peers: readonly unknown[] } } | null>;
}

export class SyncAloneGuard {
  /** On the injected clock, like every later reading (a second clock made tests flaky). */
  private readonly startedAt: number;
  private syncPeerKnown = false;
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

  /** Polls the sync peers until one is known; `changed` re-evaluates readiness. */
  start(changed: () => void): void {
    this.timer = setInterval(() => {
      void this.syncReport().then((r) => {
        if ((r?.status.peers.length ?? 0) > 0 && !this.syncPeerKnown) {
          this.syncPeerKnown = true;
          clearInterval(this.timer);
          changed();
        }
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

  /** May sync's "in sync" count for VRRP, given how many VRRP routers this node has heard? */
  allowsReady(vrrpPeersHeard: number): boolean {
    if (this.syncPeerKnown) return true;
    if (vrrpPeersHeard > 0) this.vrrpPeerEverHeard = true;
    return !this.vrrpPeerEverHeard && this.now() - this.startedAt >= this.aloneAfterMs;
  }
}
