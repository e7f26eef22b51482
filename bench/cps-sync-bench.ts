/**
 * `tcp-cps-sync/…` (issue 19): new TCP connections per second through the master of a pair
 * with state sync on, and how far behind the standby is at that rate. The probe is the
 * tcp-cps one (bench/netprobe.c: connect + 1-byte request/answer + close, 64 in parallel,
 * C epoll client) from hafw-client to hafw-server through the VIPs. Two pairs on the same lab:
 *   hafw        the lab pair (strict ruleset, VRRP, state sync); the lag is the sender's
 *               hafw_sync_lag_seconds histogram over the run (change on the master -> applied
 *               on the standby, as the sync bench reads it)
 *   kernel-nft  both firewall namespaces forwarding in the kernel with the strict ruleset and
 *               conntrack strict, the VIPs on fwa, conntrackd (FTFW) between them
 *               (bench/conntrackd-baseline.ts). conntrackd has no lag metric: the bench
 *               samples the master's kernel table (`conntrack -C`) and the standby's external
 *               cache (`conntrackd -s cache`) back to back during the run and after it, and a
 *               sample's lag is how long until the standby held as many new entries as the
 *               master had then (countLags). Its resolution is the sampling period.
 * Also runnable alone: node dist/bench/cps-sync-bench.js [--seconds S] [--pairs hafw,kernel-nft]
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Lab, STRICT_RULESET, strictRulesetConfig } from '../cluster-tests/lab.js';
import { sh, sleep } from '../cluster-tests/exec.js';
import { FIREWALLS, NS } from '../cluster-tests/topology.js';
import { checkSystemTools } from '../cluster-tests/requirements.js';
import { ctCount, parseHistogram, pollUntil, syncStats, type Histogram } from '../cluster-tests/sync-load.js';
import { buildTools, cpsProbe, CPS_PARALLEL, type Tools } from './datapath-throughput.js';
import { ConntrackdPair } from './conntrackd-baseline.js';
import { delta, histogramQuantile } from './sync-bench.js';
import { withRatio, type BenchResult } from './report.js';

export const CPS_SYNC_PAIRS = ['hafw', 'kernel-nft'] as const;
export type CpsSyncPair = (typeof CPS_SYNC_PAIRS)[number];

export interface CountSample {
  /** ms */
  t: number;
  /** New entries on the master since the start. */
  master: number;
  /** New replicas on the standby since the start. */
  standby: number;
}

/**
 * For every sample with entries the standby did not hold yet, the time until a later sample
 * showed the standby holding at least as many (ms); `behind` counts the samples whose count
 * the standby never reached. A sample the standby already matched has lag 0.
 */
export function countLags(samples: readonly CountSample[]): { lags: number[]; behind: number } {
  const lags: number[] = [];
  let behind = 0;
  let j = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (s.standby >= s.master) {
      lags.push(0);
      continue;
    }
    // The standby's count only grows while nothing expires, so the search resumes where the
    // previous one stopped.
    if (j < i) j = i;
    while (j < samples.length && samples[j]!.standby < s.master) j++;
    if (j === samples.length) behind++;
    else lags.push(samples[j]!.t - s.t);
  }
  return { lags, behind };
}

