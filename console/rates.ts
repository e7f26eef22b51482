/**
 * Counters -> rates for the console's charts: the node exports totals (packets, verdicts,
 * replicated records); the charts show per-second rates between two readings. A counter
 * that went down (the node restarted) starts again from its new value instead of showing
 * a huge negative rate. Pure; loaded by the browser as is.
 */
export type Counters = Record<string, number>;

export function ratesBetween(prev: Counters, cur: Counters, seconds: number): Counters {
  const out: Counters = {};
  if (!(seconds > 0)) return out;
  for (const [k, v] of Object.entries(cur)) {
    const p = prev[k];
    if (typeof v !== 'number' || typeof p !== 'number') continue;
    out[k] = v >= p ? (v - p) / seconds : v / seconds;
  }
  return out;
}

/** A fixed-length window of samples per series (uPlot's column layout: [times, ...series]). */
export class SeriesWindow {
  readonly times: number[] = [];
  readonly series: Map<string, (number | null)[]> = new Map();

  constructor(
    readonly names: readonly string[],
    readonly maxPoints: number,
  ) {
    for (const n of names) this.series.set(n, []);
  }

  push(timeSec: number, values: Record<string, number | null | undefined>): void {
    this.times.push(timeSec);
    for (const n of this.names) this.series.get(n)!.push(values[n] ?? null);
    if (this.times.length > this.maxPoints) {
      this.times.shift();
      for (const s of this.series.values()) s.shift();
    }
  }

  columns(): (number | null)[][] {
    return [this.times, ...this.names.map((n) => this.series.get(n)!)];
  }
}
