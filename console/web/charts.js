// Sync lag and datapath rates. The node has no stream for these figures (they are metrics,
// like Prometheus scrapes them), so the Sampler reads them every 2 s while the console is
// open and keeps the last 5 minutes; the charts draw from it. Everything else in the
// console follows the event stream.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { html, fmt } from '/console/ui.js';
import { api } from '/console/api.js';
import { ratesBetween, SeriesWindow } from '/console/lib/rates.js';

const PERIOD_MS = 2000;
const POINTS = 150; // 5 minutes

export class Sampler {
  constructor() {
    this.lag = new SeriesWindow(['p50', 'p99', 'replication'], POINTS);
    this.dp = new SeriesWindow(['rx', 'tx', 'accept', 'drop', 'reject', 'malformed'], POINTS);
    this.subs = new Set();
    this.latest = null;
    this.prev = null;
    this.histogram = null;
  }
  on(fn) { this.subs.add(fn); return () => this.subs.delete(fn); }
  start() {
    if (this.timer) return;
    const tick = async () => {
      try { await this.sample(); } catch { /* the next tick tries again; the views show the API errors */ }
      this.timer = setTimeout(tick, PERIOD_MS);
    };
    this.timer = setTimeout(tick, 0);
  }
  stop() { clearTimeout(this.timer); this.timer = undefined; }
  async sample() {
    // The report's lag p50/p99 cover the node's last 10 s of samples, whoever else asked for
    // reports in between (the node's own pollers do, every 200 ms): a burst of replicated
    // traffic shows in the next samples, not only when it fell just before this read.
    const status = await api('GET', '/v1/status');
    // A node without sync (no `sync` in its status) is not asked: its 404 would be noise.
    const sync = status.sync === undefined ? null : await api('GET', '/v1/sync/stats').catch((e) => (e.status === 404 ? null : Promise.reject(e)));
    const metrics = await api('GET', '/metrics').catch(() => null);
    const now = Date.now();
    const counters = {
      rx: status.datapath.counters.rx_packets ?? 0,
      tx: status.datapath.counters.tx_packets ?? 0,
      accept: status.datapath.counters.verdict_accept ?? 0,
      drop: status.datapath.counters.verdict_drop ?? 0,
      reject: status.datapath.counters.verdict_reject ?? 0,
      malformed: status.datapath.counters.malformed ?? 0,
      // Records this node sent (master) and applied from peers (backup): both are replication.
      replication: sync ? (sync.status.counters.recordsSent ?? 0) + (sync.status.counters.recordsApplied ?? 0) : 0,
    };
    const lag = sync ? sync.status.lagMs : null;
    if (this.prev) {
      const r = ratesBetween(this.prev.counters, counters, (now - this.prev.at) / 1000);
      const t = now / 1000;
      this.lag.push(t, { p50: lag?.p50 ?? null, p99: lag?.p99 ?? null, replication: sync ? r.replication : null });
      this.dp.push(t, r);
      this.latest = { at: now, lag, rates: r, inSync: sync?.inSync ?? null };
    }
    if (typeof metrics === 'string') this.histogram = lagHistogram(metrics);
    this.prev = { at: now, counters };
    for (const fn of [...this.subs]) fn();
  }
}

/** hafw_sync_lag_seconds buckets from the Prometheus text: [{le, count}] per bucket (not cumulative). */
export function lagHistogram(text) {
  const cum = new Map();
  for (const line of text.split('\n')) {
    const m = /^hafw_sync_lag_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} ([0-9.e+-]+)$/.exec(line);
    if (m) cum.set(m[1], (cum.get(m[1]) ?? 0) + Number(m[2]));
  }
  const les = [...cum.keys()].sort((a, b) => (a === '+Inf' ? 1 : b === '+Inf' ? -1 : Number(a) - Number(b)));
  let before = 0;
  return les.map((le) => {
    const c = cum.get(le);
    const out = { le, count: c - before };
    before = c;
    return out;
  });
}

function useSampler(sampler) {
  const [n, setN] = useState(0);
  useEffect(() => sampler.on(() => setN((x) => x + 1)), [sampler]);
  return n;
}

/** A uPlot chart sized to its box, redrawn with `data` on each sample. */
function Plot({ title, series, data, id }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const el = box.current;
    const width = Math.max(280, el.clientWidth);
    plot.current = new uPlot({
      title,
      width,
      height: 220,
      scales: { x: { time: true } },
      axes: [{}, { label: series[0].unit }, ...(series.some((s) => s.scale === 'r') ? [{ side: 1, scale: 'r', label: series.find((s) => s.scale === 'r').unit, grid: { show: false } }] : [])],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, scale: s.scale ?? 'y', spanGaps: true }))],
    }, data, el);
    const onResize = () => plot.current?.setSize({ width: Math.max(280, el.clientWidth), height: 220 });
    addEventListener('resize', onResize);
    return () => { removeEventListener('resize', onResize); plot.current?.destroy(); plot.current = null; };
  }, []);
  useEffect(() => { plot.current?.setData(data); }, [data]);
  // data-values: points of the first series with a value (a test can see the line has data).
  const values = data[1] ? data[1].filter((v) => v !== null && v !== undefined).length : 0;
  return html`<figure class="chart" id=${id} data-points=${data[0].length} data-values=${values} role="img" aria-label=${`${title}: ${data[0].length} samples`} ref=${box}></figure>`;
}

export function Charts({ sampler }) {
  useSampler(sampler);
  const l = sampler.latest;
  const hist = sampler.histogram ?? [];
  const max = Math.max(1, ...hist.map((b) => b.count));
  return html`
    <p class="muted">Read every 2 s from the node's metrics (there is no stream for them); the last 5 minutes. Each lag point covers the 10 s before it.</p>
    <h2>Sync lag and replication</h2>
    <p>${l ? html`lag p50 ${fmt(l.lag?.p50)} ms, p99 ${fmt(l.lag?.p99)} ms; replication ${fmt(l.rates.replication)} records/s` : 'collecting…'}</p>
    <${Plot} id="lag-chart" title="Sync lag (ms) and replication rate (records/s)" data=${sampler.lag.columns()}
      series=${[{ label: 'lag p50', color: '#0b5cad', unit: 'ms' }, { label: 'lag p99', color: '#b42318', unit: 'ms' }, { label: 'replication', color: '#1a7f37', unit: 'records/s', scale: 'r' }]} />
    <h2>Lag histogram</h2>
    ${hist.length === 0 ? html`<p class="muted">no lag samples yet (hafw_sync_lag_seconds)</p>` : html`
      <div class="table-wrap"><table data-testid="lag-histogram"><thead><tr><th scope="col">lag ≤</th><th scope="col">samples</th><th scope="col"><span class="sr-only">bar</span></th></tr></thead>
      <tbody>${hist.map((b) => html`<tr><td>${b.le === '+Inf' ? '∞' : `${fmt(Number(b.le) * 1000, 3)} ms`}</td><td>${b.count}</td><td><meter min="0" max=${max} value=${b.count} aria-label=${`${b.count} samples`}></meter></td></tr>`)}</tbody></table></div>`}
    <h2>Datapath</h2>
    <${Plot} id="dp-chart" title="Datapath (packets/s)" data=${sampler.dp.columns()}
      series=${[{ label: 'rx', color: '#0b5cad', unit: 'packets/s' }, { label: 'tx', color: '#6639ba' }, { label: 'accept', color: '#1a7f37' }, { label: 'drop', color: '#b42318' }, { label: 'reject', color: '#9a6700' }, { label: 'malformed', color: '#59636e' }]} />`;
}
