/** Bench results: a table for people, one JSON object a line for machines. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** Name of the result this one is compared with, measured in the same run. */
  baseline?: string;
  ratio?: number;
  note?: string;
}

export function withRatio(r: BenchResult, base: BenchResult | undefined): BenchResult {
  if (!base || base.value === 0) return r;
  return { ...r, baseline: base.name, ratio: Math.round((r.value / base.value) * 1000) / 1000 };
}

function fmt(v: number): string {
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return String(Math.round(v * 100) / 100);
}

export function printTable(results: BenchResult[]): void {
  const rows = results.map((r) => [r.name, fmt(r.value), r.unit, r.baseline ?? '', r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`, r.note ?? '']);
  const head = ['benchmark', 'value', 'unit', 'baseline', 'ratio', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 1 || i === 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

/** One object a line; the notes (free text: how a row was made, spreads) only when asked for. */
export function printJsonLines(results: BenchResult[], notes = false): void {
  for (const r of results) {
    const { note, ...rest } = r;
    console.log(JSON.stringify(notes && note !== undefined ? { ...rest, note } : rest));
  }
}
