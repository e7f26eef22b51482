/**
 * Prometheus metrics of one node (prom-client). Values that live in shared memory (the
 * datapath's counters) are read at scrape time through `collect`, so the packet loop never
 * calls into prom-client. Names follow DESIGN §7: hafw_*, unit in the name.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { buildInfo } from '../build-info.js';
import { registerRulesetDistMetrics, type RulesetDistMetricsSource } from './ruleset-dist-metrics.js';

export interface MetricsSource {
  nodeName: string;
  datapathCounters(): Record<string, number>;
  /** VRRP state and counters; undefined when the node runs no VRRP. */
  vrrp?(): {
    state: string; priority: number; inSync: boolean; counters: Record<string, number>;
    /** Every VRRP group (vrrp.groups); the fields above are the first group's. */
    groups?: { name: string; vrid: number; state: string; priority: number; counters: Record<string, number> }[];
  } | undefined;
  /** Ruleset generation and size (elements: in all named sets, the figure ruleset.maxElements caps). */
  ruleset?(): { generation: number; rules: number; elements?: number };
  /** Event streams per listener ('socket', 'management'): open now, refused at the cap, the cap. */
  eventStreams?(): { listener: string; open: number; refused: number; max: number }[];
  /** The management listener's certificate notAfter, Unix seconds (undefined: no TLS listener). */
  apiTlsCertExpiry?(): number | undefined;
  /** Items of the datapath event streams a slow client could not take (control thread; the datapath's own drops are counters). */
  streamDrops?(): { ctEvents: number; trace: number };
  /** Cluster ruleset distribution (undefined when off). */
  rulesetDist?(): RulesetDistMetricsSource | undefined;
}

const VRRP_STATES = ['initialize', 'backup', 'master'] as const;

/** Sets a prom-client counter to an absolute total maintained elsewhere. */
function setTotal(c: Counter<string>, labels: Record<string, string>, total: number): void {
  c.reset();
  c.inc(labels, total);
}

