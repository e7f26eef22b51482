/**
 * Sync alarms for the event bus: compares successive sync status snapshots and reports
 * what an operator must hear about — resyncs asked for or completed,
 * sequence gaps and lost records, peer restarts, and dropped messages (auth failures
 * above all: a wrong key or a forged sender). Counter increases only: the figures
 * themselves stay in /v1/sync/stats and /metrics. Datagrams failing authentication also
 * give an `auth` alarm naming the latest source address and its count, which the daemon
 * logs (at most once per snapshot interval). Changes of inSync are published at once
 * by the daemon (the sync worker reports them), not from here.
 */
import type { SyncStatusSnapshot } from '../../sync-protocol/index.js';

/** Counters whose increase is an alarm (names of SyncStats). */
export const ALARM_COUNTERS = ['gaps', 'lostReceived', 'lostSent', 'resyncsRequested', 'resyncsCompleted', 'peerRestarts'] as const;

export interface SyncAlarm {
  event: 'counter' | 'drop' | 'auth';
  /** counter / drop: its name (drops: the decode error, e.g. auth), increase and total. */
  name?: string;
  increase?: number;
  total?: number;
  /** auth: source address of the latest datagram failing authentication, its count, why it failed. */
  source?: string;
  sourceCount?: number;
  reason?: string;
}

export class SyncAlarmWatcher {
  private last: SyncStatusSnapshot | undefined;

  /** The alarms between the previous snapshot and `s` (none for the first one). */
  next(s: SyncStatusSnapshot): SyncAlarm[] {
    const prev = this.last;
    this.last = s;
    const out: SyncAlarm[] = [];
    // From the first snapshot on: failures before it are news too.
    const f = s.authFailures;
    const fBefore = prev?.authFailures?.total ?? 0;
    if (f !== undefined && f.total > fBefore) {
      const source = f.lastSource ?? 'unknown';
      out.push({ event: 'auth', increase: f.total - fBefore, total: f.total, source, sourceCount: f.bySource[source] ?? f.bySource.other ?? 0, reason: f.lastReason ?? undefined });
    }
    if (!prev) return out;
    for (const name of ALARM_COUNTERS) {
      const d = (s.counters[name] ?? 0) - (prev.counters[name] ?? 0);
      if (d > 0) out.push({ event: 'counter', name, increase: d, total: s.counters[name] });
    }
    for (const [name, total] of Object.entries(s.drops)) {
      const d = total - (prev.drops[name] ?? 0);
      if (d > 0) out.push({ event: 'drop', name, increase: d, total });
    }
    return out;
  }
}
