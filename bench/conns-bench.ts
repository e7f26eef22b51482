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
 * The RSS rows explain themselves: the nodes also preload bench/mem-probe-preload.ts, which
 * makes every thread report its V8 heap and ArrayBuffers (after a full GC) and the datapath
 * its conntrack table's bytes, so each note splits the RSS into the table, the JS heaps, each
 * thread's other ArrayBuffers (the sync worker's are its state mirror) and the rest (code,
 * stacks, malloc). HAFW_MEM_PROBE_DUMP=1 logs every figure as JSON; HAFW_MEM_PROBE_SNAP=<dir>
 * keeps heap snapshots of the master's threads with the entries held (profiling only: writing
 * them inflates the master's RSS).
 * Also runnable alone: node dist/bench/conns-bench.js [--count N] [--seconds S]
 */
import { cp, readFile, readdir, mkdir, rm, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Lab, strictRulesetConfig } from '../cluster-tests/lab.js';
import { ctCount, loadConntrackConfig, pollUntil, syncStats } from '../cluster-tests/sync-load.js';
import { iperf } from './datapath-throughput.js';
import { INJECT_DIR, request, status, type InjectStatus } from './sync-bench.js';
import { withRatio, type BenchResult } from './report.js';
import type { ThreadMemory } from './mem-probe-preload.js';

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

/** Where a node's resident memory is: the parts the bench rows explain it with (bytes). */
export interface MemoryBreakdown {
  rss: number;
  /** Anonymous (heap, ArrayBuffers, stacks) and file-backed (node's code, libraries) resident memory. */
  anon: number;
  file: number;
  /** The datapath's conntrack arrays written so far (allocated: tableAlloc). */
  table: number;
  tableAlloc: number;
  /** The V8 heaps of all threads (resident). */
  heaps: number;
  /** ArrayBuffers other than the table, per thread (allocated: an upper bound of their resident part). */
  buffers: Record<string, number>;
  /** rss - table - heaps - buffers: code, malloc, stacks, V8 outside its heap, unwritten buffer pages. */
  rest: number;
  threads: ThreadMemory[];
}

/** Fields of /proc/<pid>/smaps_rollup in bytes (Rss, Anonymous, ...). */
export function parseSmapsRollup(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(\w+):\s+(\d+) kB$/gm)) out[m[1]!] = Number(m[2]) * 1024;
  return out;
}

/**
 * Splits the RSS of a node started with bench/mem-probe-preload.js: each of its threads
 * reports its isolate's heap and ArrayBuffers, the datapath its table.
 */
export function breakdown(rollup: Record<string, number>, threads: ThreadMemory[]): MemoryBreakdown {
  const rss = rollup.Rss ?? 0;
  const anon = rollup.Anonymous ?? 0;
  const dp = threads.find((t) => t.tableBytes !== undefined);
  const table = dp?.tableTouched ?? 0;
  const tableAlloc = dp?.tableBytes ?? 0;
  let heaps = 0;
  const buffers: Record<string, number> = {};
  for (const t of threads) {
    heaps += t.heapPhysical;
    const own = t.arrayBuffers - (t === dp ? tableAlloc : 0);
    buffers[t.thread] = (buffers[t.thread] ?? 0) + Math.max(0, own);
  }
  const bufSum = Object.values(buffers).reduce((a, b) => a + b, 0);
  return { rss, anon, file: rss - anon, table, tableAlloc, heaps, buffers, rest: rss - table - heaps - bufSum, threads };
}

const MEM_DIR = path.join(INJECT_DIR, '..', 'mem-probe');
let memReq = 0;

