import assert from 'node:assert/strict';
import { createNodeMetrics } from './metrics.js';
import { buildInfo } from '../build-info.js';

describe('node metrics', () => {
  it('exposes hafw_build_info = 1 with the version, commit and Node.js version as labels', async () => {
    const text = await createNodeMetrics({ nodeName: 'fwa', datapathCounters: () => ({}) }).metrics();
    const b = buildInfo();
    assert.ok(text.split('\n').includes(`hafw_build_info{version="${b.version}",commit="${b.commit ?? ''}",nodejs="${process.versions.node}",node="fwa"} 1`), text.split('\n').filter((l) => l.includes('build_info')).join('\n'));
  });

  it('exposes the NAT and local-delivery counters of the datapath', async () => {
    const counters: Record<string, number> = { nat_new: 7, nat_exhausted_drops: 2, nat_failed_drops: 1, nat_translated: 3, to_node: 11 };
    const registry = createNodeMetrics({ nodeName: 'fwa', datapathCounters: () => counters });
    const text = await registry.metrics();
    for (const line of [
      'hafw_nat_bindings_total{node="fwa"} 7',
      'hafw_nat_dropped_total{reason="exhausted",node="fwa"} 2',
      'hafw_nat_dropped_total{reason="failed",node="fwa"} 1',
      'hafw_nat_icmp_translated_total{node="fwa"} 3',
      'hafw_datapath_to_node_packets_total{node="fwa"} 11',
    ]) assert.ok(text.split('\n').includes(line), `missing: ${line}`);
    counters.nat_new = 9; // read at scrape time
    assert.ok((await registry.metrics()).split('\n').includes('hafw_nat_bindings_total{node="fwa"} 9'));
  });

  it('exposes the ruleset log lines written and dropped', async () => {
    const counters: Record<string, number> = { ruleset_log_lines: 5, ruleset_log_dropped_statement: 1, ruleset_log_dropped_rate: 2, ruleset_log_dropped_buffer: 3, ruleset_log_pcap_packets: 4, ruleset_log_pcap_dropped: 6 };
    const text = (await createNodeMetrics({ nodeName: 'fwa', datapathCounters: () => counters }).metrics()).split('\n');
    for (const line of [
      'hafw_ruleset_log_lines_total{node="fwa"} 5',
      'hafw_ruleset_log_dropped_total{reason="statement",node="fwa"} 1',
      'hafw_ruleset_log_dropped_total{reason="rate",node="fwa"} 2',
      'hafw_ruleset_log_dropped_total{reason="buffer",node="fwa"} 3',
      'hafw_ruleset_log_pcap_packets_total{node="fwa"} 4',
      'hafw_ruleset_log_pcap_dropped_total{node="fwa"} 6',
    ]) assert.ok(text.includes(line), `missing: ${line}`);
  });

  it('exposes the fragment reassembly counters', async () => {
    const counters: Record<string, number> = { frag_queued: 12, frag_reassembled: 3, frag_forwarded: 8, frag_discarded: 4, frag_timeouts: 1, frag_overlaps: 2, frag_over_limit: 5, frag_malformed: 6, frag_duplicates: 7, frag_held_bytes: 1500 };
    const registry = createNodeMetrics({ nodeName: 'fwa', datapathCounters: () => counters });
    const text = (await registry.metrics()).split('\n');
    for (const line of [
      'hafw_fragments_queued_total{node="fwa"} 12',
      'hafw_fragments_reassembled_total{node="fwa"} 3',
      'hafw_fragments_forwarded_total{node="fwa"} 8',
      'hafw_fragments_dropped_total{reason="discarded",node="fwa"} 4',
      'hafw_fragments_dropped_total{reason="timeout",node="fwa"} 1',
      'hafw_fragments_dropped_total{reason="overlap",node="fwa"} 2',
      'hafw_fragments_dropped_total{reason="over_limit",node="fwa"} 5',
      'hafw_fragments_dropped_total{reason="malformed",node="fwa"} 6',
      'hafw_fragments_dropped_total{reason="duplicate",node="fwa"} 7',
      'hafw_fragments_held_bytes{node="fwa"} 1500',
    ]) assert.ok(text.includes(line), `missing: ${line}`);
  });

  it('exposes conntrack expiry by origin and VRRP send errors beside the sent advertisements', async () => {
    const counters: Record<string, number> = { ct_expired: 12, ct_expired_replicas: 5 };
    const vrrp = { state: 'master', priority: 1, inSync: true, counters: { advertsSent: 40, advertSendErrors: 3, advertsReceived: 2, advertsRejected: 0 } };
    const registry = createNodeMetrics({ nodeName: 'fwa', datapathCounters: () => counters, vrrp: () => vrrp });
    const text = (await registry.metrics()).split('\n');
    for (const line of [
      'hafw_conntrack_expired_total{origin="local",node="fwa"} 7',
      'hafw_conntrack_expired_total{origin="replica",node="fwa"} 5',
      'hafw_vrrp_adverts_total{event="sent",node="fwa"} 40',
      'hafw_vrrp_adverts_total{event="send_error",node="fwa"} 3',
    ]) assert.ok(text.includes(line), `missing: ${line}`);
  });

  it('exposes each VRRP group\'s state, priority and transitions (active/active); the plain series stay the first group\'s', async () => {
    const groups = [
      { name: 'a', vrid: 51, state: 'master', priority: 200, counters: { transitions: 2 } },
      { name: 'b', vrid: 52, state: 'backup', priority: 100, counters: { transitions: 3 } },
    ];
    const vrrp = { state: 'master', priority: 200, inSync: true, counters: { transitions: 2 }, groups };
    const text = (await createNodeMetrics({ nodeName: 'fwa', datapathCounters: () => ({}), vrrp: () => vrrp }).metrics()).split('\n');
    for (const line of [
      'hafw_vrrp_state{state="master",node="fwa"} 1',
      'hafw_vrrp_transitions_total{node="fwa"} 2',
      'hafw_vrrp_group_state{group="a",vrid="51",state="master",node="fwa"} 1',
      'hafw_vrrp_group_state{group="b",vrid="52",state="master",node="fwa"} 0',
      'hafw_vrrp_group_state{group="b",vrid="52",state="backup",node="fwa"} 1',
      'hafw_vrrp_group_priority{group="a",vrid="51",node="fwa"} 200',
      'hafw_vrrp_group_priority{group="b",vrid="52",node="fwa"} 100',
      'hafw_vrrp_group_transitions_total{group="a",vrid="51",node="fwa"} 2',
      'hafw_vrrp_group_transitions_total{group="b",vrid="52",node="fwa"} 3',
    ]) assert.ok(text.includes(line), `missing: ${line}`);
  });
});
