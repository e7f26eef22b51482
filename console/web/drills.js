// Failover drills: start one (the master resigns, the peer takes over, the master takes
// back after the hold), follow it on the event stream, and plot its timeline.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { html, ErrorText, fmt } from '/console/ui.js';
import { api, session, VIEW_ONLY } from '/console/api.js';

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

/** This node's forwarded packets per second through the drill, the resume and the return marked. */
function TrafficChart({ tr }) {
  const box = useRef(null);
  useEffect(() => {
    const marks = [[0, 'resign'], [tr.resumeMs, 'resume'], [tr.reclaimMs, 'master']].filter(([x]) => x !== null && x !== undefined);
    const plot = new uPlot({
      title: 'Packets forwarded by this node (per second)',
      width: Math.max(280, box.current.clientWidth),
      height: 200,
      scales: { x: { time: false } },
      axes: [{ label: 'seconds since the resign' }, { label: 'packets/s' }],
      series: [{ label: 's' }, { label: 'forwarded', stroke: '#0b5cad', width: 1.5, fill: 'rgba(11,92,173,.12)' }],
      hooks: {
        draw: [(u) => {
          const { ctx } = u;
          ctx.save();
          ctx.strokeStyle = '#9a6700';
          ctx.fillStyle = '#9a6700';
          ctx.setLineDash([4, 4]);
          for (const [i, [x, label]] of marks.entries()) {
            const px = u.valToPos(x / 1000, 'x', true);
            ctx.beginPath();
            ctx.moveTo(px, u.bbox.top);
            ctx.lineTo(px, u.bbox.top + u.bbox.height);
            ctx.stroke();
            // Stacked: the resume and the return are often a few pixels apart.
            ctx.fillText(label, px + 3, u.bbox.top + 12 * (i + 1));
          }
          ctx.restore();
        }],
      },
    }, [tr.timeline.t.map((v) => v / 1000), tr.timeline.pps], box.current);
    return () => plot.destroy();
  }, [tr]);
  return html`<figure class="chart" data-testid="traffic-timeline" data-points=${tr.timeline.t.length} role="img" aria-label=${`packets this node forwarded per second, ${tr.timeline.t.length} samples`} ref=${box}></figure>`;
}

const ms = (v) => (v === null || v === undefined ? null : `${fmt(v)} ms`);

