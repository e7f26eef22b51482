/**
 * `takeover/hafw`: repeated kill drills on the lab pair (strict stateful ruleset, state
 * sync on, VRRP at the lab's 10 ms adverts): SIGKILL the master while TCP flows and a UDP
 * probe every 2 ms run through the VIPs, then restart it and let it preempt back before
 * the next drill. Rows: the longest probe gap p50 and max, the TCP stall p50 (median over
 * drills), and the new master's own takeover phases (median). Also runnable alone:
 *   node dist/bench/takeover-bench.js [--drills N] [--json]
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { Lab, strictRulesetConfig } from '../cluster-tests/lab.js';
import { runDrill } from '../cluster-tests/drill.js';
import { percentile, type DrillReport } from '../failover/index.js';
import type { BenchResult } from './report.js';

export interface TakeoverBenchOptions {
  drills?: number;
  flows?: number;
  log?: (line: string) => void;
}

const median = (v: number[]): number => percentile(v, 50);

/** Gaps over 20 ms in probe reception, as "length@start" relative to `t0` (ms): other stalls than the takeover. */
function otherGaps(recv: readonly (number | null)[], t0: number): string[] {
  const t = recv.filter((v): v is number => v !== null).sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 1; i < t.length; i++) if (t[i]! - t[i - 1]! > 20) out.push(`${(t[i]! - t[i - 1]!).toFixed(0)}@${(t[i - 1]! - t0).toFixed(0)}`);
  return out;
}

export async function runTakeoverDrills(opts: TakeoverBenchOptions = {}): Promise<DrillReport[]> {
  const drills = Math.max(1, Math.min(opts.drills ?? 10, 100));
  const say = opts.log ?? (() => undefined);
  const rules = await strictRulesetConfig();
  const lab = await Lab.up({ nodes: 2, extraConfig: () => rules });
  const reports: DrillReport[] = [];
  try {
    for (let i = 0; i < drills; i++) {
      // The preferred master (fwa) is killed each time; it comes back and preempts once in sync.
      await lab.waitRole('fwa', 'master', 20000);
      await lab.waitRole('fwb', 'backup', 20000);
      const { report, trace } = await runDrill(lab, { mode: 'kill', flows: opts.flows ?? 50, durationMs: 2500, triggerAfterMs: 700 });
      reports.push(report);
      const p = report.takeover_phases;
      say(`drill ${i + 1}/${drills}: gap ${report.takeover_ms.toFixed(1)} ms, stall p50 ${report.stall_ms_p50.toFixed(1)} ms, survived ${report.survived}/${report.flows}`
        + (p ? `; failover gap ${p.failover_gap_ms}: last probe ${p.before_trigger_ms} before trigger, trigger->master ${p.trigger_to_master_ms} (advert ${p.advert_before_trigger_ms} before, late ${p.timer_late_ms}), advert +${p.advert_ms}, announce +${p.announce_ms}, vips +${p.vips_ms}, first probe +${p.first_probe_ms}` : '')
        + `; other gaps > 20 ms: ${otherGaps(trace.probeRecvMs, report.takeover_gap_from_ms - 1).join(' ')}`);
      await lab.startNode('fwa');
      await lab.waitReady('fwa');
    }
    await lab.waitRole('fwa', 'master', 20000).catch(() => undefined);
  } finally {
    await Lab.down();
  }
  return reports;
}

export function takeoverRows(name: string, reports: readonly DrillReport[]): BenchResult[] {
  const gaps = reports.map((r) => r.takeover_ms);
  const phase = (k: 'failover_gap_ms' | 'timer_late_ms' | 'announce_ms' | 'vips_ms' | 'first_probe_ms'): number =>
    median(reports.map((r) => r.takeover_phases?.[k]).filter((v): v is number => typeof v === 'number'));
  const lost = reports.reduce((s, r) => s + r.flows - r.survived, 0);
  const n = `${reports.length} kill drills`;
  const rows: BenchResult[] = [
    { name: `takeover/${name}`, value: median(gaps), unit: 'ms p50', note: `longest probe gap, ${n}; target <= 3 x advert + skew + 5 ms (36 ms at 10 ms)` },
    { name: `takeover-max/${name}`, value: Math.max(...gaps), unit: 'ms', note: n },
    { name: `takeover-stall-p50/${name}`, value: median(reports.map((r) => r.stall_ms_p50).filter((v) => !Number.isNaN(v))), unit: 'ms', note: `median of per-drill TCP stall p50; flows lost in all drills: ${lost}` },
  ];
  if (reports.some((r) => r.takeover_phases)) {
    rows.push(
      { name: `takeover-failover-gap/${name}`, value: phase('failover_gap_ms'), unit: 'ms p50', note: 'last probe before the kill -> first after the announcement' },
      { name: `takeover-timer-late/${name}`, value: phase('timer_late_ms'), unit: 'ms p50', note: 'Master_Down_Timer due -> ran' },
      { name: `takeover-announce/${name}`, value: phase('announce_ms'), unit: 'ms p50', note: 'timer ran -> first GARP/NA out' },
      { name: `takeover-vips/${name}`, value: phase('vips_ms'), unit: 'ms p50', note: 'timer ran -> VIPs on the interfaces' },
      { name: `takeover-first-probe/${name}`, value: phase('first_probe_ms'), unit: 'ms p50', note: 'first GARP/NA -> first probe answered' },
    );
  }
  return rows;
}

export async function runTakeoverBench(opts: TakeoverBenchOptions = {}): Promise<BenchResult[]> {
  return takeoverRows('hafw', await runTakeoverDrills(opts));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { drills: { type: 'string', default: '10' }, json: { type: 'boolean' } } });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void Lab.down().finally(() => process.exit(130)));
  const reports = await runTakeoverDrills({ drills: Number(values.drills), log: (l) => console.error(l) });
  if (values.json) for (const r of reports) console.log(JSON.stringify({ takeover_ms: r.takeover_ms, stall_ms_p50: r.stall_ms_p50, survived: r.survived, flows: r.flows, phases: r.takeover_phases }));
  for (const row of takeoverRows('hafw', reports)) console.log(JSON.stringify(row));
}
