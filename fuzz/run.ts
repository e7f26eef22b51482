/**
 * `npm run fuzz [-- --seconds N --target NAME[,NAME] --seed N --max-len N --runs N --keep N]`
 *
 * Fuzzes each target (all by default) for N seconds (default 10), one after the other,
 * prints a table (execs, exec/s, distinct outcomes, findings) and saves new findings in
 * fuzz/corpus/<target>/. Exits 1 when something new was found. The same --seed with --runs
 * repeats a run input for input.
 */
import { TARGETS, targetNamed } from './targets/index.js';
import { fuzzFindings } from './pass.js';
import type { TargetRun } from './supervisor.js';

interface Args {
  seconds: number;
  targets: string[];
  seed: number;
  maxLen?: number;
  runs?: number;
  keep: number;
  saveDir?: string;
}

const USAGE = `usage: npm run fuzz -- [--seconds N] [--target NAME[,NAME...]] [--seed N] [--max-len BYTES] [--runs N] [--keep N] [--save-dir DIR] [--list]
  --seconds N   per target (default 10)
  --target      one or more of: ${TARGETS.map((t) => t.name).join(', ')}
  --seed N      the PRNG seed (default: random, printed)
  --max-len N   largest input the mutator makes (default: the target's own)
  --runs N      stop each target after N inputs (with --seed: an exact repeat)
  --keep N      also add N inputs per target that showed new behaviour to the corpus
  --save-dir D  save new findings under D/<target>/ instead of fuzz/corpus/`;

function parse(argv: string[]): Args | 'list' {
  const a: Args = { seconds: 10, targets: TARGETS.map((t) => t.name), seed: (Math.random() * 2 ** 32) >>> 0, keep: 0 };
  const num = (v: string | undefined, name: string): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${name} needs a non-negative number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = argv[i + 1];
    switch (k) {
      case '--seconds': a.seconds = num(v, k); i++; break;
      case '--target': a.targets = (v ?? '').split(',').filter(Boolean).map((n) => targetNamed(n).name); i++; break;
      case '--seed': a.seed = num(v, k) >>> 0; i++; break;
      case '--max-len': a.maxLen = num(v, k); i++; break;
      case '--runs': a.runs = num(v, k); i++; break;
      case '--keep': a.keep = num(v, k); i++; break;
      case '--save-dir': a.saveDir = v; i++; break;
      case '--list': return 'list';
      case '-h': case '--help': console.log(USAGE); process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default: throw new Error(`unknown option ${k}\n${USAGE}`);
    }
  }
  return a;
}

function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join('  ');
}

async function main(): Promise<number> {
  let args: Args | 'list';
  try {
    args = parse(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  if (args === 'list') {
    for (const t of TARGETS) console.log(`${t.name.padEnd(14)} ${t.about}`);
    return 0;
  }
  const targets = args.targets.map(targetNamed);
  console.log(`fuzzing ${targets.length} target(s), ${args.seconds} s each, seed ${args.seed}`);
  const widths = [14, 10, 8, 9, 6, 6];
  console.log(row(['target', 'execs', 'exec/s', 'outcomes', 'new', 'known'], widths));
  const r = await fuzzFindings({
    targets, secondsEach: args.seconds, seed: args.seed, maxRuns: args.runs, maxBytes: args.maxLen, saveDir: args.saveDir, saveKnown: true, keep: args.keep,
    onTarget(run: TargetRun, saved) {
      const fresh = run.findings.filter((f) => !f.known).length;
      console.log(row([run.target, run.execs, Math.round(run.execs / Math.max(run.seconds, 0.001)), run.outcomes, fresh, run.findings.length - fresh], widths));
      for (const f of run.findings) {
        const file = saved.get(f);
        console.log(`  ${f.known ? `known (${f.known})` : 'NEW'} ${f.kind}: ${f.signature}${file ? `\n    saved ${file}` : ''}`);
        if (!f.known && f.error?.stack) console.log(f.error.stack.split('\n').slice(0, 8).map((l) => `    ${l}`).join('\n'));
      }
    },
  });
  if (r.fresh.length > 0) {
    console.log(`\n${r.fresh.length} new finding(s); replay one with: node dist/fuzz/replay.js <file> (target from its folder)`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
