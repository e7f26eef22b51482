/**
 * The traffic side of a drill started through the API, from the drilling node's own
 * observations, with no I/O: its forwarded-packet counter sampled through the drill (the
 * timeline), and what its datapath learnt of the flows it handed over (which the new
 * master carried: node/datapath/worker/drill-watch.ts). The CLI drill (drill-report.ts)
 * measures from a client with probes instead; this is what a node can say by itself.
 *
 * What it cannot see: the new master's own forwarding. "Traffic left this node" is when
 * packets stopped arriving here after the resign (the peer's announcements moved the
 * clients and servers to it); whether they were forwarded there in the meantime shows
 * only through the flows the new master reported.
 */

/** One reading of the node's forwarded-packet counter: time (ms, any monotonic clock) and value. */
export interface CounterSample {
  t: number;
  value: number;
}

export type DrillFlowOutcome = 'survived' | 'ended' | 'not-seen';

/** What the datapath said of one watched flow (drill-watch.ts's DrillFlowResult). */
export interface DrillFlowObservation {
  flow: string;
  outcome: DrillFlowOutcome;
  peerRecords: number;
  survivedAfterMs: number | null;
  /** The connection's VRRP group (VRID; 0: untagged, a node with one group). */
  vrid?: number;
}

export interface DrillFlowWatch {
  candidates: number;
  capped: boolean;
  flows: readonly DrillFlowObservation[];
}

export interface DrillTrafficInput {
  samples: readonly CounterSample[];
  /** When the node resigned, resumed VRRP and was master again (same clock as samples). */
  resignAt: number;
  resumeAt: number | null;
  reclaimAt: number | null;
  /** The flow watch's answer, or why there is none (no conntrack, no sync, the datapath failed). */
  flows: DrillFlowWatch | { error: string };
}

export interface DrillTraffic {
  /** The sampling period asked for (ms); the timeline's points are where samples were taken. */
  sampleMs: number;
  /** Per interval between two samples: its end (ms since the resign) and packets per second in it. */
  timeline: { t: number[]; pps: number[] };
  /** ms since the resign of the resume and of being master again (null: did not happen). */
  resumeMs: number | null;
  reclaimMs: number | null;
  /** Forwarded packets per second on this node before the resign (the reference for the thresholds). */
  beforePps: number;
  /**
   * ms after the resign until the traffic left this node: the end of the last interval before
   * the resume with at least a tenth of beforePps. 0: none came after the resign; null: no
   * traffic before it, or it never left (still at that rate when the node resumed).
   */
  leftMs: number | null;
  /** ms after the resume until traffic came back: the end of the first interval with a tenth of beforePps (null: it did not, or no traffic before). */
  backMs: number | null;
  /**
   * Forwarded packets per second over the last second sampled (after the return), null
   * without a resume. Well below beforePps: the flows came back but do not run as before.
   */
  afterPps: number | null;
  flows: {
    /** Connections that moved data just before the resign and were watched. */
    watched: number;
    survived: number;
    ended: number;
    notSeen: number;
    /** Established connections looked at; `capped`: more than the watch takes. */
    candidates: number;
    capped: boolean;
    /** Up to LISTED_FLOWS of them, the ones not survived first. */
    list: DrillFlowObservation[];
    /** Why there is no flow watch. */
    error?: string;
    /** The counts per VRRP group (VRID) of the watched connections, when any carries a group. */
    perGroup?: { vrid: number; watched: number; survived: number; ended: number; notSeen: number }[];
  };
}

/** Sampling period of the forwarded-packet counter during a drill. */
export const DRILL_SAMPLE_MS = 50;
/** Flows listed in a report at most (the counts cover all). */
export const LISTED_FLOWS = 50;
/** A tenth of the rate before the resign: traffic "here" (stray late packets are below it). */
const PRESENT = 0.1;

const r1 = (v: number): number => Math.round(v * 10) / 10;

