/**
 * The ruleset engine's numbers, each beside its baseline from the same run:
 *
 *   ruleset-load     10,000 rules in 1,000 chains: `hafw ruleset check FILE` as a child
 *                    process (process start included; also the child's own cold
 *                    parse + validate + compile time), the library alone (warm, in this
 *                    process) and `node -e 0` (the floor under any node command), against
 *                    `nft -f FILE` into a fresh network namespace. Target: hafw <= 0.25x nft.
 *   ruleset-tx       adding one rule to rulesets of 10k, 50k and 100k rules spread over
 *                    chains (10 a chain): time per transaction must stay flat.
 *   classify         per-packet cost of 1k / 10k linear rules vs one rule over a named
 *                    set of 1k / 10k / 100k addresses (the set must stay flat).
 *   set-update       element adds per second, 1,000 per transaction and one per transaction.
 *
 * Every loop is bounded in count and time; namespaces are deleted in finally.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HAFW_BIN } from '../cluster-tests/lab.js';
import { sh, shQuiet } from '../cluster-tests/exec.js';
import { checkRuleset, ClassifyContext, Hook, NO_LIMITS, RulesetEngine } from '../node/ruleset/index.js';
import { buildTcp, parseBuilt } from '../node/packet/build.js';
import { chainsRuleset, ipOf, linearRuleset, setRuleset } from './ruleset-gen.js';
import { withRatio, type BenchResult } from './report.js';

const NFT_NS = 'hafw-nftbench';
const LOAD_RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Wall time of a child process, start to exit, in ms; throws when it fails. */
function timeProcess(argv: string[], env?: NodeJS.ProcessEnv): number {
  return runProcess(argv, env).ms;
}

