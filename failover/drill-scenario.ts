/**
 * Drill figures for a cluster of N nodes, with no I/O: a scenario is a sequence of steps
 * (kill a named node, kill the next master, cut one node off and heal it), and the report
 * is keyed by VRRP group, because each group has its own VIPs, its own master and its own
 * probe streams and flows through those VIPs. Today a cluster runs one group; a cluster
 * with several groups (active/active) adds entries under `groups` without a new format.
 *
 * Per group and step: which node was master before and after, whether mastership moved,
 * and the outage: the longest silence of the group's probe streams around the step (each
 * address family is its own stream, so an IPv6 outage is not hidden by IPv4 replies).
 * Per group overall: the flows that survived every step, and their stall.
 */

import { percentile, DRILL_TARGETS, type DrillFlowTrace } from './drill-report.js';

export type ScenarioAction = 'kill' | 'partition' | 'heal';

export interface ScenarioStep {
  action: ScenarioAction;
  /** The node the step acted on. */
  node: string;
  /** When the step was triggered (ms, the probes' clock). */
  atMs: number;
}

/** One probe stream (one address family) through a group's VIPs. */
export interface ProbeStream {
  family: string;
  /** Probe i was sent at sentMs[i]; received at recvMs[i] or NaN if lost. */
  sentMs: ArrayLike<number>;
  recvMs: ArrayLike<number>;
}

export interface GroupDrillInput {
  /** The key in the report (e.g. the VRID as text). */
  group: string;
  vrid: number;
  /** Master before the first step, then after each step: steps.length + 1 entries (null: none). */
  masters: readonly (string | null)[];
  probes: readonly ProbeStream[];
  flows: readonly DrillFlowTrace[];
}

/** A property of the cluster the runner checked after the scenario (one master, ownership...). */
export interface ScenarioCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ScenarioInput {
  scenario: string;
  nodes: readonly string[];
  steps: readonly ScenarioStep[];
  /** When the observation ended (ms). */
  endMs: number;
  groups: readonly GroupDrillInput[];
  checks?: readonly ScenarioCheck[];
}

export interface GroupStepReport {
  action: ScenarioAction;
  node: string;
  /** ms after the first step (0 for the first). */
  at_ms: number;
  master_before: string | null;
  master_after: string | null;
  /** Mastership of the group moved to another node in this step. */
  takeover: boolean;
  /** Longest probe silence ending in the step's window (worst family), ms. */
  outage_ms: number;
  outage_family: string | null;
  /** Probes sent in the step's window and never answered, all families. */
  probes_lost: number;
}

export interface GroupDrillReport {
  vrid: number;
  steps: GroupStepReport[];
  flows: number;
  survived: number;
  stall_ms_p50: number;
  stall_ms_max: number;
  meets_targets: boolean;
  per_flow: { id: string; survived: boolean; stall_ms: number | null }[];
}

export interface ScenarioReport {
  scenario: string;
  nodes: string[];
  steps: { action: ScenarioAction; node: string; at_ms: number }[];
  groups: Record<string, GroupDrillReport>;
  checks: ScenarioCheck[];
  /** Every group met the targets and every check passed. */
  meets_targets: boolean;
}

/** Received times of a stream, finite only, ascending. */
function received(s: ProbeStream): number[] {
  const t: number[] = [];
  for (let i = 0; i < s.recvMs.length; i++) {
    const v = s.recvMs[i]!;
    if (Number.isFinite(v)) t.push(v);
  }
  return t.sort((a, b) => a - b);
}

/**
 * The longest silence between consecutive replies that ends in (fromMs, toMs]: a step's
 * outage begins before the step (the last reply before the failure) and ends after it, and
 * the next step's outage, which begins just before that step, is the next step's. Silence from the
 * last reply until endMs is a gap too (a takeover that never completed must not look
 * instant), and so is silence from the stream's first probe until its first reply.
 */
export function longestGapIn(s: ProbeStream, fromMs: number, toMs: number, endMs: number): number {
  const t = received(s);
  let start = Infinity;
  for (let i = 0; i < s.sentMs.length; i++) start = Math.min(start, s.sentMs[i]!);
  if (!Number.isFinite(start)) return 0;
  const edges = [start, ...t.filter((v) => v >= start && v <= endMs), endMs];
  let best = 0;
  for (let i = 1; i < edges.length; i++) {
    const a = edges[i - 1]!;
    const b = edges[i]!;
    if (b > fromMs && b <= toMs && b - a > best) best = b - a;
  }
  return best;
}

function lostIn(s: ProbeStream, fromMs: number, toMs: number): number {
  let n = 0;
  for (let i = 0; i < s.sentMs.length; i++) {
    const t = s.sentMs[i]!;
    if (t >= fromMs && t < toMs && !Number.isFinite(s.recvMs[i] ?? NaN)) n++;
  }
  return n;
}

/**
 * A flow's longest pause in byte progress among the pauses that end after `fromMs`; the
 * silence from its last progress to the end of the window counts (a flow that stopped
 * moving for good must not look smooth).
 */
function stallAfter(progress: readonly number[], fromMs: number, endMs: number): number {
  let stall = progress.length > 0 && endMs > fromMs ? endMs - progress[progress.length - 1]! : 0;
  for (let i = 1; i < progress.length; i++) {
    const t = progress[i]!;
    if (t > fromMs && t - progress[i - 1]! > stall) stall = t - progress[i - 1]!;
  }
  return stall;
}