export function summarizeDrillTraffic(input: DrillTrafficInput, sampleMs = DRILL_SAMPLE_MS): DrillTraffic {
  const s = input.samples;
  const t: number[] = [];
  const pps: number[] = [];
  let beforePackets = 0;
  let beforeMs = 0;
  for (let i = 1; i < s.length; i++) {
    const dt = s[i]!.t - s[i - 1]!.t;
    if (!(dt > 0)) continue;
    const n = Math.max(0, s[i]!.value - s[i - 1]!.value);
    t.push(r1(s[i]!.t - input.resignAt));
    pps.push(r1((n * 1000) / dt));
    if (s[i]!.t <= input.resignAt) {
      beforePackets += n;
      beforeMs += dt;
    }
  }
  const beforePps = beforeMs > 0 ? (beforePackets * 1000) / beforeMs : 0;
  const present = (i: number): boolean => beforePps > 0 && pps[i]! >= beforePps * PRESENT && pps[i]! > 0;
  const resumeMs = input.resumeAt === null ? null : r1(input.resumeAt - input.resignAt);
  let leftMs: number | null = null;
  let backMs: number | null = null;
  if (beforePps > 0) {
    // Intervals that ended after the resign and before the resume.
    let last = -1;
    let lastInHold = -1;
    for (let i = 0; i < t.length; i++) {
      if (t[i]! <= 0) continue;
      if (resumeMs !== null && t[i]! > resumeMs) break;
      lastInHold = i;
      if (present(i)) last = i;
    }
    if (last < 0) leftMs = 0;
    else if (last !== lastInHold) leftMs = t[last]!;
    if (resumeMs !== null) {
      for (let i = 0; i < t.length; i++) {
        if (t[i]! > resumeMs && present(i)) {
          backMs = r1(t[i]! - resumeMs);
          break;
        }
      }
    }
  }
  // The last second of the window, when it lies after the resume.
  let afterPackets = 0;
  let afterMs = 0;
  const endT = s.length > 0 ? s[s.length - 1]!.t : 0;
  for (let i = 1; i < s.length; i++) {
    const dt = s[i]!.t - s[i - 1]!.t;
    if (!(dt > 0) || input.resumeAt === null || s[i - 1]!.t < Math.max(input.resumeAt, endT - 1000)) continue;
    afterPackets += Math.max(0, s[i]!.value - s[i - 1]!.value);
    afterMs += dt;
  }
  return {
    sampleMs,
    timeline: { t, pps },
    resumeMs,
    reclaimMs: input.reclaimAt === null ? null : r1(input.reclaimAt - input.resignAt),
    beforePps: r1(beforePps),
    leftMs,
    backMs,
    afterPps: afterMs > 0 ? r1((afterPackets * 1000) / afterMs) : null,
    flows: flowSummary(input.flows),
  };
}

const ORDER: Record<DrillFlowOutcome, number> = { 'not-seen': 0, ended: 1, survived: 2 };

function flowSummary(w: DrillTrafficInput['flows']): DrillTraffic['flows'] {
  if ('error' in w) return { watched: 0, survived: 0, ended: 0, notSeen: 0, candidates: 0, capped: false, list: [], error: w.error };
  const count = (o: DrillFlowOutcome, flows = w.flows) => flows.filter((f) => f.outcome === o).length;
  const vrids = [...new Set(w.flows.map((f) => f.vrid ?? 0))].filter((v) => v !== 0).sort((a, b) => a - b);
  const perGroup = vrids.map((vrid) => {
    const mine = w.flows.filter((f) => f.vrid === vrid);
    return { vrid, watched: mine.length, survived: count('survived', mine), ended: count('ended', mine), notSeen: count('not-seen', mine) };
  });
  return {
    ...(perGroup.length > 0 ? { perGroup } : {}),
    watched: w.flows.length,
    survived: count('survived'),
    ended: count('ended'),
    notSeen: count('not-seen'),
    candidates: w.candidates,
    capped: w.capped,
    list: [...w.flows].sort((a, b) => ORDER[a.outcome] - ORDER[b.outcome] || a.flow.localeCompare(b.flow)).slice(0, LISTED_FLOWS),
  };
}
