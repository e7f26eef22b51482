/**
 * Datagrams that failed authentication, counted by source address for the operator's alarm
 * and the `hafw_sync_auth_failures_total{source}` metric. Failing means the MAC was wrong, or
 * the datagram was not even a message that could be checked (short, magic, version, length).
 * Anyone on the sync segment can send these, from any source address: the per-source table
 * keeps the first AUTH_FAIL_SOURCES sources by name and counts every later one under
 * `other`, so a flood from spoofed addresses costs a bounded table and a bounded label set.
 */
import type { DecodeError } from './wire.js';

/** Sources counted by name; the rest are `other`. */
const AUTH_FAIL_SOURCES = 16;

export interface AuthFailureSnapshot {
  total: number;
  /** Source address of the latest failure (`unknown` when the shell did not say). */
  lastSource: string | null;
  lastReason: DecodeError | null;
  /** When, on the endpoint's clock (ms); null when none yet. */
  lastAt: number | null;
  bySource: Record<string, number>;
}

export class AuthFailures {
  total = 0;
  lastSource: string | null = null;
  lastReason: DecodeError | null = null;
  lastAt = -Infinity;
  readonly bySource = new Map<string, number>();

  note(source: string, reason: DecodeError, now: number): void {
    const name = source === '' ? 'unknown' : source;
    this.total++;
    this.lastSource = name;
    this.lastReason = reason;
    this.lastAt = now;
    const n = this.bySource.get(name);
    if (n !== undefined) this.bySource.set(name, n + 1);
    else if (this.bySource.size < AUTH_FAIL_SOURCES) this.bySource.set(name, 1);
    else this.bySource.set('other', (this.bySource.get('other') ?? 0) + 1);
  }

  snapshot(): AuthFailureSnapshot {
    return {
      total: this.total,
      lastSource: this.lastSource,
      lastReason: this.lastReason,
      lastAt: this.lastAt === -Infinity ? null : this.lastAt,
      bySource: Object.fromEntries(this.bySource),
    };
  }
}
