/**
 * Failover drills started through the API (POST /v1/drills): the master resigns as on
 * SIGTERM but keeps running, measures when the peer's master advertisements arrive (the
 * takeover as seen from here), notes whether state sync with the peer was complete, holds
 * for `holdSeconds`, then starts VRRP again and, with preemption, takes mastership back.
 *
 * With `traffic` (a node with conntrack and state sync), the drill also measures what the
 * traffic saw, from this node (failover/drill-traffic.ts): its forwarded packets sampled
 * every 50 ms from a second before the resign to two seconds after it is master again, and
 * which of the flows moving data at the resign the new master carried (the datapath's
 * drill watch). The resign waits for that second of reference traffic.
 *
 * The VRRP side is behind DrillVrrp so the sequence is testable without sockets; the
 * daemon wires it to VrrpService.
 */
import { DRILL_SAMPLE_MS, summarizeDrillTraffic, type CounterSample, type DrillFlowWatch, type DrillTraffic } from '../../failover/drill-traffic.js';

export interface DrillVrrp {
  state(): string;
  readonly preempt: boolean;
  resign(): Promise<void>;
  resume(): void;
  onAdvert(cb: (from: string, priority: number, atMs: number) => void): () => void;
}

/** The node's traffic, for a drill's measurement (node/datapath: the shared counters and the drill watch). */
export interface DrillTrafficSource {
  /** Packets forwarded so far (a counter). */
  forwarded(): number;
  /** The datapath's flow watch: begin (activity window opens), freeze (at the resign), end. */
  watch(step: 'begin' | 'freeze'): Promise<number>;
  watchEnd(): Promise<DrillFlowWatch>;
}

/** Reference traffic before the resign, and traffic watched after being master again (ms). */
export const DRILL_BEFORE_MS = 1000;
export const DRILL_AFTER_MS = 2000;
/** Below this hold the new master may not have reported a flow's progress yet (conntrack refreshes every 5 s). */
export const DRILL_MIN_FLOW_HOLD_S = 6;

export interface DrillDeps {
  vrrp: DrillVrrp | undefined;
  /** Whether state sync with the peer(s) is complete now; null: no sync configured. */
  peerInSync(): Promise<boolean | null>;
  publish(type: 'drill', data: unknown): void;
  now?(): number;
  /** How long to wait for the peer's takeover and for our own return (ms). */
  takeoverTimeoutMs?: number;
  reclaimTimeoutMs?: number;
  /** Absent: the report has no `traffic` (no datapath, or no conntrack and sync). */
  traffic?: DrillTrafficSource;
  /** Sampling period of the forwarded counter (ms; tests shorten the waits with the next two). */
  sampleMs?: number;
  beforeMs?: number;
  afterMs?: number;
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
  /** What the traffic saw, from this node (see DrillTraffic); absent without a traffic source. */
  traffic?: DrillTraffic & { note?: string };
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
    const m = this.deps.traffic ? new TrafficMeasurement(this.deps.traffic, this.now, this.deps.sampleMs ?? DRILL_SAMPLE_MS) : undefined;
    try {
      if (m) await m.begin(this.deps.beforeMs ?? DRILL_BEFORE_MS);
      // The first advertisement with a non-zero priority after ours of priority 0 comes
      // from the new master: a backup does not advertise (RFC 5798 §6.4.2).
      let resolveTakeover!: (x: { from: string; priority: number; at: number } | null) => void;
      const takeover = new Promise<{ from: string; priority: number; at: number } | null>((res) => (resolveTakeover = res));
      off = v.onAdvert((from, priority) => {
        if (priority > 0) resolveTakeover({ from, priority, at: this.now() });
      });
      await m?.freeze();
      const t0 = this.now();
      if (m) m.resignAt = t0;
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
      await m?.endWatch();
      const t1 = this.now();
      if (m) m.resumeAt = t1;
      v.resume();
      resumed = true;
      this.progress(r, 'resumed');
      if (v.preempt) {
        const deadline = t1 + reclaimTimeout;
        while (v.state() !== 'master' && this.now() < deadline) await sleep(10);
        if (v.state() === 'master') {
          if (m) m.reclaimAt = this.now();
          r.reclaimMs = Math.round((this.now() - t1) * 10) / 10;
          this.progress(r, 'reclaimed', { ms: r.reclaimMs });
        } else this.progress(r, 'not-reclaimed', { waitedMs: reclaimTimeout });
      }
      if (m) {
        await sleep(this.deps.afterMs ?? DRILL_AFTER_MS);
        r.traffic = m.finish(r.holdSeconds);
      }
      r.finalState = v.state();
      r.status = 'done';
      r.finishedAt = new Date().toISOString();
      this.progress(r, 'done', { finalState: r.finalState, takeover: r.takeover, reclaimMs: r.reclaimMs });
    } catch (err) {
      off?.();
      // Never leave the node resigned: it would stay out of the cluster until restarted.
      if (!resumed) v.resume();
      if (m) r.traffic = await m.abort(r.holdSeconds);
      r.status = 'failed';
      r.error = (err as Error).message;
      r.finalState = v.state();
      r.finishedAt = new Date().toISOString();
      this.progress(r, 'failed', { error: r.error });
    }
    return { ...r };
  }
}

/** The sampler and the flow watch of one drill. */
class TrafficMeasurement {
  private readonly samples: CounterSample[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private flows: DrillFlowWatch | { error: string } = { error: 'the drill ended before the flows were watched' };
  private watching = false;
  resignAt = NaN;
  resumeAt: number | null = null;
  reclaimAt: number | null = null;

  constructor(
    private readonly src: DrillTrafficSource,
    private readonly now: () => number,
    private readonly sampleMs: number,
  ) {}

  private sample(): void {
    this.samples.push({ t: this.now(), value: this.src.forwarded() });
  }

  /** Samples from now on, opens the flow watch's activity window and waits it out. */
  async begin(beforeMs: number): Promise<void> {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    try {
      await this.src.watch('begin');
      this.watching = true;
    } catch (err) {
      this.flows = { error: (err as Error).message };
    }
    await sleep(beforeMs);
  }

  async freeze(): Promise<void> {
    this.sample();
    if (!this.watching) return;
    await this.src.watch('freeze').catch((err: Error) => {
      this.watching = false;
      this.flows = { error: err.message };
    });
  }

  /** At the resume: what the new master reported of the watched flows during the hold. */
  async endWatch(): Promise<void> {
    if (!this.watching) return;
    this.watching = false;
    this.flows = await this.src.watchEnd().catch((err: Error) => ({ error: err.message }));
  }

  finish(holdSeconds: number): DrillTraffic & { note?: string } {
    clearInterval(this.timer);
    this.sample();
    const out: DrillTraffic & { note?: string } = summarizeDrillTraffic({ samples: this.samples, resignAt: Number.isFinite(this.resignAt) ? this.resignAt : this.samples[0]!.t, resumeAt: this.resumeAt, reclaimAt: this.reclaimAt, flows: this.flows }, this.sampleMs);
    if (holdSeconds < DRILL_MIN_FLOW_HOLD_S) out.note = `hold under ${DRILL_MIN_FLOW_HOLD_S} s: the new master reports a flow's packets every 5 s (conntrack refresh), so surviving flows may show as not seen`;
    return out;
  }

  /** The drill failed: stop watching (the datapath forgets the watch) and keep what was measured. */
  async abort(holdSeconds: number): Promise<DrillTraffic & { note?: string }> {
    await this.endWatch();
    return this.finish(holdSeconds);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}
