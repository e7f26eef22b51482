/**
 * `npm run bench [-- --json [--notes]] [-- --only NAME,...] [-- --seconds N] [-- --rounds N] [-- --conns N] [-- --drills N]`: runs the benchmarks
 * and prints a table (or JSON lines). Ratios compare with a baseline measured in the same
 * run, never with numbers from another machine or day.
 */
import { parseArgs } from 'node:util';
import { runDatapathBench, type ForwarderName, type ProbeName } from './datapath-throughput.js';
import { runRulesetApplyBench } from './ruleset-apply-bench.js';
import { runRulesetBench } from './ruleset-bench.js';
import { runSyncNodesBench } from './sync-nodes-bench.js';
import { runSyncBench } from './sync-bench.js';
import { runConntrackBench } from './conntrack-bench.js';
import { runNatBench } from './nat-bench.js';
import { runFragmentBench } from './fragment-bench.js';
import { runChecksumBench } from './checksum-bench.js';
import { runFlowtableBench } from './flowtable-bench.js';
import { runRulesetLimitsBench } from './ruleset-limits-bench.js';
import { runLocalBench } from './local-bench.js';
import { runTakeoverBench } from './takeover-bench.js';
import { runConnsBench } from './conns-bench.js';
import { runCpsSyncBench } from './cps-sync-bench.js';
import { runHandoffBench } from './handoff-bench.js';
import { printJsonLines, printTable, type BenchResult } from './report.js';

interface Bench {
  name: string;
  run(seconds: number, rounds: number): Promise<BenchResult[]>;
  /** Part of another bench: runs only when named in --only (the whole bench runs it already). */
  partOf?: string;
}

const datapath = (forwarders?: ForwarderName[], probes?: ProbeName[]) => (seconds: number, rounds: number) => runDatapathBench({ seconds, rounds, forwarders, probes });

const benches: Bench[] = [
  { name: 'datapath', run: datapath() },
  // Parts of the datapath bench, each runnable alone (every row still beside its twin).
  { name: 'kernel', run: datapath(['kernel', 'kernel-nft']), partOf: 'datapath' },
  { name: 'throughput', run: datapath(undefined, ['tcp-bulk', 'tcp-bulk-8', 'udp-64B']), partOf: 'datapath' },
  { name: 'latency', run: datapath(undefined, ['rtt']), partOf: 'datapath' },
  { name: 'cps', run: datapath(undefined, ['tcp-cps']), partOf: 'datapath' },
  { name: 'apply', run: () => runRulesetApplyBench() },
  { name: 'ruleset', run: () => runRulesetBench() },
  { name: 'sync', run: (seconds) => runSyncBench({ seconds }) },
  // sync-rate/hafw-2nodes and -3nodes, sync-lag-p50 / -p99 (slowest standby, by peer).
  { name: 'sync3', run: (seconds) => runSyncNodesBench({ seconds }) },
  // handoff-rate|latency-p50|p99/hafw against /direct: asymmetric packets handed to their owner (active/active).
  { name: 'handoff', run: (seconds) => runHandoffBench({ seconds: Math.min(seconds, 3) }) },
  { name: 'conntrack', run: () => runConntrackBench() },
  { name: 'nat', run: async () => runNatBench() },
  { name: 'fragments', run: async () => runFragmentBench() },
  { name: 'checksum', run: async () => runChecksumBench() },
  { name: 'flowtable', run: async () => runFlowtableBench() },
  { name: 'limits', run: () => runRulesetLimitsBench() },
  { name: 'local', run: (seconds) => runLocalBench({ seconds }) },
  // takeover/hafw and takeover/keepalived: --drills N kill drills each (default 10), and
  // false takeovers counted under 10 s of iperf3 through each master.
  { name: 'takeover', run: () => runTakeoverBench({ drills }) },
  // tcp-cps-sync/hafw and /kernel-nft (conntrackd): the pair with state sync on.
  { name: 'cps-sync', run: (seconds) => runCpsSyncBench({ seconds }) },
  // conns-1M/hafw: --conns N entries held (default 1M).
  { name: 'scale', run: (seconds) => runConnsBench({ seconds, count: conns }) },
];

const { values } = parseArgs({
  options: { json: { type: 'boolean' }, notes: { type: 'boolean' }, only: { type: 'string' }, seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '1' }, conns: { type: 'string', default: '1000000' }, drills: { type: 'string', default: '10' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log(`usage: npm run bench -- [--json [--notes]] [--only ${benches.map((b) => b.name).join(',')}] [--seconds N] [--rounds N] [--conns N] [--drills N]`);
  process.exit(0);
}
const only = values.only?.split(',');
const unknown = only?.filter((n) => !benches.some((b) => b.name === n)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown bench ${unknown.join(', ')}; the benches are ${benches.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const seconds = Math.min(Math.max(Number(values.seconds), 1), 60);
// Rounds of the datapath benches (each forwarder in turn per round; medians reported).
const rounds = Math.min(Math.max(Math.floor(Number(values.rounds)) || 1, 1), 9);
// Entries the scale bench holds (conns-1M/hafw; e.g. 100000 for a quick check).
const conns = Math.min(Math.max(Math.floor(Number(values.conns)) || 1_000_000, 1), 4_000_000);
// Kill drills per pair of the takeover bench.
const drills = Math.min(Math.max(Math.floor(Number(values.drills)) || 10, 1), 100);
const results: BenchResult[] = [];
for (const b of benches) {
  if (only ? !only.includes(b.name) || (b.partOf !== undefined && only.includes(b.partOf)) : b.partOf !== undefined) continue;
  if (!values.json) console.error(`running ${b.name}...`);
  results.push(...(await b.run(seconds, rounds)));
}
if (values.json) printJsonLines(results, values.notes === true);
else printTable(results);