/** Asks every thread of node `pid` for its figures (bench/mem-probe-preload.ts) and reads smaps_rollup. */
export async function memoryOf(pid: number, what = 'gc'): Promise<MemoryBreakdown> {
  const id = `${++memReq} ${what}`;
  await writeFile(path.join(MEM_DIR, `${pid}.req.tmp`), id);
  await rename(path.join(MEM_DIR, `${pid}.req.tmp`), path.join(MEM_DIR, `${pid}.req`));
  let threads: ThreadMemory[] = [];
  // Every thread answers within a poll (100 ms) and its GC; stop when no more come.
  for (let i = 0, seen = -1; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const files = (await readdir(MEM_DIR)).filter((f) => f.startsWith(`${pid}.`) && f.endsWith('.json'));
    const got = await Promise.all(files.map((f) => readFile(path.join(MEM_DIR, f), 'utf8').then((x) => JSON.parse(x) as ThreadMemory & { id: string }).catch(() => undefined)));
    threads = got.filter((t): t is ThreadMemory & { id: string } => t?.id === id);
    if (threads.length >= 3 && threads.length === seen) break;
    seen = threads.length;
  }
  const rollup = parseSmapsRollup(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return breakdown(rollup, threads);
}

/** One line: "RSS 268 MiB = table 102 + heaps 40 + buffers (sync 0.2, datapath 10) + rest 115 (code 45)". */
export function describe(b: MemoryBreakdown): string {
  const m = (x: number): string => (x / 2 ** 20).toFixed(x < 2 ** 20 * 10 ? 1 : 0);
  const bufs = Object.entries(b.buffers).map(([k, v]) => `${k} ${m(v)}`).join(', ');
  return `RSS ${m(b.rss)} MiB = conntrack table ${m(b.table)} (of ${m(b.tableAlloc)} allocated) + JS heaps ${m(b.heaps)} + ArrayBuffers (${bufs}) + rest ${m(b.rest)} (file-backed ${m(b.file)})`;
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
  await rm(MEM_DIR, { recursive: true, force: true });
  await mkdir(MEM_DIR, { recursive: true });
  const nodeArgs = process.env.HAFW_NODE_ARGS;
  const preload = (f: string): string[] => ['--import', fileURLToPath(new URL(f, import.meta.url))];
  process.env.HAFW_NODE_ARGS = [nodeArgs ?? '', ...preload('./sync-inject-preload.js'), ...preload('./mem-probe-preload.js')].join(' ').trim();
  process.env.HAFW_SYNC_BENCH_INJECT = INJECT_DIR;
  process.env.HAFW_MEM_PROBE = MEM_DIR;
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
    const memEmptyA = await memoryOf(pidA);
    const memEmptyB = await memoryOf(pidB);
    say(`empty table: ${empty.gbps.toFixed(2)} Gbit/s, RSS master ${(rssEmptyA / 2 ** 20).toFixed(0)} MiB, standby ${(rssEmptyB / 2 ** 20).toFixed(0)} MiB`);
    say(`  master:  ${describe(memEmptyA)}`);
    say(`  standby: ${describe(memEmptyB)}`);
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
    // HAFW_MEM_PROBE_SNAP=<dir>: heap snapshots of the master's threads are kept there (profiling).
    const snapDir = process.env.HAFW_MEM_PROBE_SNAP;
    const memA = await memoryOf(pidA, snapDir ? 'gc snap' : 'gc');
    if (snapDir) await cp(MEM_DIR, snapDir, { recursive: true });
    const memB = await memoryOf(pidB);
    say(`held: master ${describe(memA)}`);
    say(`      standby ${describe(memB)}`);
    if (process.env.HAFW_MEM_PROBE_DUMP) say(JSON.stringify({ memEmptyA, memEmptyB, memA, memB }));
    const after = await ctCount(lab, 'fwa');
    const label = countLabel(count);
    const added = Math.max(1, after.total - c0.total);
    const perEntry = (bytes: number, n = added): string => `${(bytes / Math.max(1, n)).toFixed(0)}`;
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
      { name: `conns-${label}-rss/hafw`, value: mib(rssA), unit: 'MiB', note: `VmRSS of the master node process (empty table: ${mib(rssEmptyA).toFixed(0)} MiB); standby ${mib(rssB).toFixed(0)} MiB (empty ${mib(rssEmptyB).toFixed(0)}); target <= 300 MB. Master: ${describe(memA)}. Standby: ${describe(memB)}` },
      { name: `conns-${label}-bytes/hafw`, value: (rssA - rssEmptyA) / added, unit: 'bytes/entry', note: `master's RSS growth / entries added: conntrack table ${perEntry(memA.table - memEmptyA.table)}, rest ${perEntry(memA.rss - memA.table - (memEmptyA.rss - memEmptyA.table))} (sync worker's ArrayBuffers ${perEntry((memA.buffers.sync ?? 0) - (memEmptyA.buffers.sync ?? 0))}, JS heaps ${perEntry(memA.heaps - memEmptyA.heaps)}); standby ${((rssB - rssEmptyB) / Math.max(1, injected)).toFixed(0)} bytes/replica (table ${perEntry(memB.table - memEmptyB.table, injected)})` },
    ];
  } finally {
    await Lab.down();
    await rm(INJECT_DIR, { recursive: true, force: true });
    await rm(MEM_DIR, { recursive: true, force: true });
    delete process.env.HAFW_MEM_PROBE;
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
