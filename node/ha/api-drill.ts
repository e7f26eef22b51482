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
  /** The first group's state (the only group's without vrrp.groups). */
  state(): string;
  readonly preempt: boolean;
  /** Resigns every group, or those of `vrids` (a drill of one group). */
  resign(vrids?: readonly number[]): Promise<void>;
  /** Starts again what resign() stopped. */
  resume(): void;
  /** Advertisements accepted from other routers; `vrid` is the advertisement's group. */
  onAdvert(cb: (from: string, priority: number, atMs: number, vrid?: number) => void): () => void;
  /** Each group with its state (vrrp.groups); absent or empty: one group, `state()`. */
  groups?(): { name: string; vrid: number; state: string }[];
}

/** One VRRP group in a drill's report: did mastership of it move away from this node? */
export interface DrillGroupReport {
  name: string;
  vrid: number;
  /** This group was resigned by the drill (all groups in a whole-node drill). */
  drilled: boolean;
  /** Its state here when the drill started and when it ended. */
  before: string;
  after?: string;
  /** A peer advertised as its master after the resign (this node was master of it before). */
  moved: boolean;
  takeover: { peer: string; priority: number; ms: number } | null;
  /** The watched flows of this group (connections tagged with its VRID); absent without a flow watch. */
  flows?: { watched: number; survived: number; ended: number; notSeen: number };
}

/** The node's traffic, for a drill's measurement (node/datapath: the shared counters and the drill watch). */
export interface DrillTrafficSource {
  /** Packets forwarded so far (a counter). */
  forwarded(): number;
  /**
   * The datapath's flow watch: begin (activity window opens; `vrids`: only connections of
   * these VRRP groups), freeze (at the resign), end.
   */
  watch(step: 'begin' | 'freeze', vrids?: readonly number[]): Promise<number>;
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
  /** The one group drilled (`group` in the request); null: the whole node (every group). */
  group?: { name: string; vrid: number } | null;
  /** Per VRRP group (vrrp.groups), which moved; absent on a node with one group. */
  groups?: DrillGroupReport[];
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

