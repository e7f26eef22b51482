/**
 * Datapath counters in shared memory: the datapath thread is the only writer, the control
 * thread reads them at any time (status, metrics) without a message round trip. Float64
 * holds exact integers up to 2^53, far beyond any counter's life.
 */
export const COUNTER_NAMES = [
  'rx_packets', // packets read from the TUN device (a super-packet counts once)
  'rx_bytes', // IP bytes read (virtio header excluded)
  'rx_segments', // wire packets those stand for (super-packets counted by segment)
  'tx_packets', // packets written back (forwarded)
  'tx_bytes',
  'gso_packets', // TCP super-packets (virtio gso_type TCPv4/TCPv6) seen
  'gso_bytes',
  'max_packet_bytes', // largest packet seen (IP bytes); > MTU proves offloads are on
  'verdict_accept',
  'verdict_drop',
  'verdict_reject',
  'malformed', // truncated or inconsistent headers: dropped
  'unsupported', // not IPv4/IPv6 or an IPv6 header chain we do not walk
  'stage_errors', // a stage threw: packet dropped, loop kept running
  'batches',
  'ct_table_full_drops', // new connections dropped: conntrack table full, nothing to evict
  'ct_commit_refused', // new connection could not be inserted (tuple clash, probe cap)
  'notrack', // packets a notrack rule exempted from tracking
  'ct_entries', // connections in the table now (a gauge, refreshed every batch and every conntrack gc tick)
  'ct_invalid', // packets conntrack found invalid (a gauge of the tracker's running total)
  'ct_bad_checksum', // of those, packets with a wrong TCP/UDP/ICMP checksum (a gauge of the tracker's running total)
  'ct_expired', // entries removed because their timeout passed, replicas included (the tracker's running total)
  'ct_expired_replicas', // of those, replicas of a peer's connections
  'ct_takeover_adopted', // replicas this node made its own when it became master (worker/takeover-adopt.ts)
  // Handoff of another node's packets over the sync segment (worker/handoff.ts).
  'handoff_sent', // packets of a replica of another group handed to its owner
  'handoff_send_errors', // of those, not sent (too long for a datagram, socket error)
  'handoff_received', // authenticated packets a peer handed to this node
  'handoff_rejected', // datagrams refused: malformed, failing authentication, replayed, another virtio header length
  'handoff_not_owner', // handed packets dropped here: this node does not own their connection either
  'handoff_rate_limited', // authenticated handed packets dropped: their sender was over sync.handoffRate
  // Deferral of new connections' first packets until the peers have their state (worker/defer.ts).
  'defer_held', // first packets held
  'defer_acked', // of those, sent when every live peer acknowledged the connection's record
  'defer_timeout', // of those, sent when sync.deferMs passed first
  'defer_overflow', // first packets not held: the deferral was full, or the packet too long
  'sniffed_packets', // sniff mode: IP packets seen on the watched segments
  'sniffed_new', // sniff mode: connections learned from them
  'nat_new', // connections given a NAT binding (snat, masquerade, dnat, redirect)
  'nat_exhausted_drops', // first packets dropped: every port of the NAT range was taken
  'nat_failed_drops', // first packets dropped: NAT impossible (no interface address, family mismatch)
  'nat_translated', // ICMP errors translated for a NATed connection
  'to_node', // packets on the input path: addressed to the node itself (after prerouting), or answers to its own connections
  'from_node', // packets on the output path: sent by the node itself, or its answers to connections to it
  'forwarded', // packets on the forward path (neither to nor from the node)
  // Flowtables (`flow add @f`, worker/filter-stage.ts).
  'flow_offloaded', // connections offloaded to a flowtable
  'flow_fastpath', // packets forwarded on the flowtable fast path (no rule evaluated); counted in forwarded too
  'flow_teardown', // offloaded connections given back to the slow path (TCP FIN/RST, flowtable gone, interface not in it)
  // Fragments (reassembly.ts). The gauges mirror the reassembler's running totals each batch.
  'frag_queued', // fragments taken for reassembly
  'frag_reassembled', // datagrams completed and handed to the filter
  'frag_forwarded', // fragments written back after their datagram was accepted
  'frag_discarded', // fragments thrown away: their datagram was dropped, timed out, overlapped or over a limit
  'frag_timeouts', // datagrams given up incomplete (30 s IPv4, 60 s IPv6)
  'frag_overlaps', // datagrams given up: overlapping fragments (RFC 5722)
  'frag_over_limit', // fragments refused: reassembly memory budget full or too many fragments in one datagram
  'frag_malformed', // fragments refused or datagrams given up as malformed (length, past 65,535 bytes)
  'frag_duplicates', // exact duplicate fragments ignored
  'frag_held_bytes', // bytes held by incomplete datagrams now (a gauge)
  // Ruleset `log` lines (worker/log-collector.ts).
  'ruleset_log_lines', // lines handed to the control thread for the node log
  'ruleset_log_dropped_statement', // lines held back by the statement's own limit (10/s, burst 20)
  'ruleset_log_dropped_rate', // lines held back by the node-wide limit (log.rulesetRate / rulesetBurst)
  'ruleset_log_dropped_buffer', // lines dropped because the buffer to the control thread was full
  'ruleset_log_pcap_packets', // logged packets written to log.pcapFile
  'ruleset_log_pcap_dropped', // logged packets not written there: the file reached log.pcapMaxBytes (or a write failed)
  // Event streams (worker/ct-event-tap.ts, worker/trace-collector.ts): only while someone subscribes.
  'ct_events', // connection events handed to the control thread for `hafw ct events` subscribers
  'ct_events_dropped', // connection events dropped: the rate cap or the queue to the control thread was full
  'trace_packets', // traced packets handed to the control thread for `hafw trace` sessions
  'trace_dropped', // traced packets dropped: the rate cap or the queue to the control thread was full
  // Conntrack helpers (conntrack/ftp-helper.ts, expectations.ts): gauges of the tracker's running totals.
  'ct_expectations', // expectations waiting for their data connection now
  'ct_expect_created', // expectations made from FTP announcements
  'ct_expect_matched', // new connections that matched one (ct state related)
  'ct_expect_refused', // announcements not followed: the expectation table was full
  'ct_ftp_foreign', // announcements not followed: the announced address is not the sender's own
  'ct_ftp_nat_rewritten', // announcements on NATed control connections rewritten (nat/ftp-nat.ts)
  'ct_ftp_nat_retransmitted', // retransmissions of a rewritten segment rewritten again with the same text
  'ct_ftp_nat_split', // segments dropped on NATed control connections: an announcement cut by the segment's end
  'ct_ftp_nat_failed', // segments dropped on NATed control connections: the rewrite could not be done (no port, no room, inconsistent retransmission)
  'ct_ftp_nat_second', // announcements passed as they were: another one in the same segment was rewritten (one rewrite per segment)
  'ct_expect_replicated', // expectations installed from a peer's record (state sync)
  'ct_expect_replica_refused', // a peer's expectations not installed: table full, or not between the ends of its control connection
  // Sets filled from the packet path (ruleset/modules/dynset.ts).
  'ruleset_set_full', // packets whose key an add/update @set or meter could not add: the set held its size (the rule did not match)
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];

/** Index of each counter, as a plain object of numbers for the hot path. */
export const C = Object.freeze(
  Object.fromEntries(COUNTER_NAMES.map((n, i) => [n, i])) as { [K in CounterName]: number },
);

export function createCounterBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(COUNTER_NAMES.length * 8);
}

export function readCounters(sab: SharedArrayBuffer): Record<CounterName, number> {
  const view = new Float64Array(sab);
  const out = {} as Record<CounterName, number>;
  COUNTER_NAMES.forEach((n, i) => (out[n] = view[i]!));
  return out;
}
