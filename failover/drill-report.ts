/**
 * Drill figures from raw timestamps, with no I/O: the drill runner (lab or API)
 * records when each probe was sent and received and when each long-lived TCP flow
 * made byte progress; this module turns that into the takeover time, the flows that
 * survived, and the TCP stall distribution, as text and as JSON.
 */

import { takeoverPhases, type TakeoverPhases, type TakeoverTiming } from './takeover.js';

export type DrillMode = 'resign' | 'kill' | 'link';

export interface DrillFlowTrace {
  id: string;
  /** Times (ms) at which the flow's receiver saw new bytes, ascending. */
  progressMs: readonly number[];
  /** The connection was reset or errored (did not survive regardless of progress). */
  failed?: boolean;
}

export interface DrillInput {
  mode: DrillMode;
  /** When the failure was triggered (kill, resign, link down), ms. */
  triggerMs: number;
  /** When the drill stopped observing, ms. */
  endMs: number;
  /** Probe i was sent at probeSentMs[i]; received at probeRecvMs[i] or NaN if lost. */
  probeSentMs: ArrayLike<number>;
  probeRecvMs: ArrayLike<number>;
  flows: readonly DrillFlowTrace[];
  /** Sync state of the taking-over node when it became master (e.g. "inSync"). */
  syncStateAtTakeover?: string;
  /** The new master's takeover steps, on the same clock as the probes (takeover.ts). */
  takeover?: TakeoverTiming;
}

/**
 * The longest probe gap split at the new master's steps (ms): the probe gap runs from the
 * last probe before the failure, through the trigger, the silence the backup waits out,
 * its state change and announcement, to the first probe answered through it.
 */
export interface DrillTakeoverPhases extends TakeoverPhases {
  /** Last probe answered until the failure was triggered. */
  before_trigger_ms: number | null;
  /** The master's last advertisement heard by the backup until the failure was triggered. */
  advert_before_trigger_ms: number | null;
  /** Trigger until the backup's timer ran. */
  trigger_to_master_ms: number;
  /** First announcement (or VIPs) until the first probe answered after it (through the new master). */
  first_probe_ms: number | null;
  /**
   * The probe gap around the failure: last probe answered before the trigger until the
   * first answered after the announcement (the longest gap can be another one, later).
   */
  failover_gap_ms: number | null;
}

export interface DrillReport {
  mode: DrillMode;
  /** Longest gap between consecutive received probes, ms. */
  takeover_ms: number;
  /** When that gap began and ended (ms, the input clock). */
  takeover_gap_from_ms: number;
  takeover_gap_to_ms: number;
  probes_sent: number;
  probes_lost: number;
  flows: number;
  survived: number;
  /** Per surviving flow: its longest pause in byte progress after the trigger. */
  stall_ms_p50: number;
  stall_ms_max: number;
  sync_state_at_takeover: string | null;
  /** Present when the new master reported its takeover steps. */
  takeover_phases: DrillTakeoverPhases | null;
  meets_targets: boolean;
  per_flow: { id: string; survived: boolean; stall_ms: number | null }[];
}

/** What a drill must meet: takeover < 100 ms, every flow survives, stall p50 <= 400 ms. */
export const DRILL_TARGETS = { takeoverMs: 100, stallP50Ms: 400 } as const;

/** Nearest-rank percentile (p in 0..100) of values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/**
 * The longest silence in probe reception. Receive times are sorted first (probes may
 * arrive out of order across the two firewalls). The window's edges count: silence
 * from the last probe until endMs is a gap too, because a takeover that never
 * completed must not look instant.
 */
export function longestProbeGap(recvMs: ArrayLike<number>, startMs: number, endMs: number): { gapMs: number; fromMs: number; toMs: number } {
  const t: number[] = [];
  for (let i = 0; i < recvMs.length; i++) {
    const v = recvMs[i]!;
    if (Number.isFinite(v) && v >= startMs && v <= endMs) t.push(v);
  }
  t.sort((a, b) => a - b);
  let best = { gapMs: 0, fromMs: startMs, toMs: startMs };
  let prev = t.length > 0 ? t[0]! : startMs;
  for (let i = 1; i < t.length; i++) {
    if (t[i]! - prev > best.gapMs) best = { gapMs: t[i]! - prev, fromMs: prev, toMs: t[i]! };
    prev = t[i]!;
  }
  if (endMs - prev > best.gapMs) best = { gapMs: endMs - prev, fromMs: prev, toMs: endMs };
  return best;
}

/** A flow's longest pause in byte progress among the pauses that end after the trigger. */
function flowStall(progress: readonly number[], triggerMs: number): number {
  let stall = 0;
  for (let i = 1; i < progress.length; i++) {
    const t = progress[i]!;
    if (t > triggerMs && t - progress[i - 1]! > stall) stall = t - progress[i - 1]!;
  }
  return stall;
}

