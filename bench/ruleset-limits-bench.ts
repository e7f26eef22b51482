/**
 * How long the control thread is blocked by the largest rulesets the default caps accept
 * (node/ruleset/limits.ts): the control thread parses, validates and compiles every
 * ruleset on the thread that sends VRRP advertisements, so this is the longest an
 * advertisement can be late because of a ruleset. Each shape fills one cap:
 *
 *   limits-elements      one named set with ruleset.maxElements addresses
 *   limits-interval      one interval set with maxElements prefixes (sorted, merged)
 *   limits-rules         rules up to ruleset.maxBytes
 *   limits-anon-sets     rules with 100-address anonymous sets up to maxBytes
 *   limits-expansion     a 1,000-address define used until maxExpandedTokens, plus text
 *   limits-bomb          nested defines, 30 levels (refused: time to the refusal)
 *
 * The block is measured as the longest gap of a 5 ms timer while the load runs in this
 * thread (what a VRRP timer would see), besides the load's own time. Loops are bounded.
 *
 *   limits-bomb-peak-rss  `hafw ruleset check` of the bomb: the process's peak RSS above
 *                    that of the same check of a one-rule ruleset
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RulesetEngine, DEFAULT_LIMITS, RulesetError } from '../node/ruleset/index.js';
import { ipOf } from './ruleset-gen.js';
import type { BenchResult } from './report.js';

const MAX = DEFAULT_LIMITS;

function elementsText(n: number): string {
  const els: string[] = [];
  for (let i = 0; i < n; i++) els.push(ipOf(i));
  return `table inet t {\n  set s {\n    type ipv4_addr\n    elements = { ${els.join(',\n')} }\n  }\n  chain c { type filter hook forward priority 0; ip saddr @s drop }\n}\n`;
}

function intervalText(n: number): string {
  const els: string[] = [];
  // /30 prefixes that do not touch: none merges, every one is an interval.
  for (let i = 0; i < n; i++) els.push(`10.${(i >> 14) & 255}.${(i >> 6) & 255}.${(i & 63) * 4}/30`);
  return `table inet t {\n  set s {\n    type ipv4_addr\n    flags interval\n    elements = { ${els.join(',')} }\n  }\n  chain c { type filter hook forward priority 0; ip saddr @s drop }\n}\n`;
}

/** Lines from `line(i)` inside one base chain until the text reaches `bytes`. */
function fill(bytes: number, line: (i: number) => string, head = ''): string {
  const out: string[] = [head, 'table inet t {', '  chain c {', '    type filter hook forward priority 0;'];
  let size = out.join('\n').length + 20;
  for (let i = 0; ; i++) {
    const l = line(i);
    if (size + l.length + 1 > bytes) break;
    out.push(l);
    size += l.length + 1;
  }
  out.push('  }', '}');
  return out.join('\n') + '\n';
}

function rulesText(): string {
  return fill(MAX.maxBytes, (i) => `    ip saddr ${ipOf(i)} tcp dport ${1 + (i % 60000)} counter accept`);
}

function anonText(): string {
  return fill(MAX.maxBytes, (i) => {
    const els: string[] = [];
    for (let k = 0; k < 100; k++) els.push(ipOf(i * 100 + k));
    return `    ip saddr { ${els.join(', ')} } drop`;
  });
}

function expansionText(): string {
  const els: string[] = [];
  for (let k = 0; k < 1000; k++) els.push(ipOf(k));
  const head = `define many = { ${els.join(', ')} }`;
  // Each use replays ~2,000 tokens (addresses and commas): stay just under the cap.
  const uses = Math.floor(MAX.maxExpandedTokens / 2002);
  return fill(MAX.maxBytes, (i) => (i < uses ? `    ip saddr $many tcp dport ${1 + i} drop` : `    ip saddr ${ipOf(i)} tcp dport ${1 + (i % 60000)} counter accept`), head);
}

function bombText(): string {
  const lines = ['define a0 = { 1, 1 }'];
  for (let i = 1; i <= 30; i++) lines.push(`define a${i} = { $a${i - 1}, $a${i - 1} }`);
  lines.push('table inet t { set s { type inet_service; elements = $a30 } }');
  return lines.join('\n') + '\n';
}

/** Loads `text` in this thread while a 5 ms timer runs; the timer's longest gap is the block. */
async function measure(name: string, text: string): Promise<BenchResult[]> {
  const e = new RulesetEngine();
  let last = performance.now();
  let gap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
  }, 5);
  await new Promise((r) => setTimeout(r, 20));
  gap = 0;
  let note = '';
  const t0 = performance.now();
  await new Promise<void>((resolve) => setImmediate(() => {
    try {
      e.load(text, name);
      note = `accepted, ${e.elementCount()} elements, ${e.counts().rules} rules`;
    } catch (err) {
      if (!(err instanceof RulesetError)) throw err;
      note = `refused: ${err.errors[0]!.message.slice(0, 60)}`;
    }
    resolve();
  }));
  const loadMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 20));
  clearInterval(timer);
  const bytes = Buffer.byteLength(text);
  return [
    { name: `${name}-load`, value: loadMs, unit: 'ms', note: `${(bytes / 1024).toFixed(0)} KiB; ${note}` },
    { name: `${name}-timer-gap`, value: gap, unit: 'ms', note: 'longest gap of a 5 ms timer during the load' },
  ];
}

export async function runRulesetLimitsBench(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  const shapes: [string, () => string][] = [
    ['limits-elements', () => elementsText(MAX.maxElements)],
    ['limits-interval', () => intervalText(MAX.maxElements)],
    ['limits-rules', rulesText],
    ['limits-anon-sets', anonText],
    ['limits-expansion', expansionText],
    ['limits-bomb', bombText],
  ];
  for (const [name, make] of shapes) out.push(...(await measure(name, make())));
  out.push(bombPeakRss());
  return out;
}

/** Preloaded into the CLI: prints the process's peak RSS (KiB) on stderr as it exits. */
const PEAK_RSS = `data:text/javascript,process.on('exit',()=>process.stderr.write('maxrss='+process.resourceUsage().maxRSS+'\\n'))`;
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/hafw.js');

function bombPeakRss(): BenchResult {
  const dir = mkdtempSync(path.join(tmpdir(), 'hafw-bomb-bench-'));
  try {
    const peakKiB = (text: string): number => {
      const file = path.join(dir, 'r.nft');
      writeFileSync(file, text);
      // Capped heap: a regression that builds the expansion must end, not swap.
      const r = spawnSync(process.execPath, ['--max-old-space-size=512', '--import', PEAK_RSS, BIN, 'ruleset', 'check', '--json', file], { encoding: 'utf8', timeout: 60_000 });
      const m = /maxrss=(\d+)/.exec(r.stderr);
      if (!m) throw new Error(`limits-bomb-peak-rss: no peak RSS reported: ${r.stderr.slice(0, 300)}`);
      return Number(m[1]);
    };
    const base = peakKiB('table inet t { chain c { accept } }\n');
    const bomb = peakKiB(bombText());
    return { name: 'limits-bomb-peak-rss', value: (bomb - base) / 1024, unit: 'MiB', note: 'peak RSS of `hafw ruleset check` refusing the bomb, above a one-rule ruleset\'s' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
