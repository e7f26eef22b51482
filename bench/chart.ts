/**
 * The ratios chart of docs/performance.md, from `npm run bench -- --json` output:
 *   node dist/bench/chart.js RESULTS.jsonl [MORE.jsonl...] > docs/performance.svg
 * One bar per row compared with the kernel's firewall (`…/kernel-nft`) or with nft
 * (`…/nft…`), on a log scale (ratios run from 0.3x to 50x), with the target
 * marked on each row that has one. Rows where lower is better (latency, rule changes)
 * say so.
 */
import { readFileSync } from 'node:fs';
import type { BenchResult } from './report.js';

interface Bar {
  label: string;
  ratio: number;
  target?: number;
  lowerIsBetter: boolean;
  who: string;
}

/** The targets (ratio to the baseline), by row kind. */
const TARGETS: Record<string, number> = { 'tcp-bulk': 0.7, 'tcp-bulk-8': 0.7, 'udp-64B': 0.7, 'tcp-cps': 0.8, 'ruleset-apply-10k': 0.25 };
const LOWER_IS_BETTER = /^(rtt-|ruleset-)/;

export function barsOf(rows: BenchResult[]): Bar[] {
  const bars: Bar[] = [];
  for (const r of rows) {
    if (r.ratio === undefined || !r.baseline) continue;
    const baseWho = r.baseline.split('/')[1] ?? '';
    if (baseWho !== 'kernel-nft' && !baseWho.startsWith('nft')) continue;
    const [kind, who] = r.name.split('/') as [string, string];
    const isEcho = who.startsWith('c-echo');
    // The targets are hafw's: the C echo forwarder is a reference, not held to them.
    bars.push({ label: r.name, ratio: r.ratio, target: isEcho ? undefined : TARGETS[kind], lowerIsBetter: LOWER_IS_BETTER.test(kind), who: isEcho ? 'c-echo' : 'hafw' });
  }
  // Each probe's rows together, in the order the probes first appear.
  const kinds = [...new Set(bars.map((b) => b.label.split('/')[0]))];
  return bars.map((b, i) => ({ b, i })).sort((p, q) => kinds.indexOf(p.b.label.split('/')[0]) - kinds.indexOf(q.b.label.split('/')[0]) || p.i - q.i).map((p) => p.b);
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function chartSvg(bars: Bar[], title: string): string {
  const MIN = 0.1;
  const MAX = 100;
  const left = 230;
  const width = 560;
  const rowH = 22;
  const top = 56;
  const height = top + bars.length * rowH + 50;
  const x = (v: number): number => left + ((Math.log10(Math.min(Math.max(v, MIN), MAX)) - Math.log10(MIN)) / (Math.log10(MAX) - Math.log10(MIN))) * width;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 40}" height="${height}" font-family="sans-serif" font-size="12">`);
  // <title> first: what screen readers and tooltips name the picture by (docs-pictures.test.ts).
  out.push(`<title>${esc(title)}</title>`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="10" y="38" fill="#555">ratio to the baseline of the same run, log scale; | = the issue's target; ↓ = lower is better</text>`);
  for (const g of [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100]) {
    out.push(`<line x1="${x(g)}" y1="${top - 4}" x2="${x(g)}" y2="${top + bars.length * rowH}" stroke="${g === 1 ? '#000' : '#ddd'}"/>`);
    out.push(`<text x="${x(g)}" y="${top + bars.length * rowH + 16}" text-anchor="middle" fill="#555">${g}x</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const color = b.who === 'c-echo' ? '#9aa7b8' : '#d9772b';
    const x1 = x(Math.min(1, b.ratio));
    const x2 = x(Math.max(1, b.ratio));
    out.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(b.label)}${b.lowerIsBetter ? ' ↓' : ''}</text>`);
    out.push(`<rect x="${x1}" y="${y + 4}" width="${Math.max(1, x2 - x1)}" height="${rowH - 8}" fill="${color}"/>`);
    const labelX = b.ratio >= 1 ? x2 + 4 : x1 - 4;
    out.push(`<text x="${labelX}" y="${y + 15}" text-anchor="${b.ratio >= 1 ? 'start' : 'end'}" fill="#222">${b.ratio.toFixed(2)}x</text>`);
    if (b.target !== undefined) out.push(`<line x1="${x(b.target)}" y1="${y + 1}" x2="${x(b.target)}" y2="${y + rowH - 1}" stroke="#c00" stroke-width="2"/>`);
  });
  const ly = top + bars.length * rowH + 34;
  out.push(`<rect x="${left}" y="${ly - 10}" width="12" height="12" fill="#d9772b"/><text x="${left + 18}" y="${ly}">hafw</text>`);
  out.push(`<rect x="${left + 80}" y="${ly - 10}" width="12" height="12" fill="#9aa7b8"/><text x="${left + 98}" y="${ly}">c-echo (a bare C TUN forwarder)</text>`);
  out.push(`<text x="${left + 330}" y="${ly}">↓ lower is better</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

if (process.argv[1]?.endsWith('chart.js')) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: node dist/bench/chart.js RESULTS.jsonl [MORE.jsonl...] > chart.svg');
    process.exit(2);
  }
  const rows: BenchResult[] = [];
  for (const f of files) {
    for (const line of readFileSync(f, 'utf8').split('\n')) if (line.trim().startsWith('{')) rows.push(JSON.parse(line) as BenchResult);
  }
  process.stdout.write(chartSvg(barsOf(rows), 'hafw against the kernel\'s stateful firewall (nftables + conntrack)'));
}
