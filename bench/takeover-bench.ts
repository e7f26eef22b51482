/**
 * `takeover/hafw`: repeated kill drills on the lab pair (strict stateful ruleset, state
 * sync on, VRRP at the lab's 10 ms adverts): SIGKILL the master while TCP flows and a UDP
 * probe every 2 ms run through the VIPs, then restart it and let it preempt back before
 * the next drill. Rows: the longest probe gap p50 and max, the TCP stall p50 (median over
 * drills), and the new master's own takeover phases (median). `takeover/keepalived`: the
 * same drills with keepalived + conntrackd on the same lab (bench/keepalived-pair.ts).
 * `takeover-false/…`: the backup's takeovers while the master is alive under full-rate
 * TCP, counted before the drills. Also runnable alone:
 *   node dist/bench/takeover-bench.js [--drills N] [--load-seconds S] [--pairs hafw,keepalived] [--datapath-nice N]
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Lab, LAB_DIR, STRICT_RULESET, strictRulesetConfig } from '../cluster-tests/lab.js';
import { runDrill } from '../cluster-tests/drill.js';
import { sh } from '../cluster-tests/exec.js';
import { FIREWALLS, NS } from '../cluster-tests/topology.js';
import { checkSystemTools } from '../cluster-tests/requirements.js';
import { ConntrackdPair } from './conntrackd-baseline.js';
import { KeepalivedPair, countBecameMaster } from './keepalived-pair.js';
import { iperf } from './datapath-throughput.js';
import { percentile, type DrillReport } from '../failover/index.js';
import { withRatio, type BenchResult } from './report.js';

export interface TakeoverBenchOptions {
  drills?: number;
  flows?: number;
  /** Seconds of full-rate TCP (iperf3) through the master while counting false takeovers (0: skip). */
  loadSeconds?: number;
  /** hafw's datapath.nice on both nodes (default: the node's default); for before/after runs. */
  datapathNice?: number;
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

/** What a pair's run gives: the drills, and the false takeovers counted under load before them. */
export interface TakeoverRun {
  reports: DrillReport[];
  /** The backup became master this many times while the master was alive and loaded. */
  falseTakeovers?: number;
  loadSeconds: number;
  loadGbps: number;
}

/**
 * Full-rate TCP through the master for `seconds` (iperf3, one stream, as tcp-bulk) and
 * the backup's entries into master state meanwhile, counted in its log.
 */
async function falseTakeovers(seconds: number, backupLog: () => Promise<number>): Promise<{ count: number; gbps: number }> {
  const before = await backupLog();
  const r = await iperf([], seconds);
  const count = (await backupLog()) - before;
  return { count, gbps: Number(r.end?.sum_received?.bits_per_second ?? 0) / 1e9 };
}

export async function runTakeoverDrills(opts: TakeoverBenchOptions = {}): Promise<TakeoverRun> {
  const drills = Math.max(1, Math.min(opts.drills ?? 10, 100));
  const say = opts.log ?? (() => undefined);
  const rules = await strictRulesetConfig();
  const lab = await Lab.up({ nodes: 2, extraConfig: () => rules, datapath: opts.datapathNice === undefined ? [] : [`nice: ${opts.datapathNice}`] });
  const reports: DrillReport[] = [];
  const loadSeconds = Math.max(0, Math.min(opts.loadSeconds ?? 10, 120));
  let load = { count: NaN, gbps: NaN };
  try {
    if (loadSeconds > 0) {
      await lab.waitRole('fwa', 'master', 20000);
      await lab.waitRole('fwb', 'backup', 20000);
      load = await falseTakeovers(loadSeconds, async () => countBecameMaster(await lab.nodeLog('fwb'), 'hafw'));
      say(`under ${loadSeconds} s of iperf3 (${load.gbps.toFixed(2)} Gbit/s) through fwa: fwb became master ${load.count} times`);
    }
    for (let i = 0; i < drills; i++) {
      // The preferred master (fwa) is killed each time; it comes back and preempts once in sync.
      await lab.waitRole('fwa', 'master', 20000);
      await lab.waitRole('fwb', 'backup', 20000);
      const { report, trace } = await runDrill(lab, { mode: 'kill', flows: opts.flows ?? 50, durationMs: 2500, triggerAfterMs: 700 });
      reports.push(report);
      say(`drill ${i + 1}/${drills}: ${drillLine(report)}; other gaps > 20 ms: ${otherGaps(trace.probeRecvMs, report.takeover_gap_from_ms - 1).join(' ')}`);
      await lab.startNode('fwa');
      await lab.waitReady('fwa');
    }
    await lab.waitRole('fwa', 'master', 20000).catch(() => undefined);
  } finally {
    await Lab.down();
  }
  return { reports, falseTakeovers: load.count, loadSeconds, loadGbps: load.gbps };
}

function drillLine(report: DrillReport): string {
  const p = report.takeover_phases;
  return `gap ${report.takeover_ms.toFixed(1)} ms, stall p50 ${report.stall_ms_p50.toFixed(1)} ms, survived ${report.survived}/${report.flows}`
    + (p ? `; failover gap ${p.failover_gap_ms}: last probe ${p.before_trigger_ms} before trigger, trigger->master ${p.trigger_to_master_ms} (advert ${p.advert_before_trigger_ms} before, late ${p.timer_late_ms}), advert +${p.advert_ms}, announce +${p.announce_ms}, vips +${p.vips_ms}, first probe +${p.first_probe_ms}` : '');
}

const TCP_LOOSE = 'net.netfilter.nf_conntrack_tcp_loose';
/** What the running keepalived bench started (keepalived, conntrackd), for the signal handler. */
let stopOnSignal: () => Promise<void> = async () => undefined;

