/**
 * Metrics of cluster-wide ruleset distribution, read from the distributor at scrape time.
 * `member` names the cluster node a per-node series is about (the registry's default
 * `node` label is the node that serves the scrape).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DistCounters, DistStatus, FetchServerCounters, NodeVersion } from '../../ruleset-dist/index.js';

/** What the distributor reports (its status and counters), read at each scrape. */
export interface RulesetDistMetricsSource {
  status: Pick<DistStatus, 'version' | 'drift' | 'ready'> & { nodes: Pick<NodeVersion, 'name' | 'version' | 'hash' | 'drift' | 'self'>[] };
  counters: DistCounters;
  /** The fetch server's connections (absent with a transport that has no server). */
  server?: FetchServerCounters;
}

export function registerRulesetDistMetrics(registry: Registry, read: () => RulesetDistMetricsSource | undefined): void {
  const g = (name: string, help: string, labelNames: string[], fill: (m: Gauge<string>, s: RulesetDistMetricsSource) => void): void => {
    new Gauge({
      name, help, labelNames, registers: [registry],
      collect() {
        const s = read();
        this.reset();
        if (s) fill(this, s);
      },
    });
  };
  const c = (name: string, help: string, labelNames: string[], fill: (m: Counter<string>, s: RulesetDistMetricsSource) => void): void => {
    new Counter({
      name, help, labelNames, registers: [registry],
      collect() {
        const s = read();
        this.reset();
        if (s) fill(this, s);
      },
    });
  };
  g('hafw_ruleset_version', 'Cluster ruleset version each node runs, as this node hears it (member = that node)', ['member'], (m, s) => {
    for (const n of s.status.nodes) m.set({ member: n.name }, n.version);
  });
  g('hafw_ruleset_info', 'Always 1; the hash label is the SHA-256 of the canonical ruleset text each node runs', ['member', 'hash'], (m, s) => {
    for (const n of s.status.nodes) m.set({ member: n.name, hash: n.hash }, 1);
  });
  g('hafw_ruleset_drift', '1 when this node runs another ruleset than the cluster (other hash at the master\'s version, or behind too long)', [], (m, s) => m.set(s.status.drift ? 1 : 0));
  g('hafw_ruleset_ready', '1 once this node runs the current cluster version since its start (VRRP may take the VIPs)', [], (m, s) => m.set(s.status.ready ? 1 : 0));
  c('hafw_ruleset_dist_messages_total', 'Ruleset distribution messages by kind', ['kind'], (m, s) => {
    const k = s.counters;
    m.inc({ kind: 'announce_sent' }, k.announcesSent);
    m.inc({ kind: 'announce_received' }, k.announcesReceived);
    m.inc({ kind: 'update_sent' }, k.updatesSent);
    m.inc({ kind: 'update_applied' }, k.updatesApplied);
    m.inc({ kind: 'fetch_served' }, k.fetchesServed);
  });
  c('hafw_ruleset_dist_dropped_total', 'Received distribution messages dropped: malformed, auth (HMAC), replay, own, oversize (a fetch head claiming more than the limit)', ['reason'], (m, s) => {
    for (const [reason, n] of Object.entries(s.counters.dropped)) m.inc({ reason }, n);
  });
  g('hafw_ruleset_fetch_connections', 'Connections open on this node\'s fetch server (TCP, ruleset.distPort)', [], (m, s) => {
    if (s.server) m.set(s.server.open);
  });
  c('hafw_ruleset_fetch_connections_closed_total', 'Fetch server connections closed unserved: limit (ruleset.distMaxConnections open), deadline (ruleset.distConnectionDeadlineMs), head (its head was refused; reason in hafw_ruleset_dist_dropped_total)', ['reason'], (m, s) => {
    if (!s.server) return;
    m.inc({ reason: 'limit' }, s.server.refusedLimit);
    m.inc({ reason: 'deadline' }, s.server.closedDeadline);
    m.inc({ reason: 'head' }, s.server.refusedHead);
  });
  c('hafw_ruleset_fetches_total', 'Full-text fetches this node made, by result', ['result'], (m, s) => {
    m.inc({ result: 'ok' }, Math.max(0, s.counters.fetches - s.counters.fetchFailures));
    m.inc({ result: 'failed' }, s.counters.fetchFailures);
  });
  c('hafw_ruleset_drift_detected_total', 'Times this node found itself drifted', [], (m, s) => m.inc(s.counters.driftDetected));
  c('hafw_ruleset_drift_repairs_total', 'Drift repairs (the master\'s version fetched over a drifted ruleset)', [], (m, s) => m.inc(s.counters.repairs));
}
