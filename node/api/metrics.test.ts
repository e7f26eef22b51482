import assert from 'node:assert/strict';
import { createNodeMetrics } from './metrics.js';

describe('node metrics', () => {
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
});