/** The traffic part of a report: what this node saw (docs/console.md, drill reports). */
function Traffic({ tr }) {
  const f = tr.flows;
  return html`<section aria-labelledby="traffic-h" data-testid="drill-traffic">
    <h3 id="traffic-h">What the traffic saw (from this node)</h3>
    <dl class="kv">
      <dt>Before the resign</dt><dd>${fmt(tr.beforePps)} packets/s forwarded here</dd>
      <dt>Traffic left this node</dt><dd data-testid="traffic-left">${tr.beforePps === 0 ? 'no traffic before the drill' : tr.leftMs === null ? 'it did not: still here when the node resumed' : tr.leftMs === 0 ? 'at the resign' : `${ms(tr.leftMs)} after the resign (the new master's announcement moved it)`}</dd>
      <dt>Traffic came back</dt><dd>${tr.backMs === null ? (tr.beforePps === 0 ? '-' : 'not within the window') : `${ms(tr.backMs)} after the resume`}</dd>
      ${tr.afterPps !== null && tr.afterPps !== undefined && tr.beforePps > 0 && html`<dt>After the return</dt><dd data-testid="traffic-after" class=${tr.afterPps < tr.beforePps / 2 ? 'warn' : ''}>${fmt(tr.afterPps)} packets/s in the last second (${Math.round((100 * tr.afterPps) / tr.beforePps)}% of before)${tr.afterPps < tr.beforePps / 2 ? ': the traffic does not run as before the drill' : ''}</dd>`}
      <dt>Flows moving data at the resign</dt><dd data-testid="flows">${f.error ? html`<span class="muted">not watched: ${f.error}</span>`
        : html`${f.watched} watched: <strong data-testid="flows-survived">${f.survived}</strong> survived (the new master forwarded them), ${f.ended} ended, ${f.notSeen} not seen${f.capped ? ` (only the first ${f.watched} of ${f.candidates} watched)` : ''}`}</dd>
    </dl>
    ${tr.note && html`<p class="warn">${tr.note}</p>`}
    <p class="muted">"Not seen" is not "lost": the new master reported no packet of the flow during the hold. It may have stalled, or been quiet.</p>
    <${TrafficChart} tr=${tr} />
    ${f.list?.length > 0 && html`<details><summary>Flows (${f.list.length} of ${f.watched})</summary><div class="table-wrap"><table><thead><tr><th scope="col">Flow</th><th scope="col">Outcome</th><th scope="col">Records from the new master</th><th scope="col">Seen after</th></tr></thead>
      <tbody>${f.list.map((x) => html`<tr><td class="mono">${x.flow}</td><td>${x.outcome}</td><td>${x.peerRecords}</td><td>${x.survivedAfterMs === null ? '-' : `${fmt(x.survivedAfterMs / 1000)} s`}</td></tr>`)}</tbody></table></div></details>`}
  </section>`;
}

function Report({ r, points }) {
  return html`<section class="card" aria-labelledby="drill-h" data-testid="drill-report" data-status=${r.status}>
    <h2 id="drill-h">Drill ${r.id}: ${r.status} (${r.phase})</h2>
    <dl class="kv">
      ${r.group && html`<dt>Group</dt><dd data-testid="drill-group">${r.group.name} (vrid ${r.group.vrid}) only; the node kept its other groups</dd>`}
      <dt>Started</dt><dd>${new Date(r.startedAt).toLocaleTimeString()}${r.finishedAt ? `, finished ${new Date(r.finishedAt).toLocaleTimeString()}` : ''}</dd>
      <dt>Takeover</dt><dd data-testid="takeover">${r.takeover ? `${r.takeover.peer} (priority ${r.takeover.priority}) took over in ${fmt(r.takeover.ms)} ms` : r.status === 'running' ? 'waiting…' : 'none'}</dd>
      <dt>Peer in sync</dt><dd>${r.peerInSync === null ? 'no sync configured' : r.peerInSync ? 'yes: its connection table was complete, flows survive' : 'NO: flows may be lost'}</dd>
      <dt>Hold</dt><dd>${r.holdSeconds} s</dd>
      <dt>Taken back</dt><dd>${r.reclaimMs !== null ? `after ${fmt(r.reclaimMs)} ms` : r.preempt ? (r.status === 'running' ? 'not yet' : 'no') : 'no (preemption off)'}</dd>
      ${r.finalState && html`<dt>Final state</dt><dd>${r.finalState}</dd>`}
      ${r.error && html`<dt>Error</dt><dd class="error">${r.error}</dd>`}
    </dl>
    ${r.groups?.length > 0 && html`<div class="table-wrap"><table data-testid="drill-groups"><thead><tr><th scope="col">Group</th><th scope="col">Drilled</th><th scope="col">Moved</th><th scope="col">Before / after</th><th scope="col">Flows survived</th></tr></thead>
      <tbody>${r.groups.map((g) => html`<tr><td>${g.name} (vrid ${g.vrid})</td><td>${g.drilled ? 'yes' : 'no'}</td><td>${g.moved && g.takeover ? `to ${g.takeover.peer} in ${fmt(g.takeover.ms)} ms` : 'no'}</td><td>${g.before} / ${g.after ?? '…'}</td><td>${g.flows ? `${g.flows.survived}/${g.flows.watched}` : '-'}</td></tr>`)}</tbody></table></div>`}
    ${points.length > 0 && html`<${Timeline} points=${points} />`}
    ${r.traffic && html`<${Traffic} tr=${r.traffic} />`}
  </section>`;
}

export function Drills({ hub, cluster }) {
  const [hold, setHold] = useState('8');
  const [group, setGroup] = useState('');
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
      setCurrent(await api('POST', '/v1/drills', { mode: 'resign', holdSeconds: Number(hold), ...(group !== '' ? { group } : {}) }));
    } catch (err) {
      started.current = 0;
      setError(err);
    }
  };
  const points = [{ t: 0, master: 1, phase: 'requested' }];
  for (const p of seen) if (current && p.id === current.id) points.push({ t: p.t, master: MASTER_AFTER[p.phase] ?? points[points.length - 1].master, phase: p.phase });
  const role = cluster.cluster?.vrrpState ?? cluster.status?.role;
  // Active/active (vrrp.groups): a drill may move one group and leave the others here.
  const groups = cluster.status?.vrrp?.groups ?? [];
  return html`
    <p>A drill makes this node (the master) resign: the backup takes over the VIPs, and after the hold this node takes them back (with preemption). Run it on the master.</p>
    <form class="row" onSubmit=${start}>
      <div class="field"><label for="hold">Hold (seconds)</label><input id="hold" type="number" min="1" max="600" value=${hold} onInput=${(e) => setHold(e.currentTarget.value)} /></div>
      ${groups.length > 1 && html`<div class="field"><label for="drill-group">VRRP group</label><select id="drill-group" value=${group} onChange=${(e) => setGroup(e.currentTarget.value)}>
        <option value="">whole node (every group)</option>
        ${groups.map((g) => html`<option value=${g.name}>${g.name} (vrid ${g.vrid}, ${g.state})</option>`)}
      </select></div>`}
      ${session.canWrite() ? html`<button type="submit" disabled=${current?.status === 'running'}>Start drill</button>` : html`<span class="muted" data-testid="drill-view-only">${VIEW_ONLY}</span>`}
      <span class="muted">this node is ${role ?? '…'}</span>
    </form>
    <p class="muted">With conntrack and state sync, the report says what the traffic saw from this node: a hold of 6 s or more lets the new master report the flows it carried (it reports a flow's packets every 5 s).</p>
    <${ErrorText} err=${error} />
    ${current && html`<${Report} r=${current} points=${points.length > 1 ? points : []} />`}
    <h2>Earlier drills</h2>
    <div class="table-wrap"><table><thead><tr><th scope="col">Id</th><th scope="col">Started</th><th scope="col">Status</th><th scope="col">Takeover</th><th scope="col">Flows survived</th><th scope="col">Taken back</th></tr></thead>
    <tbody>${past.length === 0 ? html`<tr><td colspan="6" class="muted">none on this node</td></tr>` : [...past].reverse().map((r) => html`<tr><td>${r.id}</td><td>${new Date(r.startedAt).toLocaleString()}</td><td>${r.status}</td><td>${r.takeover ? `${r.takeover.peer} in ${fmt(r.takeover.ms)} ms` : '-'}</td><td>${r.traffic && !r.traffic.flows.error ? `${r.traffic.flows.survived}/${r.traffic.flows.watched}` : '-'}</td><td>${r.reclaimMs !== null ? `${fmt(r.reclaimMs)} ms` : '-'}</td></tr>`)}</tbody></table></div>`;
}
