/**
 * prom-client view of a SyncEndpoint (names hafw_sync_*, units in the name, DESIGN §7).
 * The endpoint keeps plain counters; update() moves their increments into prom-client and
 * drains lag / resync-duration samples into Histograms (histograms aggregate across nodes,
 * summaries do not). A worker posts registry.getMetricsAsJSON() to the main thread, which
 * merges with AggregatorRegistry.aggregate() (DESIGN §8).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SyncEndpoint, SyncStats } from './endpoint.js';
import type { EventRing } from './ring.js';

type CounterField = Exclude<{ [K in keyof SyncStats]: SyncStats[K] extends number ? K : never }[keyof SyncStats], undefined>;

const COUNTERS: [CounterField, string, string][] = [
  ['msgsSent', 'hafw_sync_messages_sent_total', 'Sync messages sent.'],
  ['bytesSent', 'hafw_sync_sent_bytes_total', 'Bytes of sync messages sent.'],
  ['msgsReceived', 'hafw_sync_messages_received_total', 'Sync datagrams received (before checks).'],
  ['bytesReceived', 'hafw_sync_received_bytes_total', 'Bytes of sync datagrams received.'],
  ['recordsSent', 'hafw_sync_records_sent_total', 'State records sent (after coalescing, excluding resync).'],
  ['recordsApplied', 'hafw_sync_records_applied_total', 'State records from peers applied to the table.'],
  ['retransmits', 'hafw_sync_retransmits_total', 'Sequenced messages resent after a NACK.'],
  ['nacksSent', 'hafw_sync_nacks_sent_total', 'NACK messages sent.'],
  ['nacksReceived', 'hafw_sync_nacks_received_total', 'NACK messages received for this node.'],
  ['gaps', 'hafw_sync_gap_sequences_total', 'Sequence numbers found missing.'],
  ['lostSent', 'hafw_sync_lost_sent_total', 'NACKed ranges this node no longer held (peer told to resync).'],
  ['lostReceived', 'hafw_sync_lost_received_total', 'Ranges a peer could not repair (resync follows).'],
  ['resyncsRequested', 'hafw_sync_resync_requests_total', 'Resync requests sent.'],
  ['resyncsCompleted', 'hafw_sync_resyncs_total', 'Full-table resyncs completed.'],
  ['resyncsServed', 'hafw_sync_resyncs_served_total', 'Resync requests answered by streaming the table.'],
  ['peerRestarts', 'hafw_sync_peer_restarts_total', 'Peers seen with a new boot epoch.'],
  ['nodeIdsEvicted', 'hafw_sync_node_ids_evicted_total', 'Remembered node ids let go (with their replay memory) to make room for a new one (maxNodeIds).'],
  ['ownDropped', 'hafw_sync_own_dropped_total', 'Own datagrams looped back and dropped.'],
  ['staleSkipped', 'hafw_sync_stale_records_total', 'Records older than an applied destroy (reordered), skipped.'],
  ['lateDropped', 'hafw_sync_late_messages_total', 'Messages that arrived after they were given up (LOST), dropped unapplied.'],
  ['rangesRefused', 'hafw_sync_ranges_refused_total', 'NACK or LOST ranges refused as inverted (to before from).'],
  ['peersLeft', 'hafw_sync_peers_left_total', 'Peers that left cleanly (said so at shutdown) and are no longer counted.'],
  ['peersLost', 'hafw_sync_peers_lost_total', 'Peers no longer counted because they fell silent for the peer timeout.'],
];

const LAG_BUCKETS = [0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export class SyncMetrics {
  private readonly counters: Counter[] = [];
  private readonly last: number[] = [];
  private readonly drops: Counter<'reason'>;
  private readonly lastDrops = new Map<string, number>();
  private readonly ringDrops: Counter;
  private readonly authFailures: Counter<'source'>;
  private readonly lastAuthFailures = new Map<string, number>();
  private lastRingDrops = 0;
  private readonly lag: Histogram;
  private readonly peerLag: Histogram<'peer'>;
  private readonly resyncDuration: Histogram;
  private readonly resendQueue: Gauge;
  private readonly pending: Gauge;
  private readonly ringDepth: Gauge;
  private readonly inSync: Gauge;
  private readonly peers: Gauge;
  private readonly peerUp: Gauge<'peer'>;
  /** Peer labels of peerUp set last time, to remove the ones no longer live or remembered as departed. */
  private peerUpLabels = new Set<string>();

  constructor(readonly registry: Registry = new Registry()) {
    const r = [registry];
    for (const [, name, help] of COUNTERS) {
      this.counters.push(new Counter({ name, help, registers: r }));
      this.last.push(0);
    }
    this.drops = new Counter({ name: 'hafw_sync_dropped_total', help: 'Received datagrams dropped, by reason (auth, replay, malformed, version, nodes...).', labelNames: ['reason'], registers: r });
    this.authFailures = new Counter({
      name: 'hafw_sync_auth_failures_total',
      help: 'Received datagrams that failed authentication (wrong MAC, or not a message that could be checked), by source address: the first 16 sources by name, later ones as source="other".',
      labelNames: ['source'],
      registers: r,
    });
    this.ringDrops = new Counter({ name: 'hafw_sync_ring_dropped_total', help: 'Datapath events dropped because the ring was full (recovered by resync).', registers: r });
    this.lag = new Histogram({
      name: 'hafw_sync_lag_seconds',
      help: 'State change on the sender to applied on the receiver, measured on the sender clock (see docs/sync-protocol.md).',
      buckets: LAG_BUCKETS,
      registers: r,
    });
    // The same samples by receiving peer (its sync node id): the histogram above stays as it
    // was (dashboards aggregate it); this one tells a slow receiver among several. Peers are
    // authenticated nodes and bounded by sync.maxNodeIds.
    this.peerLag = new Histogram({
      name: 'hafw_sync_peer_lag_seconds',
      help: 'hafw_sync_lag_seconds by the receiving peer (its sync node id).',
      labelNames: ['peer'],
      buckets: LAG_BUCKETS,
      registers: r,
    });
    this.resyncDuration = new Histogram({
      name: 'hafw_sync_resync_duration_seconds', help: 'Duration of completed full-table resyncs.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: r,
    });
    this.resendQueue = new Gauge({ name: 'hafw_sync_resend_queue_messages', help: 'Messages held for retransmission.', registers: r });
    this.pending = new Gauge({ name: 'hafw_sync_pending_events', help: 'Connections waiting in the coalescer.', registers: r });
    this.ringDepth = new Gauge({ name: 'hafw_sync_ring_events', help: 'Events waiting in the datapath ring.', registers: r });
    this.inSync = new Gauge({ name: 'hafw_sync_in_sync', help: '1 when this node holds a complete table from every live peer.', registers: r });
    this.peers = new Gauge({ name: 'hafw_sync_peers', help: 'Peers heard within the peer timeout.', registers: r });
    // Gone vs lagging: a departed peer's lag series just stops growing, which reads like a
    // quiet peer; this says it is gone (0) until it is heard again (1).
    this.peerUp = new Gauge({
      name: 'hafw_sync_peer_up',
      help: '1 for a peer counted now, 0 for one that left or was lost (the last 16 departed are kept), by its sync node id.',
      labelNames: ['peer'],
      registers: r,
    });
  }

  /** Brings the metrics up to date with the endpoint (and drains its sample buffers). */
  update(ep: SyncEndpoint, ring?: EventRing): void {
    const s = ep.stats;
    for (let i = 0; i < COUNTERS.length; i++) {
      const v = s[COUNTERS[i]![0]];
      if (v > this.last[i]!) this.counters[i]!.inc(v - this.last[i]!);
      this.last[i] = v;
    }
    for (const [reason, v] of Object.entries(s.drops)) {
      const before = this.lastDrops.get(reason) ?? 0;
      if (v > before) this.drops.inc({ reason }, v - before);
      this.lastDrops.set(reason, v);
    }
    for (const [source, v] of s.authFailures.bySource) {
      const before = this.lastAuthFailures.get(source) ?? 0;
      if (v > before) this.authFailures.inc({ source }, v - before);
      this.lastAuthFailures.set(source, v);
    }
    for (let i = 0; i < s.lagSamples.length; i++) {
      const v = s.lagSamples[i]! / 1000;
      this.lag.observe(v);
      const peer = s.lagPeers[i];
      if (peer !== undefined) this.peerLag.observe({ peer: String(peer) }, v);
    }
    s.lagSamples.length = 0;
    s.lagPeers.length = 0;
    for (const ms of s.resyncDurations) this.resyncDuration.observe(ms / 1000);
    s.resyncDurations.length = 0;
    this.resendQueue.set(ep.resendQueueDepth);
    this.pending.set(ep.pendingEvents);
    this.inSync.set(ep.inSync ? 1 : 0);
    const live = ep.peerStatus();
    this.peers.set(live.length);
    const labels = new Set<string>();
    for (const p of live) {
      labels.add(String(p.node));
      this.peerUp.set({ peer: String(p.node) }, 1);
    }
    for (const d of ep.departedPeers()) {
      if (labels.has(String(d.node))) continue;
      labels.add(String(d.node));
      this.peerUp.set({ peer: String(d.node) }, 0);
    }
    for (const old of this.peerUpLabels) if (!labels.has(old)) this.peerUp.remove({ peer: old });
    this.peerUpLabels = labels;
    if (ring !== undefined) {
      this.ringDepth.set(ring.depth);
      const d = ring.drops;
      if (d > this.lastRingDrops) this.ringDrops.inc(d - this.lastRingDrops);
      this.lastRingDrops = d;
    }
  }
}