export function computeDrillReport(input: DrillInput): DrillReport {
  const sent = input.probeSentMs.length;
  let lost = 0;
  for (let i = 0; i < sent; i++) if (!Number.isFinite(input.probeRecvMs[i] ?? NaN)) lost++;
  let firstSent = sent > 0 ? Infinity : input.triggerMs;
  for (let i = 0; i < sent; i++) firstSent = Math.min(firstSent, input.probeSentMs[i]!);
  const gap = longestProbeGap(input.probeRecvMs, firstSent, input.endMs);
  const perFlow = input.flows.map((f) => {
    // A flow survived if it was not reset and moved bytes after traffic resumed (the
    // end of the longest probe gap; if that gap runs to the end, nothing survived).
    // The runner must observe long enough for TCP's retransmission timer to fire.
    const last = f.progressMs.length > 0 ? f.progressMs[f.progressMs.length - 1]! : -Infinity;
    const resumed = gap.toMs < input.endMs;
    const survived = !f.failed && resumed && last >= Math.max(input.triggerMs, gap.toMs);
    return { id: f.id, survived, stall_ms: survived ? flowStall(f.progressMs, input.triggerMs) : null };
  });
  const stalls = perFlow.filter((f) => f.stall_ms !== null).map((f) => f.stall_ms!);
  const survived = perFlow.filter((f) => f.survived).length;
  const p50 = stalls.length > 0 ? percentile(stalls, 50) : NaN;
  const max = stalls.length > 0 ? Math.max(...stalls) : NaN;
  return {
    mode: input.mode,
    takeover_ms: gap.gapMs,
    takeover_gap_from_ms: gap.fromMs,
    takeover_gap_to_ms: gap.toMs,
    probes_sent: sent,
    probes_lost: lost,
    flows: input.flows.length,
    survived,
    stall_ms_p50: p50,
    stall_ms_max: max,
    sync_state_at_takeover: input.syncStateAtTakeover ?? null,
    takeover_phases: input.takeover ? drillPhases(input.takeover, input.triggerMs, input.probeRecvMs) : null,
    meets_targets: gap.gapMs < DRILL_TARGETS.takeoverMs && survived === input.flows.length
      && (input.flows.length === 0 || p50 <= DRILL_TARGETS.stallP50Ms),
    per_flow: perFlow,
  };
}

const r2 = (v: number): number => Math.round(v * 100) / 100;

function drillPhases(t: TakeoverTiming, triggerMs: number, recvMs: ArrayLike<number>): DrillTakeoverPhases {
  const out = t.announceAt ?? t.vipsAt;
  let lastBefore = -Infinity;
  let firstAfter = Infinity;
  for (let i = 0; i < recvMs.length; i++) {
    const v = recvMs[i]!;
    if (!Number.isFinite(v)) continue;
    if (v <= triggerMs && v > lastBefore) lastBefore = v;
    if (out !== undefined && v >= out && v < firstAfter) firstAfter = v;
  }
  const found = out !== undefined && Number.isFinite(firstAfter);
  return {
    ...takeoverPhases(t),
    before_trigger_ms: Number.isFinite(lastBefore) ? r2(triggerMs - lastBefore) : null,
    advert_before_trigger_ms: t.lastAdvertAt === undefined ? null : r2(triggerMs - t.lastAdvertAt),
    trigger_to_master_ms: r2(t.firedAt - triggerMs),
    first_probe_ms: found ? r2(firstAfter - out) : null,
    failover_gap_ms: found && Number.isFinite(lastBefore) ? r2(firstAfter - lastBefore) : null,
  };
}

const ms = (v: number) => (Number.isNaN(v) ? 'n/a' : `${v.toFixed(1)} ms`);

export function formatDrillReport(r: DrillReport): string {
  return [
    `drill (${r.mode})`,
    `  takeover (longest probe gap)  ${ms(r.takeover_ms)}   probes lost ${r.probes_lost}/${r.probes_sent}`,
    `  flows survived                ${r.survived}/${r.flows}`,
    `  TCP stall per flow            p50 ${ms(r.stall_ms_p50)}   max ${ms(r.stall_ms_max)}`,
    `  sync state at takeover        ${r.sync_state_at_takeover ?? 'unknown'}`,
    ...(r.takeover_phases ? [`  takeover phases               ${formatPhases(r.takeover_phases)}`] : []),
    `  targets (<${DRILL_TARGETS.takeoverMs} ms, all flows, p50 <= ${DRILL_TARGETS.stallP50Ms} ms)  ${r.meets_targets ? 'met' : 'NOT met'}`,
  ].join('\n');
}

const opt = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(1));

/** One line: where the probe gap went, in order. */
export function formatPhases(p: DrillTakeoverPhases): string {
  return `last probe ${opt(p.before_trigger_ms)} before trigger; trigger -> master ${p.trigger_to_master_ms.toFixed(1)}`
    + ` (advert ${opt(p.advert_before_trigger_ms)} before trigger, detect ${opt(p.detect_ms)}, timer late ${p.timer_late_ms.toFixed(1)});`
    + ` announce +${opt(p.announce_ms)}, VIPs +${opt(p.vips_ms)}; first probe ${opt(p.first_probe_ms)} after announce;`
    + ` failover gap ${opt(p.failover_gap_ms)} (ms)`;
}

/** JSON for `--json`: NaN (no surviving flow) becomes null. */
export function drillReportJson(r: DrillReport): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}

/** Medians over repeated drills of one mode, as the comparison figures are. */
export function summarizeDrills(reports: readonly DrillReport[]): {
  mode: DrillMode | 'mixed'; runs: number; takeover_ms_median: number; stall_ms_p50_median: number; survived_min: number; flows: number;
} {
  const modes = new Set(reports.map((r) => r.mode));
  return {
    mode: modes.size === 1 ? reports[0]!.mode : 'mixed',
    runs: reports.length,
    takeover_ms_median: percentile(reports.map((r) => r.takeover_ms), 50),
    stall_ms_p50_median: percentile(reports.map((r) => r.stall_ms_p50).filter((v) => !Number.isNaN(v)), 50),
    survived_min: reports.length > 0 ? Math.min(...reports.map((r) => r.survived)) : 0,
    flows: reports.length > 0 ? Math.max(...reports.map((r) => r.flows)) : 0,
  };
}
