// Failover drills: start one (the master resigns, the peer takes over, the master takes
// back after the hold), follow it on the event stream, and plot its timeline.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { html, ErrorText, fmt } from '/console/ui.js';
import { api } from '/console/api.js';

/** Whether this node holds mastership after each drill phase (1) or not (0). */
const MASTER_AFTER = { started: 1, resigned: 0, takeover: 0, 'no-takeover': 0, holding: 0, resumed: 0, reclaimed: 1, 'not-reclaimed': 0 };

function Timeline({ points }) {
  const box = useRef(null);
  const plot = useRef(null);
  const data = [points.map((p) => p.t), points.map((p) => p.master)];
  useEffect(() => {
    plot.current = new uPlot({
      title: 'Drill timeline: this node is master (1) or not (0)',
      width: Math.max(280, box.current.clientWidth),
      height: 180,
      scales: { x: { time: false }, y: { range: [-0.1, 1.1] } },
      axes: [{ label: 'seconds since start' }, { values: (_u, vals) => vals.map((v) => (v === 1 ? 'master' : v === 0 ? 'not' : '')) }],
      series: [{ label: 's' }, { label: 'master', stroke: '#0b5cad', width: 2, paths: uPlot.paths.stepped({ align: 1 }), points: { size: 7 } }],
    }, data, box.current);
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => plot.current?.setData(data), [points]);
  return html`<figure class="chart" data-testid="drill-timeline" data-points=${points.length} role="img" aria-label=${`drill timeline, ${points.length} phases`} ref=${box}></figure>`;
}

function Report({ r, points }) {
  return html`<section class="card" aria-labelledby="drill-h" data-testid="drill-report" data-status=${r.status}>
    <h2 id="drill-h">Drill ${r.id}: ${r.status} (${r.phase})</h2>
    <dl class="kv">
      <dt>Started</dt><dd>${new Date(r.startedAt).toLocaleTimeString()}${r.finishedAt ? `, finished ${new Date(r.finishedAt).toLocaleTimeString()}` : ''}</dd>
      <dt>Takeover</dt><dd data-testid="takeover">${r.takeover ? `${r.takeover.peer} (priority ${r.takeover.priority}) took over in ${fmt(r.takeover.ms)} ms` : r.status === 'running' ? 'waiting…' : 'none'}</dd>
      <dt>Peer in sync</dt><dd>${r.peerInSync === null ? 'no sync configured' : r.peerInSync ? 'yes: its connection table was complete, flows survive' : 'NO: flows may be lost'}</dd>
      <dt>Hold</dt><dd>${r.holdSeconds} s</dd>
      <dt>Taken back</dt><dd>${r.reclaimMs !== null ? `after ${fmt(r.reclaimMs)} ms` : r.preempt ? (r.status === 'running' ? 'not yet' : 'no') : 'no (preemption off)'}</dd>
      ${r.finalState && html`<dt>Final state</dt><dd>${r.finalState}</dd>`}
      ${r.error && html`<dt>Error</dt><dd class="error">${r.error}</dd>`}
    </dl>
    ${points.length > 0 && html`<${Timeline} points=${points} />`}
  </section>`;
}

export function Drills({ hub, cluster }) {
  const [hold, setHold] = useState('5');
  const [current, setCurrent] = useState(null);
  const [seen, setSeen] = useState([]);
  const [past, setPast] = useState([]);
  const [error, setError] = useState(null);
  const started = useRef(0);
  const loadPast = () => api('GET', '/v1/drills').then(setPast, setError);
  useEffect(() => void loadPast(), []);
  // Every drill event from the moment a start is asked for (the first may arrive before
  // the POST's answer names the drill); the report is re-read on each.
  useEffect(() => hub.on((ev) => {
    if (ev.type !== 'drill' || started.current === 0) return;
    setSeen((s) => [...s, { id: ev.data.id, phase: ev.data.phase, t: (ev.time.getTime() - started.current) / 1000 }]);
    void api('GET', `/v1/drills/${ev.data.id}`).then((r) => { setCurrent(r); if (r.status !== 'running') void loadPast(); }, setError);
  }), [hub]);
  const start = async (e) => {
    e.preventDefault();
    setError(null);
    setSeen([]);
    started.current = Date.now();
    try {
      setCurrent(await api('POST', '/v1/drills', { mode: 'resign', holdSeconds: Number(hold) }));
    } catch (err) {
      started.current = 0;
      setError(err);
    }
  };
  const points = [{ t: 0, master: 1, phase: 'requested' }];
  for (const p of seen) if (current && p.id === current.id) points.push({ t: p.t, master: MASTER_AFTER[p.phase] ?? points[points.length - 1].master, phase: p.phase });
  const role = cluster.cluster?.vrrpState ?? cluster.status?.role;
  return html`
    <p>A drill makes this node (the master) resign: the backup takes over the VIPs, and after the hold this node takes them back (with preemption). Run it on the master.</p>
    <form class="row" onSubmit=${start}>
      <div class="field"><label for="hold">Hold (seconds)</label><input id="hold" type="number" min="1" max="600" value=${hold} onInput=${(e) => setHold(e.currentTarget.value)} /></div>
      <button type="submit" disabled=${current?.status === 'running'}>Start drill</button>
      <span class="muted">this node is ${role ?? '…'}</span>
    </form>
    <${ErrorText} err=${error} />
    ${current && html`<${Report} r=${current} points=${points.length > 1 ? points : []} />`}
    <h2>Earlier drills</h2>
    <div class="table-wrap"><table><thead><tr><th scope="col">Id</th><th scope="col">Started</th><th scope="col">Status</th><th scope="col">Takeover</th><th scope="col">Taken back</th></tr></thead>
    <tbody>${past.length === 0 ? html`<tr><td colspan="5" class="muted">none on this node</td></tr>` : [...past].reverse().map((r) => html`<tr><td>${r.id}</td><td>${new Date(r.startedAt).toLocaleString()}</td><td>${r.status}</td><td>${r.takeover ? `${r.takeover.peer} in ${fmt(r.takeover.ms)} ms` : '-'}</td><td>${r.reclaimMs !== null ? `${fmt(r.reclaimMs)} ms` : '-'}</td></tr>`)}</tbody></table></div>`;
}