function groupReport(g: GroupDrillInput, steps: readonly ScenarioStep[], endMs: number): GroupDrillReport {
  if (g.masters.length !== steps.length + 1) throw new Error(`group ${g.group}: ${g.masters.length} masters for ${steps.length} steps (need one before and one after each)`);
  const t0 = steps.length > 0 ? steps[0]!.atMs : endMs;
  const out: GroupStepReport[] = steps.map((s, i) => {
    const to = i + 1 < steps.length ? steps[i + 1]!.atMs : endMs;
    let outage = 0;
    let family: string | null = null;
    let lost = 0;
    for (const p of g.probes) {
      const gap = longestGapIn(p, s.atMs, to, endMs);
      if (gap > outage) (outage = gap), (family = p.family);
      lost += lostIn(p, s.atMs, to);
    }
    const before = g.masters[i] ?? null;
    const after = g.masters[i + 1] ?? null;
    return {
      action: s.action, node: s.node, at_ms: Math.round((s.atMs - t0) * 10) / 10,
      master_before: before, master_after: after, takeover: before !== after && after !== null,
      outage_ms: outage, outage_family: family, probes_lost: lost,
    };
  });
  // Traffic resumed after the last step when its outage ended before the window did: a flow
  // survived if it was never reset and moved bytes after that.
  const last = steps.length > 0 ? steps[steps.length - 1]!.atMs : -Infinity;
  let resumedAt = last;
  let resumed = true;
  for (const p of g.probes) {
    const t = received(p).filter((v) => v > last);
    if (t.length === 0) resumed = false;
    else resumedAt = Math.max(resumedAt, t[0]!);
  }
  const perFlow = g.flows.map((f) => {
    const lastProgress = f.progressMs.length > 0 ? f.progressMs[f.progressMs.length - 1]! : -Infinity;
    const survived = !f.failed && resumed && lastProgress >= resumedAt;
    return { id: f.id, survived, stall_ms: survived ? stallAfter(f.progressMs, t0, endMs) : null };
  });
  const stalls = perFlow.filter((f) => f.stall_ms !== null).map((f) => f.stall_ms!);
  const survived = perFlow.filter((f) => f.survived).length;
  const p50 = stalls.length > 0 ? percentile(stalls, 50) : NaN;
  return {
    vrid: g.vrid,
    steps: out,
    flows: g.flows.length,
    survived,
    stall_ms_p50: p50,
    stall_ms_max: stalls.length > 0 ? Math.max(...stalls) : NaN,
    meets_targets: out.every((s) => s.outage_ms < DRILL_TARGETS.takeoverMs) && survived === g.flows.length
      && (g.flows.length === 0 || p50 <= DRILL_TARGETS.stallP50Ms),
    per_flow: perFlow,
  };
}

export function computeScenarioReport(input: ScenarioInput): ScenarioReport {
  const t0 = input.steps.length > 0 ? input.steps[0]!.atMs : input.endMs;
  const groups: Record<string, GroupDrillReport> = {};
  for (const g of input.groups) {
    if (Object.hasOwn(groups, g.group)) throw new Error(`group ${g.group} given twice`);
    groups[g.group] = groupReport(g, input.steps, input.endMs);
  }
  const checks = [...(input.checks ?? [])];
  return {
    scenario: input.scenario,
    nodes: [...input.nodes],
    steps: input.steps.map((s) => ({ action: s.action, node: s.node, at_ms: Math.round((s.atMs - t0) * 10) / 10 })),
    groups,
    checks,
    meets_targets: Object.values(groups).every((g) => g.meets_targets) && checks.every((c) => c.ok),
  };
}

const ms = (v: number): string => (Number.isNaN(v) ? 'n/a' : `${v.toFixed(1)} ms`);

export function formatScenarioReport(r: ScenarioReport): string {
  const lines = [`drill ${r.scenario} on ${r.nodes.join(', ')}`];
  for (const [key, g] of Object.entries(r.groups)) {
    lines.push(`  group ${key} (vrid ${g.vrid})`);
    for (const s of g.steps) {
      const who = s.takeover ? `master ${s.master_before ?? 'none'} -> ${s.master_after}` : `master stays ${s.master_after ?? 'none'}`;
      lines.push(`    +${(s.at_ms / 1000).toFixed(1)} s ${s.action} ${s.node}: ${who}; outage ${ms(s.outage_ms)}${s.outage_family ? ` (${s.outage_family})` : ''}, probes lost ${s.probes_lost}`);
    }
    lines.push(`    flows survived ${g.survived}/${g.flows}; TCP stall per flow p50 ${ms(g.stall_ms_p50)}, max ${ms(g.stall_ms_max)}`);
  }
  for (const c of r.checks) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  lines.push(`  targets (every outage <${DRILL_TARGETS.takeoverMs} ms, all flows, p50 <= ${DRILL_TARGETS.stallP50Ms} ms, checks)  ${r.meets_targets ? 'met' : 'NOT met'}`);
  return lines.join('\n');
}

/** JSON for `--json`: NaN (no surviving flow) becomes null. */
export function scenarioReportJson(r: ScenarioReport): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}