function runProcess(argv: string[], env?: NodeJS.ProcessEnv): { ms: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).slice(0, 500)}`);
  return { ms, stdout: r.stdout };
}

async function loadBench(dir: string): Promise<BenchResult[]> {
  const text = chainsRuleset(1000, 10);
  const file = path.join(dir, 'chains-1000x10.nft');
  await writeFile(file, text);
  const out: BenchResult[] = [];

  // nft: a fresh namespace per run, so every run loads into an empty kernel ruleset.
  let nft: BenchResult | undefined;
  const nftRuns: number[] = [];
  try {
    for (let i = 0; i < LOAD_RUNS; i++) {
      await shQuiet(['ip', 'netns', 'del', NFT_NS]);
      await sh(['ip', 'netns', 'add', NFT_NS]);
      nftRuns.push(timeProcess(['ip', 'netns', 'exec', NFT_NS, 'nft', '-f', file]));
      const rules = (await sh(['ip', 'netns', 'exec', NFT_NS, 'nft', 'list', 'ruleset'])).split('\n').filter((l) => /accept|jump/.test(l)).length;
      if (rules !== 11000) throw new Error(`nft loaded ${rules} rules, expected 11000`);
    }
    nft = { name: 'ruleset-load/nft', value: median(nftRuns), unit: 'ms', note: `nft -f, 11,000 rules / 1,001 chains, fresh netns, median of ${LOAD_RUNS}` };
    out.push(nft);
  } catch (err) {
    out.push({ name: 'ruleset-load/nft', value: 0, unit: 'ms', note: `not measured: ${(err as Error).message.split('\n')[0]}` });
  } finally {
    await shQuiet(['ip', 'netns', 'del', NFT_NS]);
  }

  const cliRuns: number[] = [];
  const childRuns: number[] = [];
  for (let i = 0; i < LOAD_RUNS; i++) {
    const r = runProcess([process.execPath, HAFW_BIN, 'ruleset', 'check', file, '--json']);
    const j = JSON.parse(r.stdout) as { ok: boolean; rules: number; ms: number };
    if (!j.ok || j.rules !== 11000) throw new Error(`hafw ruleset check: ${r.stdout.slice(0, 300)}`);
    cliRuns.push(r.ms);
    childRuns.push(j.ms);
  }
  out.push(withRatio({ name: 'ruleset-load/hafw', value: median(cliRuns), unit: 'ms', note: `hafw ruleset check (process start included), median of ${LOAD_RUNS}; target <= 0.25x` }, nft));
  out.push(withRatio({ name: 'ruleset-load/hafw-check-cold', value: median(childRuns), unit: 'ms', note: 'inside those processes: parse + validate + compile as the child timed it (cold code, first run)' }, nft));

  // The floor under any Node.js command, same run: start and exit with nothing to do.
  const floorRuns: number[] = [];
  for (let i = 0; i < LOAD_RUNS; i++) floorRuns.push(timeProcess([process.execPath, '-e', '0']));
  const extraCa = process.env.NODE_EXTRA_CA_CERTS !== undefined;
  out.push(withRatio({ name: 'ruleset-load/node-floor', value: median(floorRuns), unit: 'ms', note: `node -e 0, median of ${LOAD_RUNS}${extraCa ? ' (NODE_EXTRA_CA_CERTS is set: node reads that file at every start)' : ''}` }, nft));
  if (extraCa) {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const bare: number[] = [];
    for (let i = 0; i < LOAD_RUNS; i++) bare.push(timeProcess([process.execPath, '-e', '0'], env));
    out.push(withRatio({ name: 'ruleset-load/node-floor-without-extra-ca', value: median(bare), unit: 'ms', note: 'node -e 0 with NODE_EXTRA_CA_CERTS unset: what this host adds to every node start' }, nft));
    // The check as it runs on a host without that setting (most operators' machines).
    const bareCheck: number[] = [];
    for (let i = 0; i < LOAD_RUNS; i++) bareCheck.push(timeProcess([process.execPath, HAFW_BIN, 'ruleset', 'check', file, '--json'], env));
    out.push(withRatio({ name: 'ruleset-load/hafw-without-extra-ca', value: median(bareCheck), unit: 'ms', note: 'hafw ruleset check with NODE_EXTRA_CA_CERTS unset' }, nft));
  }

  const libRuns: number[] = [];
  for (let i = 0; i < LOAD_RUNS; i++) {
    const r = checkRuleset(text, file);
    if (!r.ok || r.rules !== 11000) throw new Error(`check failed: ${JSON.stringify(r.errors.slice(0, 3))}`);
    libRuns.push(r.ms);
  }
  out.push(withRatio({ name: 'ruleset-load/hafw-library', value: median(libRuns), unit: 'ms', note: 'checkRuleset in process: parse + validate + compile' }, nft));
  return out;
}

/** Per-transaction time of adding one rule to a ruleset of `rules` rules in chains of 10. */
function txBench(rules: number): BenchResult {
  const chains = rules / 10;
  const engine = new RulesetEngine({ limits: NO_LIMITS });
  engine.load(chainsRuleset(chains, 10), 'bench.nft');
  const N = 300;
  const times: number[] = [];
  let x = 12345;
  const deadline = performance.now() + 3000;
  for (let i = 0; i < N && performance.now() < deadline; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const c = x % chains;
    const t0 = performance.now();
    engine.transaction(`add rule inet bench c${c} ip saddr 203.0.113.${i % 250} tcp dport ${1 + (i % 1000)} accept`);
    times.push(performance.now() - t0);
  }
  return { name: `ruleset-tx/${rules / 1000}k`, value: median(times) * 1000, unit: 'us/tx', note: `add one rule to ${rules.toLocaleString('en-US')} rules in ${chains.toLocaleString('en-US')} chains; median of ${times.length}` };
}

/** ns per classified packet for the compiled ruleset of `text`, packets from `sources`. */
function classifyBench(name: string, text: string, sources: string[], note: string): BenchResult {
  const engine = new RulesetEngine({ limits: NO_LIMITS });
  engine.load(text, 'bench.nft');
  const ctx = new ClassifyContext();
  const pkts = sources.map((src) => parseBuilt(buildTcp({ src, dst: '192.0.2.10', sport: 40000, dport: 443, flags: 'S' })));
  const compiled = engine.compiled;
  let sink = 0;
  // Warm-up (bounded), so the optimising compiler has seen the closures before timing.
  for (let i = 0, w0 = performance.now(); i < 200_000 && performance.now() - w0 < 50; i++) {
    ctx.pkt = pkts[i % pkts.length]!;
    sink += compiled.classify(ctx, Hook.Forward);
  }
  let n = 0;
  const t0 = performance.now();
  let elapsed = 0;
  // Bounded: at most ~250 ms or 2M packets.
  while (elapsed < 250 && n < 2_000_000) {
    for (let i = 0; i < 64; i++) {
      ctx.pkt = pkts[(n + i) % pkts.length]!;
      sink += compiled.classify(ctx, Hook.Forward);
    }
    n += 64;
    elapsed = performance.now() - t0;
  }
  if (sink < 0) throw new Error('unreachable');
  return { name, value: (elapsed * 1e6) / n, unit: 'ns/packet', note };
}

function classifyBenches(): BenchResult[] {
  // Half the packets hit (the last rules / elements), half miss: a linear chain pays for
  // every rule it walks; the set pays one lookup either way.
  const srcs = (n: number): string[] => [ipOf(n - 1), ipOf(n - 2), '203.0.113.1', '203.0.113.2'];
  const lin1k = classifyBench('classify/linear-1k', linearRuleset(1000), srcs(1000), '1,000 rules ip saddr X drop');
  const lin10k = classifyBench('classify/linear-10k', linearRuleset(10000), srcs(10000), '10,000 rules ip saddr X drop');
  const set1k = classifyBench('classify/set-1k', setRuleset(1000), srcs(1000), 'ip saddr @set drop, 1,000 elements');
  const set10k = classifyBench('classify/set-10k', setRuleset(10000), srcs(10000), 'ip saddr @set drop, 10,000 elements');
  const set100k = classifyBench('classify/set-100k', setRuleset(100000), srcs(100000), 'ip saddr @set drop, 100,000 elements');
  return [lin1k, withRatio(lin10k, lin1k), set1k, withRatio(set10k, set1k), withRatio(set100k, set1k), withRatio({ ...lin10k, name: 'classify/linear-10k-vs-set-10k' }, set10k)];
}

function setUpdateBenches(): BenchResult[] {
  const engine = new RulesetEngine({ limits: NO_LIMITS });
  engine.load(setRuleset(10000), 'bench.nft');
  const elemOps = (from: number, count: number): unknown[] => {
    const elem: string[] = [];
    for (let i = 0; i < count; i++) elem.push(ipOf(20000 + ((from + i) % 100000)));
    return [{ add: { element: { family: 'inet', table: 'st', name: 'blocked', elem } } }];
  };
  const run = (batch: number): BenchResult => {
    let added = 0;
    let spent = 0;
    for (let round = 0; round < 10000 && spent < 400; round++) {
      const ops = elemOps(added, batch);
      const t0 = performance.now();
      engine.transaction(ops as never);
      spent += performance.now() - t0;
      added += batch;
    }
    return { name: `set-update/${batch === 1 ? 'single' : `batch-${batch}`}`, value: (added / spent) * 1000, unit: 'elements/s', note: `${batch === 1 ? 'one element' : `${batch} elements`} per transaction into a 10,000-element hash set` };
  };
  return [run(1000), run(1)];
}

export async function runRulesetBench(): Promise<BenchResult[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hafw-ruleset-bench-'));
  try {
    const out = await loadBench(dir);
    const tx = [txBench(10000), txBench(50000), txBench(100000)];
    out.push(tx[0]!, withRatio(tx[1]!, tx[0]), withRatio(tx[2]!, tx[0]));
    out.push(...classifyBenches());
    out.push(...setUpdateBenches());
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