  /**
   * Checks the preconditions, starts the drill in the background and returns its first
   * report. `group` (a name or a VRID) drills that VRRP group only: it resigns and the
   * node's other groups keep their state; without it the whole node resigns.
   */
  start(mode: 'resign', holdSeconds: number, group?: string | number): { report: DrillReport; done: Promise<DrillReport> } {
    const v = this.deps.vrrp;
    if (!v) throw new DrillRefused('this node runs without VRRP (no vrrp: section): there is no mastership to hand over');
    if (this.running) throw new DrillRefused(`drill ${this.running} is still running`);
    const groups = v.groups?.() ?? [];
    let chosen: { name: string; vrid: number; state: string } | undefined;
    if (group !== undefined) {
      chosen = groups.find((g) => g.name === String(group) || String(g.vrid) === String(group));
      const known = groups.map((g) => `${g.name} (vrid ${g.vrid})`).join(', ');
      if (!chosen) throw new DrillRefused(groups.length === 0 ? `group: this node has no VRRP groups to choose from (got ${JSON.stringify(group)})` : `group: no VRRP group named or numbered ${JSON.stringify(group)} on this node; its groups: ${known}`, 400);
      if (chosen.state !== 'master') throw new DrillRefused(`this node is ${chosen.state} of group ${chosen.name}, not master: run the drill on that group's master`);
    } else if (groups.length > 1) {
      // A whole-node drill on an active/active node: it must master at least one group.
      if (!groups.some((g) => g.state === 'master')) throw new DrillRefused(`this node is master of no group (${groups.map((g) => `${g.name}: ${g.state}`).join(', ')}): run the drill on a master`);
    } else {
      const state = v.state();
      if (state !== 'master') throw new DrillRefused(`this node is ${state}, not master: run the drill on the master`);
    }
    const id = `d${Date.now().toString(36)}-${++this.seq}`;
    const report: DrillReport = {
      id, mode, status: 'running', phase: 'started', holdSeconds, group: chosen ? { name: chosen.name, vrid: chosen.vrid } : null, startedAt: new Date().toISOString(),
      takeover: null, peerInSync: null, preempt: v.preempt, reclaimMs: null,
    };
    if (groups.length > 1) {
      report.groups = groups.map((g) => ({
        name: g.name, vrid: g.vrid, drilled: chosen ? g.vrid === chosen.vrid : true, before: g.state, moved: false, takeover: null,
      }));
    }
    this.reports.set(id, report);
    while (this.reports.size > MAX_KEPT) this.reports.delete(this.reports.keys().next().value!);
    this.running = id;
    this.progress(report, 'started', { holdSeconds, ...(chosen ? { group: chosen.name, vrid: chosen.vrid } : {}) });
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
    // The groups that must move: the one drilled, or every group this node masters. Without
    // groups (one VRRP instance) there is one, with no VRID to tell its adverts apart.
    const watched = r.groups ? r.groups.filter((g) => g.drilled && g.before === 'master') : [];
    const vrids = r.group ? [r.group.vrid] : undefined;
    const m = this.deps.traffic ? new TrafficMeasurement(this.deps.traffic, this.now, this.deps.sampleMs ?? DRILL_SAMPLE_MS, vrids) : undefined;
    const mastersAgain = (): boolean => (r.groups ? watched.every((g) => v.groups?.().find((x) => x.vrid === g.vrid)?.state === 'master') : v.state() === 'master');
    try {
      if (m) await m.begin(this.deps.beforeMs ?? DRILL_BEFORE_MS);
      // The first advertisement with a non-zero priority after ours of priority 0 comes
      // from the new master: a backup does not advertise (RFC 5798 §6.4.2). With groups,
      // per group: another group's master advertises all along.
      let t0 = NaN;
      let resolveTakeover!: (x: { from: string; priority: number; at: number } | null) => void;
      const takeover = new Promise<{ from: string; priority: number; at: number } | null>((res) => (resolveTakeover = res));
      let last: { from: string; priority: number; at: number } | null = null;
      off = v.onAdvert((from, priority, _atMs, vrid) => {
        if (priority === 0 || Number.isNaN(t0)) return;
        if (!r.groups) return resolveTakeover({ from, priority, at: this.now() });
        const g = r.groups.find((x) => x.vrid === vrid);
        if (!g || g.takeover || !watched.includes(g)) return;
        const at = this.now();
        g.takeover = { peer: from, priority, ms: Math.round((at - t0) * 10) / 10 };
        g.moved = true;
        last = { from, priority, at };
        if (watched.every((x) => x.takeover)) resolveTakeover(last);
      });
      await m?.freeze();
      t0 = this.now();
      if (m) m.resignAt = t0;
      await v.resign(vrids);
      this.progress(r, 'resigned', r.group ? { group: r.group.name } : {});
      const timer = setTimeout(() => resolveTakeover(null), takeoverTimeout);
      // With several groups, the report's takeover is the last of them (every drilled group moved).
      const got = (await takeover) ?? (r.groups ? last : null);
      clearTimeout(timer);
      off();
      off = undefined;
      if (got) {
        r.takeover = { peer: got.from, priority: got.priority, ms: Math.round((got.at - t0) * 10) / 10 };
        r.peerInSync = await this.deps.peerInSync().catch(() => null);
        this.progress(r, 'takeover', { ...r.takeover, peerInSync: r.peerInSync, ...(r.groups ? { moved: r.groups.filter((g) => g.moved).map((g) => g.name) } : {}) });
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
        while (!mastersAgain() && this.now() < deadline) await sleep(10);
        if (mastersAgain()) {
          if (m) m.reclaimAt = this.now();
          r.reclaimMs = Math.round((this.now() - t1) * 10) / 10;
          this.progress(r, 'reclaimed', { ms: r.reclaimMs });
        } else this.progress(r, 'not-reclaimed', { waitedMs: reclaimTimeout });
      }
      if (m) {
        await sleep(this.deps.afterMs ?? DRILL_AFTER_MS);
        r.traffic = m.finish(r.holdSeconds);
      }
      this.finishGroups(v, r);
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
      this.finishGroups(v, r);
      r.finishedAt = new Date().toISOString();
      this.progress(r, 'failed', { error: r.error });
    }
    return { ...r };
  }

  /** Final states, and each group's share of the watched flows. */
  private finishGroups(v: DrillVrrp, r: DrillReport): void {
    const now = v.groups?.() ?? [];
    r.finalState = r.group ? (now.find((g) => g.vrid === r.group!.vrid)?.state ?? v.state()) : v.state();
    for (const g of r.groups ?? []) {
      g.after = now.find((x) => x.vrid === g.vrid)?.state;
      const per = r.traffic?.flows.perGroup?.find((x) => x.vrid === g.vrid);
      if (r.traffic && !r.traffic.flows.error) g.flows = per ? { watched: per.watched, survived: per.survived, ended: per.ended, notSeen: per.notSeen } : { watched: 0, survived: 0, ended: 0, notSeen: 0 };
    }
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
    /** Watch only the connections of these groups (a drill of one group). */
    private readonly vrids?: readonly number[],
  ) {}

  private sample(): void {
    this.samples.push({ t: this.now(), value: this.src.forwarded() });
  }

  /** Samples from now on, opens the flow watch's activity window and waits it out. */
  async begin(beforeMs: number): Promise<void> {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    try {
      await this.src.watch('begin', this.vrids);
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
