/**
 * `npm run bench [-- --json] [-- --only NAME,...] [-- --seconds N]`: runs the benchmarks
 * and prints a table (or JSON lines). Ratios compare with a baseline measured in the same
 * run, never with numbers from another machine or day.
 */
import { parseArgs } from 'node:util';
import { runDatapathBench } from './datapath-throughput.js';
import { runRulesetBench } from './ruleset-bench.js';
import { runSyncBench } from './sync-bench.js';
import { runConntrackBench } from './conntrack-bench.js';
import { runNatBench } from './nat-bench.js';
import { runFragmentBench } from './fragment-bench.js';
import { runRulesetLimitsBench } from './ruleset-limits-bench.js';
import { runLocalBench } from './local-bench.js';
import { printJsonLines, printTable, type BenchResult } from './report.js';

interface Bench {
  name: string;
  run(seconds: number): Promise<BenchResult[]>;
}

const benches: Bench[] = [{ name: 'datapath', run: (seconds) => runDatapathBench({ seconds }) }, { name: 'ruleset', run: () => runRulesetBench() }, { name: 'sync', run: (seconds) => runSyncBench({ seconds }) }, { name: 'conntrack', run: () => runConntrackBench() }, { name: 'nat', run: async () => runNatBench() }, { name: 'fragments', run: async () => runFragmentBench() }, { name: 'limits', run: () => runRulesetLimitsBench() }, { name: 'local', run: (seconds) => runLocalBench({ seconds }) }];

const { values } = parseArgs({
  options: { json: { type: 'boolean' }, only: { type: 'string' }, seconds: { type: 'string', default: '5' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log(`usage: npm run bench -- [--json] [--only ${benches.map((b) => b.name).join(',')}] [--seconds N]`);
  process.exit(0);
}
const only = values.only?.split(',');
const seconds = Math.min(Math.max(Number(values.seconds), 1), 60);
const results: BenchResult[] = [];
for (const b of benches) {
  if (only && !only.includes(b.name)) continue;
  if (!values.json) console.error(`running ${b.name}...`);
  results.push(...(await b.run(seconds)));
}
if (values.json) printJsonLines(results);
else printTable(results);