export function createNodeMetrics(src: MetricsSource): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ node: src.nodeName });
  collectDefaultMetrics({ register: registry, prefix: 'hafw_' });
  if (src.rulesetDist) registerRulesetDistMetrics(registry, src.rulesetDist);

  // The usual "info" gauge: always 1, the facts are its labels. Node.js's version is
  // `nodejs`, since `node` is every series' node-name label.
  const build = buildInfo();
  new Gauge({
    name: 'hafw_build_info',
    help: 'What this node runs: package version, build commit (empty when not recorded) and Node.js version; always 1',
    labelNames: ['version', 'commit', 'nodejs'],
    registers: [registry],
  }).set({ version: build.version, commit: build.commit ?? '', nodejs: build.node }, 1);

  const snapshot = (): Record<string, number> => src.datapathCounters();
  /** A counter that is one datapath counter, read at scrape time. */
  const datapathTotal = (name: string, help: string, counter: string): void => {
    new Counter({
      name, help, registers: [registry],
      collect() {
        setTotal(this, {}, snapshot()[counter] ?? 0);
      },
    });
  };

  new Counter({
    name: 'hafw_datapath_packets_total',
    help: 'Packets read from (rx) and written back to (tx) the TUN device; a super-packet counts once',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      const c = snapshot();
      this.reset();
      this.inc({ direction: 'rx' }, c.rx_packets ?? 0);
      this.inc({ direction: 'tx' }, c.tx_packets ?? 0);
    },
  });
  new Counter({
    name: 'hafw_datapath_bytes_total',
    help: 'IP bytes read from (rx) and written back to (tx) the TUN device',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      const c = snapshot();
      this.reset();
      this.inc({ direction: 'rx' }, c.rx_bytes ?? 0);
      this.inc({ direction: 'tx' }, c.tx_bytes ?? 0);
    },
  });
  datapathTotal('hafw_datapath_segments_total', 'Wire packets the received packets stand for (a TCP super-packet counts each of its segments)', 'rx_segments');
  new Counter({
    name: 'hafw_datapath_verdicts_total',
    help: 'Verdicts of the filter, per verdict; malformed and unsupported packets are dropped before the filter',
    labelNames: ['verdict'],
    registers: [registry],
    collect() {
      const c = snapshot();
      this.reset();
      for (const v of ['accept', 'drop', 'reject'] as const) this.inc({ verdict: v }, c[`verdict_${v}`] ?? 0);
      this.inc({ verdict: 'malformed' }, c.malformed ?? 0);
      this.inc({ verdict: 'unsupported' }, c.unsupported ?? 0);
    },
  });
  datapathTotal('hafw_datapath_super_packets_total', 'TCP super-packets (GSO) handed to the filter by the kernel', 'gso_packets');
  datapathTotal('hafw_datapath_stage_errors_total', 'Packets dropped because a filter stage failed on them (a bug: please report)', 'stage_errors');
  new Gauge({
    name: 'hafw_datapath_max_packet_bytes',
    help: 'Largest packet seen; above the MTU means offloads are working',
    registers: [registry],
    collect() {
      this.set(snapshot().max_packet_bytes ?? 0);
    },
  });
  datapathTotal('hafw_datapath_to_node_packets_total', 'Packets on the input path: addressed to the node itself (after prerouting), filtered by the input chains', 'to_node');
  datapathTotal('hafw_datapath_from_node_packets_total', 'Packets on the output path: sent by the node itself, filtered by the output and postrouting chains', 'from_node');
  datapathTotal('hafw_datapath_forwarded_packets_total', 'Packets on the forward path (neither to nor from the node)', 'forwarded');
  datapathTotal('hafw_flowtable_offloaded_total', 'Connections offloaded to a flowtable (flow add @f)', 'flow_offloaded');
  datapathTotal('hafw_flowtable_fastpath_packets_total', 'Packets forwarded on the flowtable fast path, without rule evaluation', 'flow_fastpath');
  datapathTotal('hafw_flowtable_teardown_total', 'Offloaded connections given back to the slow path (TCP FIN/RST, flowtable deleted, interface left it)', 'flow_teardown');
  datapathTotal('hafw_fragments_queued_total', 'IP fragments taken for reassembly (the filter judges whole datagrams)', 'frag_queued');
  datapathTotal('hafw_fragments_reassembled_total', 'Datagrams put together from fragments and handed to the filter', 'frag_reassembled');
  datapathTotal('hafw_fragments_forwarded_total', 'Fragments written back after their datagram was accepted', 'frag_forwarded');
  new Counter({
    name: 'hafw_fragments_dropped_total',
    help: 'Fragments thrown away with their datagram (discarded: dropped by the rules or given up), or datagrams given up, per reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const c = snapshot();
      this.reset();
      this.inc({ reason: 'discarded' }, c.frag_discarded ?? 0);
      this.inc({ reason: 'timeout' }, c.frag_timeouts ?? 0);
      this.inc({ reason: 'overlap' }, c.frag_overlaps ?? 0);
      this.inc({ reason: 'over_limit' }, c.frag_over_limit ?? 0);
      this.inc({ reason: 'malformed' }, c.frag_malformed ?? 0);
      this.inc({ reason: 'duplicate' }, c.frag_duplicates ?? 0);
    },
  });
  new Gauge({
    name: 'hafw_fragments_held_bytes',
    help: 'Bytes held by incomplete datagrams (budget 4 MiB)',
    registers: [registry],
    collect() {
      this.set(snapshot().frag_held_bytes ?? 0);
    },
  });
  datapathTotal('hafw_nat_bindings_total', 'Connections given a NAT binding (snat, masquerade, dnat, redirect)', 'nat_new');
  new Counter({
    name: 'hafw_nat_dropped_total',
    help: 'First packets dropped because NAT could not be done: every port of the range taken (exhausted), or impossible (failed: no interface address, family mismatch)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const c = snapshot();
      this.reset();
      this.inc({ reason: 'exhausted' }, c.nat_exhausted_drops ?? 0);
      this.inc({ reason: 'failed' }, c.nat_failed_drops ?? 0);
    },
  });
  datapathTotal('hafw_ruleset_log_lines_total', 'Lines of ruleset log statements handed to the node log', 'ruleset_log_lines');
  new Counter({
    name: 'hafw_ruleset_log_dropped_total',
    help: 'Lines of ruleset log statements not written, per reason: the statement\'s own limit (statement), the node-wide log.rulesetRate (rate), the buffer to the control thread full (buffer)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const c = snapshot();
      this.reset();
      this.inc({ reason: 'statement' }, c.ruleset_log_dropped_statement ?? 0);
      this.inc({ reason: 'rate' }, c.ruleset_log_dropped_rate ?? 0);
      this.inc({ reason: 'buffer' }, c.ruleset_log_dropped_buffer ?? 0);
    },
  });
  datapathTotal('hafw_ruleset_log_pcap_packets_total', 'Packets of ruleset log lines written to log.pcapFile', 'ruleset_log_pcap_packets');
  datapathTotal('hafw_ruleset_log_pcap_dropped_total', 'Packets of ruleset log lines not written to log.pcapFile: it reached log.pcapMaxBytes, or a write failed (the line itself was logged)', 'ruleset_log_pcap_dropped');
  datapathTotal('hafw_ct_events_total', 'Connection events (new, update, destroy) produced for hafw ct events streams (only while one is open)', 'ct_events');
  datapathTotal('hafw_trace_packets_total', 'Traced packets recorded for hafw trace sessions (only while one is open)', 'trace_packets');
  for (const [name, what, counter, key] of [
    ['hafw_ct_events_dropped_total', 'Connection events', 'ct_events_dropped', 'ctEvents'],
    ['hafw_trace_dropped_total', 'Traced packets', 'trace_dropped', 'trace'],
  ] as const) {
    new Counter({
      name,
      help: `${what} not delivered, per stage: the datapath's rate cap or queue was full (datapath), a client read slower than they came and its stream buffer was full (client)`,
      labelNames: ['stage'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ stage: 'datapath' }, snapshot()[counter] ?? 0);
        this.inc({ stage: 'client' }, src.streamDrops?.()[key] ?? 0);
      },
    });
  }
  datapathTotal('hafw_ruleset_set_full_total', 'Packets whose key an add/update @set or meter statement could not add because the set held its size (the rule did not match)', 'ruleset_set_full');
  datapathTotal('hafw_nat_icmp_translated_total', 'ICMP errors about a NATed connection, translated back', 'nat_translated');
  new Gauge({
    name: 'hafw_conntrack_entries',
    help: 'Connections in the table (local and replicated)',
    registers: [registry],
    collect() {
      this.set(snapshot().ct_entries ?? 0);
    },
  });
  new Counter({
    name: 'hafw_conntrack_expired_total',
    help: 'Connections removed because their timeout passed (the idle timer, packet batches or a lookup found them): the node\'s own, and replicas of a peer\'s',
    labelNames: ['origin'],
    registers: [registry],
    collect() {
      const c = snapshot();
      const replica = c.ct_expired_replicas ?? 0;
      this.reset();
      this.inc({ origin: 'local' }, Math.max(0, (c.ct_expired ?? 0) - replica));
      this.inc({ origin: 'replica' }, replica);
    },
  });
  datapathTotal('hafw_conntrack_takeover_adopted_total', 'Replicas of a peer\'s connections this node made its own when it became VRRP master (announced and replicated under its id, quiet ones included)', 'ct_takeover_adopted');
  datapathTotal('hafw_handoff_sent_total', 'Packets of another VRRP group\'s connection handed to its owner over the sync segment (asymmetric paths, active/active)', 'handoff_sent');
  datapathTotal('hafw_handoff_send_errors_total', 'Packets that could not be handed to their owner (too long for one datagram, socket error): dropped', 'handoff_send_errors');
  datapathTotal('hafw_handoff_received_total', 'Authenticated packets a peer handed to this node', 'handoff_received');
  datapathTotal('hafw_handoff_rejected_total', 'Handoff datagrams refused: malformed, failing authentication (another cluster key, or forged), replayed, or another virtio header length', 'handoff_rejected');
  datapathTotal('hafw_defer_held_total', 'First packets of new connections held until the peers acknowledged the connection\'s state (sync.deferMs; asymmetric paths, active/active)', 'defer_held');
  datapathTotal('hafw_defer_acked_total', 'Held first packets sent when every live peer had acknowledged the connection\'s state', 'defer_acked');
  datapathTotal('hafw_defer_timeout_total', 'Held first packets sent when sync.deferMs passed before the acknowledgement', 'defer_timeout');
  datapathTotal('hafw_defer_overflow_total', 'First packets sent at once because the deferral was full or the packet too long to hold', 'defer_overflow');
  datapathTotal('hafw_handoff_not_owner_total', 'Handed-over packets dropped because this node does not own their connection either', 'handoff_not_owner');
  datapathTotal('hafw_handoff_rate_limited_total', 'Authenticated handed-over packets dropped because their sender was over sync.handoffRate packets/s', 'handoff_rate_limited');
  new Gauge({
    name: 'hafw_conntrack_expectations',
    help: 'Expectations (data connections an FTP control connection announced) waiting for their first packet',
    registers: [registry],
    collect() {
      this.set(snapshot().ct_expectations ?? 0);
    },
  });
  new Counter({
    name: 'hafw_conntrack_expectations_total',
    help: 'FTP helper announcements: expectations created, matched by a related connection, refused (table full), foreign (the announced address is not the sender\'s own: not followed); from state sync: replicated (installed from a peer\'s record), replica_refused (table full, or not between the ends of its control connection)',
    labelNames: ['event'],
    registers: [registry],
    collect() {
      const c = snapshot();
      this.reset();
      this.inc({ event: 'created' }, c.ct_expect_created ?? 0);
      this.inc({ event: 'matched' }, c.ct_expect_matched ?? 0);
      this.inc({ event: 'refused' }, c.ct_expect_refused ?? 0);
      this.inc({ event: 'foreign' }, c.ct_ftp_foreign ?? 0);
      this.inc({ event: 'replicated' }, c.ct_expect_replicated ?? 0);
      this.inc({ event: 'replica_refused' }, c.ct_expect_replica_refused ?? 0);
    },
  });
  new Counter({
    name: 'hafw_conntrack_ftp_nat_total',
    help: 'FTP announcements on NATed control connections: rewritten; retransmitted (a retransmission rewritten again alike); split (segment dropped: an announcement cut by its end); failed (segment dropped: no port, no room, inconsistent retransmission); second (passed as it was: one rewrite per segment)',
    labelNames: ['event'],
    registers: [registry],
    collect() {
      const c = snapshot();
      this.reset();
      this.inc({ event: 'rewritten' }, c.ct_ftp_nat_rewritten ?? 0);
      this.inc({ event: 'retransmitted' }, c.ct_ftp_nat_retransmitted ?? 0);
      this.inc({ event: 'split' }, c.ct_ftp_nat_split ?? 0);
      this.inc({ event: 'failed' }, c.ct_ftp_nat_failed ?? 0);
      this.inc({ event: 'second' }, c.ct_ftp_nat_second ?? 0);
    },
  });
  datapathTotal('hafw_conntrack_invalid_packets_total', 'Packets conntrack found invalid (out of window, unknown mid-stream, bad state)', 'ct_invalid');
  datapathTotal('hafw_conntrack_bad_checksum_packets_total', 'Of the invalid packets, those with a wrong TCP, UDP, ICMP or ICMPv6 checksum (not vouched for by the virtio-net header)', 'ct_bad_checksum');
  new Counter({
    name: 'hafw_conntrack_dropped_total',
    help: 'New connections dropped by conntrack: table full (nothing to evict) or insert refused',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const c = snapshot();
      this.reset();
      this.inc({ reason: 'table_full' }, c.ct_table_full_drops ?? 0);
      this.inc({ reason: 'insert_refused' }, c.ct_commit_refused ?? 0);
    },
  });
  if (src.vrrp) {
    const vrrp = src.vrrp;
    new Gauge({
      name: 'hafw_vrrp_state',
      help: 'VRRP state: 1 for the current state label, 0 for the others',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const v = vrrp();
        for (const st of VRRP_STATES) this.set({ state: st }, v?.state === st ? 1 : 0);
      },
    });
    new Gauge({
      name: 'hafw_vrrp_priority',
      help: 'Priority this node advertises now (demoted while not in sync or a tracked link is down)',
      registers: [registry],
      collect() {
        this.set(vrrp()?.priority ?? 0);
      },
    });
    new Gauge({
      name: 'hafw_vrrp_in_sync',
      help: '1 when the state table is complete, so the node may take or preempt the VIPs',
      registers: [registry],
      collect() {
        this.set(vrrp()?.inSync ? 1 : 0);
      },
    });
    new Counter({
      name: 'hafw_vrrp_transitions_total',
      help: 'VRRP state changes of this node',
      registers: [registry],
      collect() {
        setTotal(this, {}, vrrp()?.counters.transitions ?? 0);
      },
    });
    new Counter({
      name: 'hafw_vrrp_adverts_total',
      help: 'VRRP advertisements sent, refused by the socket (send_error), received and rejected (bad checksum, TTL, VRID...)',
      labelNames: ['event'],
      registers: [registry],
      collect() {
        const c = vrrp()?.counters ?? {};
        this.reset();
        this.inc({ event: 'sent' }, c.advertsSent ?? 0);
        this.inc({ event: 'send_error' }, c.advertSendErrors ?? 0);
        this.inc({ event: 'received' }, c.advertsReceived ?? 0);
        this.inc({ event: 'rejected' }, c.advertsRejected ?? 0);
      },
    });
    // Per group (active/active): the series above stay the first group's, so dashboards
    // and alerts written for a pair keep their meaning; these carry every group.
    new Gauge({
      name: 'hafw_vrrp_group_state',
      help: 'VRRP state of each group (vrrp.groups): 1 for the current state label, 0 for the others',
      labelNames: ['group', 'vrid', 'state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const g of vrrp()?.groups ?? []) {
          for (const st of VRRP_STATES) this.set({ group: g.name, vrid: String(g.vrid), state: st }, g.state === st ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'hafw_vrrp_group_priority',
      help: 'Priority this node advertises now in each group',
      labelNames: ['group', 'vrid'],
      registers: [registry],
      collect() {
        this.reset();
        for (const g of vrrp()?.groups ?? []) this.set({ group: g.name, vrid: String(g.vrid) }, g.priority);
      },
    });
    new Counter({
      name: 'hafw_vrrp_group_transitions_total',
      help: 'VRRP state changes of this node in each group',
      labelNames: ['group', 'vrid'],
      registers: [registry],
      collect() {
        this.reset();
        for (const g of vrrp()?.groups ?? []) this.inc({ group: g.name, vrid: String(g.vrid) }, g.counters.transitions ?? 0);
      },
    });
  }
  if (src.ruleset) {
    const rs = src.ruleset;
    new Gauge({
      name: 'hafw_ruleset_generation',
      help: 'Generation of the ruleset this node runs (grows with every committed transaction)',
      registers: [registry],
      collect() {
        this.set(rs().generation);
      },
    });
    new Gauge({
      name: 'hafw_ruleset_rules',
      help: 'Rules in the running ruleset',
      registers: [registry],
      collect() {
        this.set(rs().rules);
      },
    });
    new Gauge({
      name: 'hafw_ruleset_set_elements',
      help: 'Elements in all named sets and maps of the running ruleset (capped by ruleset.maxElements)',
      registers: [registry],
      collect() {
        this.set(rs().elements ?? 0);
      },
    });
  }
  if (src.eventStreams) {
    const streams = src.eventStreams;
    new Gauge({
      name: 'hafw_api_event_streams',
      help: 'GET /v1/events streams open now, per listener (socket, management)',
      labelNames: ['listener'],
      registers: [registry],
      collect() {
        for (const s of streams()) this.set({ listener: s.listener }, s.open);
      },
    });
    new Gauge({
      name: 'hafw_api_event_streams_max',
      help: 'The cap on concurrent event streams per listener (api.maxEventStreams)',
      labelNames: ['listener'],
      registers: [registry],
      collect() {
        for (const s of streams()) this.set({ listener: s.listener }, s.max);
      },
    });
    new Counter({
      name: 'hafw_api_event_streams_refused_total',
      help: 'Event streams refused with 503 because the listener already served api.maxEventStreams',
      labelNames: ['listener'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of streams()) this.inc({ listener: s.listener }, s.refused);
      },
    });
  }
  if (src.apiTlsCertExpiry) {
    const expiry = src.apiTlsCertExpiry;
    // A timestamp, named as Prometheus names them (_timestamp_seconds, like cert-manager's
    // expiration metric): alert on `hafw_api_tls_cert_expiry_timestamp_seconds - time() < 14 * 86400`.
    new Gauge({
      name: 'hafw_api_tls_cert_expiry_timestamp_seconds',
      help: 'When the management listener\'s certificate (api.tls.certFile) expires, as a Unix time; follows SIGHUP reloads',
      registers: [registry],
      collect() {
        const t = expiry();
        this.reset();
        if (t !== undefined) this.set(t);
      },
    });
  }
  return registry;
}
