/**
 * Failover drills started through the API (POST /v1/drills): the master resigns as on
 * SIGTERM but keeps running, measures when the peer's master advertisements arrive (the
 * takeover as seen from here), notes whether state sync with the peer was complete, holds
 * for `holdSeconds`, then starts VRRP again and, with preemption, takes mastership back.
 *
 * The VRRP side is behind DrillVrrp so the sequence is testable without sockets; the
 * daemon wires it to VrrpService.
 */

export interface DrillVrrp {
  state(): string;
  readonly preempt: boolean;
  resign(): Promise<void>;
  resume(): void;
  onAdvert(cb: (from: string, priority: number, atMs: number) => void): () => void;
}

export interface DrillDeps {
  vrrp: DrillVrrp | undefined;
  /** Whether state sync with the peer(s) is complete now; null: no sync configured. */
  peerInSync(): Promise<boolean | null>;
  publish(type: 'drill', data: unknown): void;
  now?(): number;
  /** How long to wait for the peer's takeover and for our own return (ms). */
  takeoverTimeoutMs?: number;
  reclaimTimeoutMs?: number;
}

export type DrillPhase = 'started' | 'resigned' | 'takeover' | 'no-takeover' | 'holding' | 'resumed' | 'reclaimed' | 'not-reclaimed' | 'done' | 'failed';

export interface DrillReport {
  id: string;
  mode: 'resign';
  status: 'running' | 'done' | 'failed';
  phase: DrillPhase;
  holdSeconds: number;
  startedAt: string;
  finishedAt?: string;
  /** Peer that took over, its advertised priority, and ms from our priority-0 advert to its first master advert. */
  takeover: { peer: string; priority: number; ms: number } | null;
  /** State sync with the peer complete when it took over (null: no sync configured). */
  peerInSync: boolean | null;
  preempt: boolean;
  /** ms from resuming VRRP to being master again (null: not reclaimed, e.g. without preemption). */
  reclaimMs: number | null;
  finalState?: string;
  error?: string;
}

/** A drill cannot start: `status` is the HTTP status (409: not master / no VRRP / one running). */
export class DrillRefused extends Error {
  constructor(
    message: string,
    readonly status = 409,
  ) {
    super(message);
  }
}

const MAX_KEPT = 20;

export class DrillService {
  private readonly reports = new Map<string, DrillReport>();
  private running: string | undefined;
  private seq = 0;
  private readonly now: () => number;

  constructor(private readonly deps: DrillDeps) {
    this.now = deps.now ?? (() => performance.now());
  }

  get(id: string): DrillReport | undefined {
    return this.reports.get(id);
  }

  list(): DrillReport[] {
    return [...this.reports.values()];
  }

  /** Checks the preconditions, starts the drill in the background and returns its first report. */
  start(mode: 'resign', holdSeconds: number): { report: DrillReport; done: Promise<DrillReport> } {
    const v = this.deps.vrrp;
    if (!v) throw new DrillRefused('this node runs without VRRP (no vrrp: section): there is no mastership to hand over');
    if (this.running) throw new DrillRefused(`drill ${this.running} is still running`);
    const state = v.state();
    if (state !== 'master') throw new DrillRefused(`this node is ${state}, not master: run the drill on the master`);
    const id = `d${Date.now().toString(36)}-${++this.seq}`;
    const report: DrillReport = {
      id, mode, status: 'running', phase: 'started', holdSeconds, startedAt: new Date().toISOString(),
      takeover: null, peerInSync: null, preempt: v.preempt, reclaimMs: null,
    };
    this.reports.set(id, report);
    while (this.reports.size > MAX_KEPT) this.reports.delete(this.reports.keys().next().value!);
    this.running = id;
    this.progress(report, 'started', { holdSeconds });
    const done = this.run(v, report).finally(() => (this.running = undefined));
    return { report: { ...report }, done };
  }

  private progress(r: DrillReport, phase: DrillPhase, extra: Record<string, unknown> = {}): void {
    r.phase = phase;
    this.deps.publish('drill', { id: r.id, phase, ...extra });
  }

  private async run(v: DrillVrrp, r: DrillReport): Promise<DrillReport> {
    const takeoverTimeout = this.deps.takeoverTimeoutMs ?? 10000;
    const reclaimTimeout = this.deps.reclaimTimeoutMs ?? 10000;
    let off: (() => void) | undefined;
    let resumed = false;
    try {
      // The first advertisement with a non-zero priority after ours of priority 0 comes
      // from the new master: a backup does not advertise (RFC 5798 §6.4.2).
      let resolveTakeover!: (x: { from: string; priority: number; at: number } | null) => void;
      const takeover = new Promise<{ from: string; priority: number; at: number } | null>((res) => (resolveTakeover = res));
      off = v.onAdvert((from, priority) => {
        if (priority > 0) resolveTakeover({ from, priority, at: this.now() });
      });
      const t0 = this.now();
      await v.resign();
      this.progress(r, 'resigned');
      const timer = setTimeout(() => resolveTakeover(null), takeoverTimeout);
      const got = await takeover;
      clearTimeout(timer);
      off();
      off = undefined;
      if (got) {
        r.takeover = { peer: got.from, priority: got.priority, ms: Math.round((got.at - t0) * 10) / 10 };
        r.peerInSync = await this.deps.peerInSync().catch(() => null);
        this.progress(r, 'takeover', { ...r.takeover, peerInSync: r.peerInSync });
        this.progress(r, 'holding', { seconds: r.holdSeconds });
        await sleep(r.holdSeconds * 1000);
      } else this.progress(r, 'no-takeover', { waitedMs: takeoverTimeout });
      const t1 = this.now();
      v.resume();
      resumed = true;
      this.progress(r, 'resumed');
      if (v.preempt) {
        const deadline = t1 + reclaimTimeout;
        while (v.state() !== 'master' && this.now() < deadline) await sleep(10);
        if (v.state() === 'master') {
          r.reclaimMs = Math.round((this.now() - t1) * 10) / 10;
          this.progress(r, 'reclaimed', { ms: r.reclaimMs });
        } else this.progress(r, 'not-reclaimed', { waitedMs: reclaimTimeout });
      }
      r.finalState = v.state();
      r.status = 'done';
      r.finishedAt = new Date().toISOString();
      this.progress(r, 'done', { finalState: r.finalState, takeover: r.takeover, reclaimMs: r.reclaimMs });
    } catch (err) {
      off?.();
      // Never leave the node resigned: it would stay out of the cluster until restarted.
      if (!resumed) v.resume();
      r.status = 'failed';
      r.error = (err as Error).message;
      r.finalState = v.state();
      r.finishedAt = new Date().toISOString();
      this.progress(r, 'failed', { error: r.error });
    }
    return { ...r };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}
