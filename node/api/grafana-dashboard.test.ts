import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import { SyncMetrics } from '../../sync-protocol/index.js';
import { createNodeMetrics } from './metrics.js';

const DASHBOARD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../deploy/grafana/hafw-dashboard.json');

/** PromQL words that are not metric names: operators, modifiers, aggregation clauses. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2']);

/** A selector in an expression: the metric name and the label names its matchers use. */
interface Selector {
  metric: string;
  labels: string[];
}

/**
 * The metric selectors of a PromQL expression, as far as a dashboard's queries need:
 * strings, Grafana variables and range brackets are blanked; `by (...)`-style label lists
 * are dropped; a name followed by `(` is a function; what stays is a metric name, with the
 * labels of the `{...}` right after it. `label_values(metric, label)` (Grafana's variable
 * query) names its metric first.
 */
function selectorsOf(expr: string): Selector[] {
  let e = expr.replace(/^\s*label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*\w+\s*\)\s*$/, '$1');
  e = e.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  e = e.replace(/\$\{[^}]*\}|\$\w+/g, '0');
  e = e.replace(/\[[^\]]*\]/g, ' ');
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const out: Selector[] = [];
  const re = /([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?\s*(\()?/g;
  for (let m = re.exec(e); m; m = re.exec(e)) {
    const [, name, braces, call] = m;
    const prev = e[m.index - 1];
    if (prev !== undefined && /[\w.]/.test(prev)) continue; // inside a number (1e3) or a word
    if (call && !braces) continue; // a function
    if (KEYWORDS.has(name!.toLowerCase())) continue;
    const labels = braces ? [...braces.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1]!) : [];
    out.push({ metric: name!, labels });
  }
  return out;
}

/** Every series name the node exports, with the label names each takes. */
function exportedSeries(): Map<string, Set<string>> {
  const node = createNodeMetrics({
    nodeName: 'fwa',
    datapathCounters: () => ({}),
    vrrp: () => ({ state: 'backup', priority: 100, inSync: true, counters: {} }),
    ruleset: () => ({ generation: 1, rules: 1, elements: 0 }),
    eventStreams: () => [],
    rulesetDist: () => undefined,
    apiTlsCertExpiry: () => 0,
  });
  const registries: Registry[] = [node, new SyncMetrics().registry];
  const out = new Map<string, Set<string>>();
  for (const r of registries) {
    for (const m of r.getMetricsAsArray()) {
      const labels = new Set(['node', ...((m as unknown as { labelNames?: string[] }).labelNames ?? [])]);
      const type = (m as unknown as { type: string }).type;
      // The series a histogram is scraped as (a summary would add quantile series).
      const names = type === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : type === 'summary' ? [m.name, `${m.name}_sum`, `${m.name}_count`] : [m.name];
      for (const n of names) out.set(n, n.endsWith('_bucket') ? new Set([...labels, 'le']) : labels);
    }
  }
  return out;
}

interface Panel {
  title?: string;
  type: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

function queriesOf(dashboard: { panels: Panel[]; templating?: { list: { name: string; query?: string | { query?: string } }[] } }): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      for (const [i, t] of (p.targets ?? []).entries()) if (t.expr !== undefined) out.push({ where: `panel "${p.title}" target ${i}`, expr: t.expr });
      if (p.panels) walk(p.panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (q !== undefined && v.name !== 'datasource') out.push({ where: `variable $${v.name}`, expr: q });
  }
  return out;
}

describe('Grafana dashboard (deploy/grafana/hafw-dashboard.json)', () => {
  it('reads metric names and their label matchers out of PromQL', () => {
    assert.deepEqual(selectorsOf('histogram_quantile(0.99, sum by (node, le) (rate(hafw_sync_lag_seconds_bucket{node=~"$node"}[$__rate_interval])))'), [{ metric: 'hafw_sync_lag_seconds_bucket', labels: ['node'] }]);
    assert.deepEqual(selectorsOf('2 * sum by (node) (hafw_vrrp_state{state="master"}) + up offset 5m unless on (node) bogus_total'), [
      { metric: 'hafw_vrrp_state', labels: ['state'] },
      { metric: 'up', labels: [] },
      { metric: 'bogus_total', labels: [] },
    ]);
    assert.deepEqual(selectorsOf('label_values(hafw_build_info, node)'), [{ metric: 'hafw_build_info', labels: [] }]);
    assert.deepEqual(selectorsOf('rate(x_total{a="b{c}", d!~"e,f"}[1m]) / 1e3'), [{ metric: 'x_total', labels: ['a', 'd'] }]);
  });

  it('every query names only series the node exports (histograms as _bucket/_sum/_count), with labels those series have', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Parameters<typeof queriesOf>[0];
    const series = exportedSeries();
    const queries = queriesOf(dashboard);
    assert.ok(queries.length >= 20, `only ${queries.length} queries found: the walk missed panels`);
    const problems: string[] = [];
    const used = new Set<string>();
    for (const q of queries) {
      const sels = selectorsOf(q.expr);
      if (sels.length === 0) problems.push(`${q.where}: no metric in ${q.expr}`);
      for (const s of sels) {
        used.add(s.metric);
        const labels = series.get(s.metric);
        if (!labels) problems.push(`${q.where}: ${s.metric} is not a series the node exports`);
        else for (const l of s.labels) if (!labels.has(l)) problems.push(`${q.where}: ${s.metric} has no label ${l} (has ${[...labels].join(', ')})`);
      }
    }
    assert.deepEqual(problems, []);
    // What issue 21 asks the dashboard to show.
    for (const m of ['hafw_sync_lag_seconds_bucket', 'hafw_sync_records_applied_total', 'hafw_vrrp_state', 'hafw_vrrp_transitions_total', 'hafw_ruleset_version', 'hafw_ruleset_drift', 'hafw_datapath_packets_total', 'hafw_datapath_verdicts_total']) {
      assert.ok(used.has(m), `no panel shows ${m}`);
    }
  });

  it('is importable: unique panel ids, a datasource variable every panel uses, grid positions inside 24 columns', () => {
    const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: (Panel & { id: number; gridPos: { x: number; w: number }; datasource?: { uid: string } })[]; templating: { list: { name: string; type: string }[] } };
    assert.equal(d.uid, 'hafw-cluster');
    assert.ok(d.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'));
    const ids = d.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const p of d.panels) {
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} overflows the grid`);
      if (p.type !== 'row') assert.equal(p.datasource?.uid, '${datasource}', `${p.title} ignores the datasource variable`);
    }
  });
});
