/**
 * `conns-1M/hafw`: a node holding a million connections (issue 19). The lab pair (strict
 * ruleset, state sync on) runs with room for them; the bench injector in the master's
 * datapath thread (bench/sync-injector.ts, preloaded as in the sync bench) creates N
 * entries in the real table the way a first packet does (track + commit, replicated to the
 * standby), without N sockets: 198.18.0.0/15 + i -> 198.51.100.100:9, UDP, one source port
 * per 2^17 entries, unreplied with the lab's 600 s timeout so none expires during the run.
 * Then:
 *   conns-1M/hafw           bulk TCP (iperf3, 1 stream) through the master while they are
 *                           held, against the same probe with the table empty (ratio)
 *   conns-1M-rss/hafw       the master's resident memory with them held (VmRSS of the node
 *                           process, all its threads)
 *   conns-1M-bytes/hafw     (RSS held - RSS empty) / N
 * Also runnable alone: node dist/bench/conns-bench.js [--count N] [--seconds S]
 */
import { readFile, mkdir, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Lab, strictRulesetConfig } from '../cluster-tests/lab.js';
import { ctCount, loadConntrackConfig, pollUntil, syncStats } from '../cluster-tests/sync-load.js';
import { iperf } from './datapath-throughput.js';
import { INJECT_DIR, request, status, type InjectStatus } from './sync-bench.js';
import { withRatio, type BenchResult } from './report.js';

/** The injector's address range: 2^17 entries per source port. */
const PER_SPORT = 1 << 17;

/** VmRSS of a /proc/<pid>/status text, in bytes. */
export function parseVmRss(procStatus: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(procStatus);
  if (!m) throw new Error('no VmRSS line in /proc/<pid>/status');
  return Number(m[1]) * 1024;
}

async function rss(pid: number): Promise<number> {
  return parseVmRss(await readFile(`/proc/${pid}/status`, 'utf8'));
}

/** The count in a row's name: 1M, 100k, 1234. */
export function countLabel(n: number): string {
  if (n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}

export interface ConnsBenchOptions {
  count?: number;
  seconds?: number;
  log?: (line: string) => void;
}

export async function runConnsBench(opts: ConnsBenchOptions = {}): Promise<BenchResult[]> {
  const count = Math.max(1, Math.min(Math.floor(opts.count ?? 1_000_000), 4_000_000));
  const seconds = Math.min(Math.max(opts.seconds ?? 5, 1), 60);
  const say = opts.log ?? (() => undefined);
  await rm(INJECT_DIR, { recursive: true, force: true });
  await mkdir(INJECT_DIR, { recursive: true });
  const nodeArgs = process.env.HAFW_NODE_ARGS;
  process.env.HAFW_NODE_ARGS = [nodeArgs ?? '', '--import', fileURLToPath(new URL('./sync-inject-preload.js', import.meta.url))].join(' ').trim();
  process.env.HAFW_SYNC_BENCH_INJECT = INJECT_DIR;
  const rules = await strictRulesetConfig();
  // Room for the entries plus the lab's own (probes, reachability pings).
  const lab = await Lab.up({ nodes: 2, extraConfig: () => rules + loadConntrackConfig(count + 65536) });
  try {
    await lab.waitRole('fwa', 'master', 20_000);
    await lab.waitRole('fwb', 'backup', 20_000);
    await pollUntil(() => syncStats(lab, 'fwb'), (s) => s.inSync, 10_000);
    const pidA = lab.node('fwa').pid;
    const pidB = lab.node('fwb').pid;
    const bulk = async (): Promise<{ gbps: number; retr: number }> => {
      const r = await iperf([], seconds);
      return { gbps: Number(r.end?.sum_received?.bits_per_second ?? 0) / 1e9, retr: Number(r.end?.sum_sent?.retransmits ?? 0) };
    };
    const empty = await bulk();
    const rssEmptyA = await rss(pidA);
    const rssEmptyB = await rss(pidB);
    say(`empty table: ${empty.gbps.toFixed(2)} Gbit/s, RSS master ${(rssEmptyA / 2 ** 20).toFixed(0)} MiB, standby ${(rssEmptyB / 2 ** 20).toFixed(0)} MiB`);
    const c0 = await ctCount(lab, 'fwa');
    const t0 = performance.now();
    let injected = 0;
    for (let sport = 20000, left = count; left > 0; sport++, left -= PER_SPORT) {
      const n = Math.min(PER_SPORT, left);
      const id = await request(lab, 'fwa', { count: n, rate: 0, sport });
      const st = await status<InjectStatus>(lab, 'fwa', id, 120_000);
      injected += st.injected;
      if (st.refused > 0) throw new Error(`the master refused ${st.refused} of ${n} entries (table full?)`);
    }
    const injectS = (performance.now() - t0) / 1000;
    const held = await ctCount(lab, 'fwa');
    const onStandby = await pollUntil(() => ctCount(lab, 'fwb'), (c) => c.replicated >= injected, 120_000, 500);
    say(`injected ${injected} in ${injectS.toFixed(1)} s; master holds ${held.total}, standby ${onStandby.value.total}`);
    const full = await bulk();
    const rssA = await rss(pidA);
    const rssB = await rss(pidB);
    const after = await ctCount(lab, 'fwa');
    const label = countLabel(count);
    const mib = (b: number): number => b / 2 ** 20;
    const emptyRow: BenchResult = { name: `conns-0/hafw`, value: empty.gbps, unit: 'Gbit/s', note: `bulk TCP through the master, table empty (${c0.total} entries), iperf3 ${seconds} s, ${empty.retr} retransmits` };
    const heldRow: BenchResult = {
      name: `conns-${label}/hafw`,
      value: full.gbps,
      unit: 'Gbit/s',
      note: `bulk TCP through the master holding ${after.total.toLocaleString('en-US')} entries (${injected.toLocaleString('en-US')} injected by the bench injector, unreplied UDP; ${onStandby.value.replicated.toLocaleString('en-US')} replicated on the standby${onStandby.ok ? '' : ', NOT all'}), iperf3 ${seconds} s, ${full.retr} retransmits; target >= 0.9x empty`,
    };
    return [
      emptyRow,
      withRatio(heldRow, emptyRow),
      { name: `conns-${label}-rss/hafw`, value: mib(rssA), unit: 'MiB', note: `VmRSS of the master node process (empty table: ${mib(rssEmptyA).toFixed(0)} MiB); standby ${mib(rssB).toFixed(0)} MiB (empty ${mib(rssEmptyB).toFixed(0)}); target <= 300 MB` },
      { name: `conns-${label}-bytes/hafw`, value: (rssA - rssEmptyA) / Math.max(1, after.total - c0.total), unit: 'bytes/entry', note: `master's RSS growth / entries added; standby ${((rssB - rssEmptyB) / Math.max(1, injected)).toFixed(0)} bytes/replica` },
    ];
  } finally {
    await Lab.down();
    await rm(INJECT_DIR, { recursive: true, force: true });
    if (nodeArgs === undefined) delete process.env.HAFW_NODE_ARGS;
    else process.env.HAFW_NODE_ARGS = nodeArgs;
    delete process.env.HAFW_SYNC_BENCH_INJECT;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { count: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '5' } } });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void Lab.down().finally(() => process.exit(130)));
  for (const row of await runConnsBench({ count: Number(values.count), seconds: Number(values.seconds), log: (l) => console.error(l) })) console.log(JSON.stringify(row));
}
