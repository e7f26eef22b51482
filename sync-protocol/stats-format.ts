/**
 * What `hafw sync stats [--json]` shows: a plain snapshot of an endpoint (JSON-safe, crosses
 * postMessage and HTTP) and its text form, grouped like `conntrackd -s`.
 */
import type { DepartedPeer, SyncEndpoint } from './endpoint.js';
import type { AuthFailureSnapshot } from './auth-failures.js';
import { syncClock } from './lag.js';

export interface SyncStatusSnapshot {
  nodeId: number;
  epoch: number;
  inSync: boolean;
  resendQueue: number;
  pendingEvents: number;
  ringDepth: number | null;
  ringDrops: number | null;
  counters: Record<string, number>;
  drops: Record<string, number>;
  /** Datagrams that failed authentication: total, latest source and reason, counts by source. */
  authFailures?: AuthFailureSnapshot;
  peers: { node: number; epoch: number; inSync: boolean; cumAck: number; lastHeardMs: number }[];
  /** Peers no longer counted: `left` said goodbye (clean shutdown), `lost` fell silent. Absent from older nodes' answers. */
  departed?: DepartedPeer[];
  /** Lag quantiles over the samples of the last LAG_WINDOW_MS (10 s), whoever read reports before. */
  lagMs: { samples: number; p50: number | null; p99: number | null };
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Snapshot of `ep` at `now` (the endpoint's clock): lag quantiles over its last LAG_WINDOW_MS of samples. */
export function syncStatus(ep: SyncEndpoint, ring?: { depth: number; drops: number }, now: number = syncClock()): SyncStatusSnapshot {
  const s = ep.stats;
  const counters: Record<string, number> = {};
  for (const [k, v] of Object.entries(s)) if (typeof v === 'number') counters[k] = v;
  const lag = s.recentLag.sortedWithin(now);
  return {
    nodeId: ep.cfg.nodeId,
    epoch: ep.cfg.epoch,
    inSync: ep.inSync,
    resendQueue: ep.resendQueueDepth,
    pendingEvents: ep.pendingEvents,
    ringDepth: ring?.depth ?? null,
    ringDrops: ring?.drops ?? null,
    counters,
    drops: { ...s.drops },
    authFailures: s.authFailures.snapshot(),
    peers: ep.peerStatus(),
    departed: ep.departedPeers(),
    lagMs: { samples: lag.length, p50: quantile(lag, 0.5), p99: quantile(lag, 0.99) },
  };
}

function line(label: string, value: string | number): string {
  return `  ${(label + ':').padEnd(34)}${value}\n`;
}

/** Text form for operators. */
export function formatSyncStatus(x: SyncStatusSnapshot): string {
  const c = (k: string) => x.counters[k] ?? 0;
  let out = `node ${x.nodeId} (epoch ${x.epoch}): ${x.inSync ? 'in sync' : 'NOT in sync'}\n`;
  out += 'message tracking:\n';
  out += line('messages sent', `${c('msgsSent')} (${c('bytesSent')} bytes)`);
  out += line('messages received', `${c('msgsReceived')} (${c('bytesReceived')} bytes)`);
  out += line('records sent / applied', `${c('recordsSent')} / ${c('recordsApplied')}`);
  out += line('dropped', Object.entries(x.drops).map(([k, v]) => `${k} ${v}`).join(', '));
  out += line('own messages dropped', c('ownDropped'));
  const f = x.authFailures;
  if (f !== undefined && f.total > 0) out += line('failed authentication', `${f.total} (latest from ${f.lastSource}: ${f.lastReason}; ${Object.entries(f.bySource).map(([k, v]) => `${k} ${v}`).join(', ')})`);
  out += 'reliability:\n';
  out += line('gaps (sequences)', c('gaps'));
  out += line('NACKs sent / received', `${c('nacksSent')} / ${c('nacksReceived')}`);
  out += line('retransmits', c('retransmits'));
  out += line('unrepairable (LOST) sent / received', `${c('lostSent')} / ${c('lostReceived')}`);
  out += line('stale records skipped', c('staleSkipped'));
  out += line('late messages dropped', c('lateDropped'));
  out += line('resend queue', `${x.resendQueue} messages`);
  out += line('events waiting to be batched', x.pendingEvents);
  if (x.ringDepth !== null) out += line('ring depth / drops', `${x.ringDepth} / ${x.ringDrops}`);
  out += 'resync:\n';
  out += line('requested / completed / served', `${c('resyncsRequested')} / ${c('resyncsCompleted')} / ${c('resyncsServed')}`);
  out += line('peer restarts', c('peerRestarts'));
  out += 'lag (sender clock, last 10 s):\n';
  out += line('samples', x.lagMs.samples);
  if (x.lagMs.p50 !== null) out += line('p50 / p99', `${x.lagMs.p50.toFixed(3)} ms / ${x.lagMs.p99!.toFixed(3)} ms`);
  out += 'peers:\n';
  if (x.peers.length === 0) out += '  (none heard)\n';
  for (const p of x.peers) {
    out += `  node ${p.node} epoch ${p.epoch}: ${p.inSync ? 'in sync' : 'syncing'}, acked up to ${p.cumAck}, heard ${p.lastHeardMs.toFixed(0)} ms ago\n`;
  }
  for (const d of x.departed ?? []) out += `  node ${d.node} epoch ${d.epoch}: GONE, ${departedText(d)}\n`;
  return out;
}

/** "left 12 s ago" / "lost (silent) 12 s ago": a departed peer, for operators. */
export function departedText(d: DepartedPeer): string {
  return `${d.reason === 'left' ? 'left (clean shutdown)' : 'lost (silent past the peer timeout)'} ${(d.goneMs / 1000).toFixed(1)} s ago`;
}
