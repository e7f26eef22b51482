/**
 * Reading a histogram out of Prometheus text exposition (what `hafw metrics` prints), for
 * the compose test's sync-lag check. Pure; series are summed over their other labels (e.g.
 * `node`), as a per-node query in Prometheus would be.
 */

export interface Histogram {
  /** Cumulative counts per upper bound, ascending; the last bound is +Inf. */
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}

function labelValue(labels: string, key: string): string | undefined {
  const m = new RegExp(`(?:^|,)\\s*${key}="([^"]*)"`).exec(labels);
  return m ? m[1] : undefined;
}

/**
 * The histogram `name` (without _bucket/_sum/_count), or undefined when it is not exposed;
 * with `match`, only the series whose labels have those values (e.g. `{ peer: '2' }`).
 */
export function parseHistogram(text: string, name: string, match: Record<string, string> = {}): Histogram | undefined {
  const byLe = new Map<number, number>();
  let count: number | undefined;
  let sum = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const [, metric, labels = '', valueText] = m;
    const value = Number(valueText);
    if (!Number.isFinite(value)) continue;
    if (Object.entries(match).some(([k, v]) => labelValue(labels, k) !== v)) continue;
    if (metric === `${name}_bucket`) {
      const le = labelValue(labels, 'le');
      if (le === undefined) continue;
      const bound = le === '+Inf' ? Infinity : Number(le);
      byLe.set(bound, (byLe.get(bound) ?? 0) + value);
    } else if (metric === `${name}_count`) {
      count = (count ?? 0) + value;
    } else if (metric === `${name}_sum`) {
      sum += value;
    }
  }
  if (count === undefined) return undefined;
  const buckets = [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, c]) => ({ le, count: c }));
  return { buckets, count, sum };
}

/**
 * Upper bound of the bucket that holds quantile q (0..1): "at most this". Prometheus'
 * histogram_quantile interpolates inside the bucket; a bound is the honest figure here.
 * NaN with no samples.
 */
export function quantileBound(h: Histogram, q: number): number {
  if (h.count <= 0) return NaN;
  const rank = q * h.count;
  for (const b of h.buckets) if (b.count >= rank) return b.le;
  return Infinity;
}
