/**
 * Long-lived TCP flows across a failover, as numbers: did each flow keep being echoed, and
 * how long was the longest silence (the takeover gap as an application sees it). Pure: the
 * probe (flow-probe.ts) records echo arrival times, this summarizes them.
 */

export interface FlowRecord {
  /** ms (monotonic, probe's clock) when the flow connected; undefined if it never did. */
  connectedAt?: number;
  /** Arrival times (ms) of echoed messages, ascending. */
  echoes: number[];
  /** Socket error or close seen before the end of the run. */
  error?: string;
}

export interface FlowSummary {
  flows: number;
  connected: number;
  /** Connected, no error, and echoed within `aliveWithinMs` of the end: the flow still works. */
  survived: number;
  /** Longest silence between consecutive echoes on any surviving flow (ms), 0 with no data. */
  maxGapMs: number;
  echoes: number;
  errors: string[];
}

/**
 * @param endAt        the probe's clock at the end of the run
 * @param aliveWithinMs a flow whose last echo is older than this at the end is dead
 */
export function summarizeFlows(flows: FlowRecord[], endAt: number, aliveWithinMs: number): FlowSummary {
  let connected = 0;
  let survived = 0;
  let maxGapMs = 0;
  let echoes = 0;
  const errors: string[] = [];
  for (const f of flows) {
    echoes += f.echoes.length;
    if (f.connectedAt === undefined) {
      errors.push(f.error ?? 'never connected');
      continue;
    }
    connected++;
    if (f.error) errors.push(f.error);
    const last = f.echoes.length > 0 ? f.echoes[f.echoes.length - 1]! : undefined;
    const alive = !f.error && last !== undefined && endAt - last <= aliveWithinMs;
    if (!alive) continue;
    survived++;
    let prev = f.connectedAt;
    for (const t of f.echoes) {
      maxGapMs = Math.max(maxGapMs, t - prev);
      prev = t;
    }
  }
  return { flows: flows.length, connected, survived, maxGapMs: Math.round(maxGapMs), echoes, errors: [...new Set(errors)] };
}
