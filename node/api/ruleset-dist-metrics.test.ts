import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { registerRulesetDistMetrics, type RulesetDistMetricsSource } from './ruleset-dist-metrics.js';

describe('ruleset distribution metrics', () => {
  const snapshot = (drift: boolean): RulesetDistMetricsSource => ({
    status: {
      version: 7, drift, ready: true,
      nodes: [
        { name: 'fwa', version: 7, hash: 'a'.repeat(64), drift: false, self: true },
        { name: 'fwb', version: 6, hash: 'b'.repeat(64), drift: false, self: false },
      ],
    },
    counters: {
      announcesSent: 10, announcesReceived: 9, updatesSent: 3, updatesApplied: 2, fetchesServed: 1, fetches: 4, fetchFailures: 1, driftDetected: 2, repairs: 1,
      dropped: { malformed: 5, auth: 1, replay: 0, own: 8, oversize: 2 },
    },
    server: { open: 1, refusedLimit: 3, closedDeadline: 4, refusedHead: 6 },
  });

  it('exports per-node versions and hashes, this node\'s drift, and the counters at scrape time', async () => {
    const reg = new Registry();
    reg.setDefaultLabels({ node: 'fwa' });
    let cur: RulesetDistMetricsSource | undefined = snapshot(false);
    registerRulesetDistMetrics(reg, () => cur);
    let text = await reg.metrics();
    assert.match(text, /^hafw_ruleset_version\{member="fwb",node="fwa"\} 6$/m);
    assert.match(text, /^hafw_ruleset_version\{member="fwa",node="fwa"\} 7$/m);
    assert.match(text, new RegExp(`^hafw_ruleset_info\\{member="fwb",hash="${'b'.repeat(64)}",node="fwa"\\} 1$`, 'm'));
    assert.match(text, /^hafw_ruleset_drift\{node="fwa"\} 0$/m);
    assert.match(text, /^hafw_ruleset_dist_dropped_total\{reason="auth",node="fwa"\} 1$/m);
    assert.match(text, /^hafw_ruleset_dist_dropped_total\{reason="oversize",node="fwa"\} 2$/m);
    assert.match(text, /^hafw_ruleset_fetch_connections\{node="fwa"\} 1$/m);
    assert.match(text, /^hafw_ruleset_fetch_connections_closed_total\{reason="limit",node="fwa"\} 3$/m);
    assert.match(text, /^hafw_ruleset_fetch_connections_closed_total\{reason="deadline",node="fwa"\} 4$/m);
    assert.match(text, /^hafw_ruleset_fetch_connections_closed_total\{reason="head",node="fwa"\} 6$/m);
    assert.match(text, /^hafw_ruleset_fetches_total\{result="ok",node="fwa"\} 3$/m);
    assert.match(text, /^hafw_ruleset_drift_detected_total\{node="fwa"\} 2$/m);
    cur = snapshot(true);
    text = await reg.metrics();
    assert.match(text, /^hafw_ruleset_drift\{node="fwa"\} 1$/m);
    cur = undefined;
    text = await reg.metrics();
    assert.doesNotMatch(text, /^hafw_ruleset_version\{/m, 'no series while distribution is off');
  });
});
