// The live event feed: ruleset, ruleset-dist, vrrp, sync and drill events as they arrive
// on GET /v1/events (the last 500 since the console was opened), filterable by type.
import { useEffect, useState } from 'preact/hooks';
import { html } from '/console/ui.js';

const TYPES = ['ruleset', 'ruleset-dist', 'vrrp', 'sync', 'drill'];

function summary(ev) {
  const d = ev.data;
  if (d === null || typeof d !== 'object') return String(d);
  if (ev.type === 'ruleset') return `generation ${d.generation}: ${Array.isArray(d.changes) ? d.changes.length : 0} change(s)`;
  if (ev.type === 'drill') return `drill ${d.id}: ${d.phase}`;
  return Object.entries(d).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k}=${v}`).join(' ');
}

export function Events({ hub }) {
  const [, setN] = useState(0);
  const [shown, setShown] = useState(new Set(TYPES));
  useEffect(() => hub.on(() => setN((x) => x + 1)), [hub]);
  const list = hub.recent.filter((e) => shown.has(e.type) || !TYPES.includes(e.type)).slice().reverse();
  return html`
    <fieldset class="row"><legend>Show</legend>
      ${TYPES.map((t) => html`<label><input type="checkbox" checked=${shown.has(t)} onChange=${(e) => { const s = new Set(shown); if (e.currentTarget.checked) s.add(t); else s.delete(t); setShown(s); }} /> ${t}</label>`)}
    </fieldset>
    <p class="muted">${hub.recent.length} events since this console was opened; newest first.</p>
    <ol class="events" data-testid="events" aria-live="polite">
      ${list.map((e) => html`<li><span class="mono muted">${e.time.toLocaleTimeString()}</span> <strong>${e.type}</strong> ${summary(e)}
        <details><summary>data</summary><pre>${JSON.stringify(e.data, null, 2)}</pre></details></li>`)}
    </ol>`;
}