/** Nearest-rank percentile of `v` (NaN when empty). */
export function nearestRank(v: readonly number[], p: number): number {
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

async function lagHistogram(lab: Lab): Promise<Histogram> {
  const h = parseHistogram(await lab.hafw('fwa', ['metrics']), 'hafw_sync_lag_seconds');
  if (!h) throw new Error('fwa does not expose hafw_sync_lag_seconds');
  return h;
}

async function hafwPair(tools: Tools, seconds: number): Promise<BenchResult[]> {
  const rules = await strictRulesetConfig();
  const lab = await Lab.up({ nodes: 2, extraConfig: () => rules });
  try {
    await lab.waitRole('fwa', 'master', 20_000);
    await lab.waitRole('fwb', 'backup', 20_000);
    await pollUntil(() => syncStats(lab, 'fwb'), (s) => s.inSync, 10_000);
    const a0 = await ctCount(lab, 'fwa');
    const b0 = await ctCount(lab, 'fwb');
    const h0 = await lagHistogram(lab);
    const { cps, errors } = await cpsProbe(tools, seconds);
    const a1 = await ctCount(lab, 'fwa');
    const made = a1.local - a0.local;
    const all = await pollUntil(() => ctCount(lab, 'fwb'), (b) => b.replicated - b0.replicated >= made, 10_000, 200);
    await sleep(300); // the last ACKs carry the last lag samples
    const h = delta(await lagHistogram(lab), h0);
    const caught = all.value.replicated - b0.replicated;
    const note = `${made.toLocaleString('en-US')} more entries on the master after the run (created less expired), ${all.ok ? 'all' : `NOT all (${caught.toLocaleString('en-US')})`} on the standby; ${h.count} lag samples (sender clock, interpolated in histogram buckets)`;
    return [
      { name: 'tcp-cps-sync/hafw', value: cps, unit: 'conns/s', note: `lab pair, sync on; connect + 1-byte request/answer + close, ${CPS_PARALLEL} in parallel, C epoll client${errors ? `, ${errors} failed` : ''}` },
      { name: 'tcp-cps-sync-lag-p99/hafw', value: histogramQuantile(h, 0.99) * 1000, unit: 'ms', note: `standby's lag p99 at that rate (p50 ${(histogramQuantile(h, 0.5) * 1000).toFixed(2)} ms); ${note}; target < 5 ms` },
    ];
  } finally {
    await Lab.down();
  }
}

const TCP_LOOSE = 'net.netfilter.nf_conntrack_tcp_loose';

async function kernelPair(tools: Tools, seconds: number): Promise<BenchResult[]> {
  await Lab.up({ nodes: 2, startNodes: false, vrrp: false });
  let ctd: ConntrackdPair | string = 'not started';
  try {
    const file = path.join(tools.dir, 'strict.nft');
    await writeFile(file, STRICT_RULESET);
    for (const fw of FIREWALLS) {
      await sh(['nft', '-f', file], { ns: NS.fw(fw.name) });
      await sh(['sysctl', '-q', '-w', `${TCP_LOOSE}=0`], { ns: NS.fw(fw.name) });
    }
    ctd = await ConntrackdPair.start();
    if (typeof ctd === 'string') return [{ name: 'tcp-cps-sync/kernel-nft', value: NaN, unit: 'conns/s', note: `not measured: ${ctd}` }];
    const pair = ctd;
    await (await Lab.current())!.waitTraffic();
    const m0 = await pair.kernelCount('fwa');
    const s0 = await pair.externalCount('fwb');
    const samples: CountSample[] = [];
    const t0 = performance.now();
    let running = true;
    const sample = async (): Promise<CountSample> => {
      const [m, s] = await Promise.all([pair.kernelCount('fwa'), pair.externalCount('fwb')]);
      return { t: performance.now() - t0, master: m - m0, standby: s - s0 };
    };
    const sampler = (async () => {
      while (running) {
        samples.push(await sample());
        await sleep(20);
      }
    })();
    const { cps, errors } = await cpsProbe(tools, seconds).finally(() => (running = false));
    await sampler;
    // After the load: until the standby holds what the master held at the end (or 5 s).
    const end = samples.at(-1)?.master ?? 0;
    for (let i = 0; i < 100; i++) {
      const s = await sample();
      samples.push(s);
      if (s.standby >= Math.max(end, s.master)) break;
      await sleep(50);
    }
    const { lags, behind } = countLags(samples);
    const period = samples.length > 1 ? samples.at(-1)!.t / (samples.length - 1) : NaN;
    const last = samples.at(-1)!;
    return [
      { name: 'tcp-cps-sync/kernel-nft', value: cps, unit: 'conns/s', note: `kernel + strict nftables on fwa, conntrackd FTFW to fwb; the same probe${errors ? `, ${errors} failed` : ''}` },
      {
        name: 'tcp-cps-sync-lag-p99/kernel-nft',
        value: nearestRank(lags, 99),
        unit: 'ms',
        note: `conntrackd has no lag metric: master's table vs the standby's external cache sampled every ${period.toFixed(0)} ms (${samples.length} samples, p50 ${nearestRank(lags, 50).toFixed(0)} ms${behind ? `, ${behind} never caught up` : ''}); at the end ${last.standby.toLocaleString('en-US')} of ${last.master.toLocaleString('en-US')} new entries on the standby`,
      },
    ];
  } finally {
    if (typeof ctd !== 'string') await ctd.stop();
    await Lab.down();
  }
}

export async function runCpsSyncBench(opts: { seconds?: number; pairs?: readonly CpsSyncPair[] } = {}): Promise<BenchResult[]> {
  await checkSystemTools(['ip', 'cc', 'nft']);
  const seconds = Math.min(Math.max(opts.seconds ?? 5, 1), 60);
  const pairs = opts.pairs ?? CPS_SYNC_PAIRS;
  const tools = await buildTools();
  const rows: BenchResult[] = [];
  try {
    if (pairs.includes('kernel-nft')) rows.push(...(await kernelPair(tools, seconds)));
    if (pairs.includes('hafw')) rows.push(...(await hafwPair(tools, seconds)));
  } finally {
    await rm(tools.dir, { recursive: true, force: true });
  }
  const base = rows.find((r) => r.name === 'tcp-cps-sync/kernel-nft');
  return rows.map((r) => (r.name === 'tcp-cps-sync/hafw' && base && Number.isFinite(base.value) ? withRatio(r, base) : r));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, pairs: { type: 'string', default: CPS_SYNC_PAIRS.join(',') } } });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void Lab.down().finally(() => process.exit(130)));
  const pairs = values.pairs.split(',').filter((p): p is CpsSyncPair => (CPS_SYNC_PAIRS as readonly string[]).includes(p));
  for (const row of await runCpsSyncBench({ seconds: Number(values.seconds), pairs })) console.log(JSON.stringify(row));
}