/**
 * `takeover/keepalived`: the same drills and probe on the same lab with keepalived +
 * conntrackd instead of hafw (bench/keepalived-pair.ts): VRRPv3 at the lab's 10 ms adverts,
 * the kernel forwarding with the strict ruleset. Killed fwa comes back and preempts (after
 * its conntrackd asked fwb for a resync) before the next drill.
 */
export async function runKeepalivedDrills(opts: TakeoverBenchOptions = {}): Promise<TakeoverRun> {
  const drills = Math.max(1, Math.min(opts.drills ?? 10, 100));
  const say = opts.log ?? (() => undefined);
  const loadSeconds = Math.max(0, Math.min(opts.loadSeconds ?? 10, 120));
  await checkSystemTools(['keepalived', 'conntrackd', 'conntrack', 'nft', 'iperf3']);
  const lab = await Lab.up({ nodes: 2, startNodes: false, vrrp: true, sync: false });
  const keepalived = new KeepalivedPair(10);
  let ctd: ConntrackdPair | string = 'not started';
  // Stopped on SIGINT/SIGTERM too: processes left in the lab's namespaces would keep them alive.
  stopOnSignal = async () => {
    await keepalived.stop();
    if (typeof ctd !== 'string') await ctd.stop();
  };
  const reports: DrillReport[] = [];
  let load = { count: NaN, gbps: NaN };
  try {
    const file = path.join(LAB_DIR, 'strict-kernel.nft');
    await writeFile(file, STRICT_RULESET);
    // The pair only: FIREWALLS also lists the three-node lab's fwc, which this lab has not.
    for (const fw of FIREWALLS.slice(0, 2)) {
      await sh(['nft', '-f', file], { ns: NS.fw(fw.name) });
      await sh(['sysctl', '-q', '-w', `${TCP_LOOSE}=0`], { ns: NS.fw(fw.name) });
    }
    ctd = await ConntrackdPair.start();
    if (typeof ctd === 'string') throw new Error(ctd);
    await keepalived.startAll();
    await keepalived.waitSoleMaster('fwa', 20_000);
    await lab.waitTraffic();
    const fwbMasters = async (): Promise<number> => countBecameMaster(await keepalived.logLines('fwb'), 'keepalived');
    if (loadSeconds > 0) {
      load = await falseTakeovers(loadSeconds, fwbMasters);
      say(`keepalived: under ${loadSeconds} s of iperf3 (${load.gbps.toFixed(2)} Gbit/s) through fwa: fwb became master ${load.count} times`);
    }
    for (let i = 0; i < drills; i++) {
      await keepalived.waitSoleMaster('fwa', 20_000);
      const pair = {
        master: 'fwa',
        backup: 'fwb',
        trigger: () => keepalived.kill('fwa'),
        waitTakeover: (ms: number) => keepalived.waitMaster('fwb', ms),
      };
      const { report, trace } = await runDrill(lab, { mode: 'kill', flows: opts.flows ?? 50, durationMs: 2500, triggerAfterMs: 700, pair });
      reports.push(report);
      say(`keepalived drill ${i + 1}/${drills}: ${drillLine(report)}; other gaps > 20 ms: ${otherGaps(trace.probeRecvMs, report.takeover_gap_from_ms - 1).join(' ')}`);
      await keepalived.revive('fwa');
    }
    await keepalived.waitMaster('fwa', 20_000).catch(() => undefined);
  } finally {
    await keepalived.stop();
    if (typeof ctd !== 'string') await ctd.stop();
    stopOnSignal = async () => undefined;
    await Lab.down();
  }
  return { reports, falseTakeovers: load.count, loadSeconds, loadGbps: load.gbps };
}

export function takeoverRows(name: string, run: TakeoverRun): BenchResult[] {
  const reports = run.reports;
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
  if (run.loadSeconds > 0) {
    rows.push({ name: `takeover-false/${name}`, value: run.falseTakeovers ?? NaN, unit: 'takeovers', note: `backup became master while the master was alive, during ${run.loadSeconds} s of iperf3 through it (${run.loadGbps.toFixed(2)} Gbit/s); counted in the backup's log` });
  }
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

export async function runTakeoverBench(opts: TakeoverBenchOptions & { pairs?: readonly string[] } = {}): Promise<BenchResult[]> {
  const pairs = opts.pairs ?? ['hafw', 'keepalived'];
  const rows: BenchResult[] = [];
  if (pairs.includes('keepalived')) rows.push(...takeoverRows('keepalived', await runKeepalivedDrills(opts)));
  if (pairs.includes('hafw')) rows.push(...takeoverRows('hafw', await runTakeoverDrills(opts)));
  // hafw's rows against keepalived's of the same run (lower is better for every one).
  const find = (n: string): BenchResult | undefined => rows.find((r) => r.name === n);
  return rows.map((r) => {
    const [kind, who] = r.name.split('/');
    return who === 'hafw' && kind !== 'takeover-false' ? withRatio(r, find(`${kind}/keepalived`)) : r;
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { drills: { type: 'string', default: '10' }, 'load-seconds': { type: 'string', default: '10' }, pairs: { type: 'string', default: 'hafw,keepalived' }, 'datapath-nice': { type: 'string' } } });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stopOnSignal().then(() => Lab.down()).finally(() => process.exit(130)));
  const rows = await runTakeoverBench({ drills: Number(values.drills), loadSeconds: Number(values['load-seconds']), pairs: values.pairs.split(','), datapathNice: values['datapath-nice'] === undefined ? undefined : Number(values['datapath-nice']), log: (l) => console.error(l) });
  for (const row of rows) console.log(JSON.stringify(row));
}
