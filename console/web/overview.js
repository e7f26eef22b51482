// Cluster overview: this node and the nodes it hears, refreshed when an event arrives
// (vrrp, sync, ruleset, ruleset-dist, drill); the lag figures come from the sampler.
import { useEffect, useState } from 'preact/hooks';
import { html, Badge, roleKind, ago, fmt, ErrorText } from '/console/ui.js';

function useLatest(sampler) {
  const [s, setS] = useState(sampler.latest);
  useEffect(() => sampler.on(() => setS(sampler.latest)), [sampler]);
  return s;
}

/** Every node this one knows of, by name where ruleset distribution reports names. */
function peers(c) {
  const rows = [];
  const masterAddr = c.master && !c.master.self ? c.master.address : null;
  const named = c.ruleset.nodes.filter((n) => !n.self);
  for (const n of named) {
    // A peer's own announcement of its role can be a few seconds old; what this node's VRRP
    // knows now is fresher: when it is master the others are backups, and when it hears a
    // master and has one peer, that peer is the master.
    let role = n.role;
    if (c.vrrpState === 'master') role = 'backup';
    else if (masterAddr && named.length === 1) role = 'master';
    rows.push({ name: n.name, role, version: n.version, hash: n.hash, drift: n.drift, heard: n.ageMs });
  }
  const vrrp = c.peers.vrrp.map((p) => ({ address: p.address, priority: p.priority, heard: p.lastHeardMs, role: p.address === masterAddr ? 'master' : c.vrrpState === 'master' ? 'backup' : p.priority > (c.priority ?? 0) ? 'master' : 'backup' }));
  return { rows, vrrp, sync: c.peers.sync };
}

export function Overview({ cluster, sampler }) {
  const latest = useLatest(sampler);
  const c = cluster.cluster;
  const s = cluster.status;
  if (!s) return html`<p>Loading…</p><${ErrorText} err=${cluster.error} />`;
  const role = c?.vrrpState ?? s.role;
  const lag = latest?.lag ?? c?.sync?.lagMs;
  const p = c ? peers(c) : { rows: [], vrrp: [], sync: [] };
  return html`
    <${ErrorText} err=${cluster.error} />
    <div class="cards">
      <section class="card" aria-labelledby="self-h" data-testid="node-card" data-node=${s.node} data-role=${role}>
        <h3 id="self-h">${s.node} <span class="muted">(this node)</span> <${Badge} kind=${roleKind(role)}>${role}</${Badge}></h3>
        <dl class="kv">
          <dt>Priority</dt><dd>${c?.priority ?? '-'}${c && c.configuredPriority !== null && c.configuredPriority !== c.priority ? ` (configured ${c.configuredPriority})` : ''}</dd>
          <dt>VRRP</dt><dd>${c?.vrrpState ?? 'off'}${c?.master ? `; master: ${c.master.self ? 'this node' : `${c.master.address} (priority ${c.master.priority})`}` : ''}</dd>
          <dt>VIPs</dt><dd>${c?.vips?.length ? c.vips.map((v) => html`<div class="mono">${v.address} on ${v.interface} ${v.held ? html`<${Badge} kind="good">held</${Badge}>` : html`<span class="muted">not held</span>`}</div>`) : 'none'}</dd>
          <dt>Sync</dt><dd>${c?.sync ? html`${c.sync.inSync ? html`<${Badge} kind="good">in sync</${Badge}>` : html`<${Badge} kind="bad">not in sync</${Badge}>`} node id ${c.sync.nodeId}` : 'off'}</dd>
          <dt>Sync lag</dt><dd data-testid="lag">${lag && lag.samples > 0 ? `p50 ${fmt(lag.p50)} ms, p99 ${fmt(lag.p99)} ms` : 'no samples'}</dd>
          <dt>Ruleset</dt><dd>generation ${c?.ruleset.generation ?? s.ruleset?.generation ?? '-'}${c?.ruleset.version !== null && c?.ruleset.version !== undefined ? html`, version ${c.ruleset.version} <span class="mono">${c.ruleset.hash?.slice(0, 12)}</span>` : ' (distribution off)'}</dd>
          <dt>Drift</dt><dd>${c?.ruleset.drift ? html`<${Badge} kind="bad">drift</${Badge}>` : html`<${Badge} kind="good">none</${Badge}>`}${c && !c.ruleset.ready ? html` <span class="warn">not current</span>` : ''}</dd>
          <dt>Rules</dt><dd>${s.ruleset ? `${s.ruleset.tables} tables, ${s.ruleset.chains} chains, ${s.ruleset.rules} rules, ${s.ruleset.sets} sets` : '-'}</dd>
          <dt>Uptime</dt><dd>${fmt(s.uptimeSeconds, 0)} s${s.version ? `, hafw ${s.version.version ?? ''}` : ''}</dd>
        </dl>
      </section>
      ${p.rows.map((n) => html`
        <section class="card" aria-label=${`node ${n.name}`} data-testid="node-card" data-node=${n.name} data-role=${n.role}>
          <h3>${n.name} <${Badge} kind=${roleKind(n.role)}>${n.role}</${Badge}></h3>
          <dl class="kv">
            <dt>Ruleset</dt><dd>version ${n.version} <span class="mono">${n.hash.slice(0, 12)}</span></dd>
            <dt>Drift</dt><dd>${n.drift ? html`<${Badge} kind="bad">drift</${Badge}>` : html`<${Badge} kind="good">none</${Badge}>`}</dd>
            <dt>Heard</dt><dd>${ago(n.heard)}</dd>
          </dl>
        </section>`)}
    </div>
    <h2>Peers heard</h2>
    <div class="table-wrap"><table>
      <caption class="sr-only">VRRP and sync peers</caption>
      <thead><tr><th scope="col">Protocol</th><th scope="col">Peer</th><th scope="col">Role / state</th><th scope="col">Priority</th><th scope="col">Last heard</th></tr></thead>
      <tbody>
        ${p.vrrp.map((v) => html`<tr><td>VRRP</td><td class="mono">${v.address}</td><td><${Badge} kind=${roleKind(v.role)}>${v.role}</${Badge}></td><td>${v.priority}</td><td>${ago(v.heard)}</td></tr>`)}
        ${p.sync.map((v) => html`<tr><td>sync</td><td>node ${v.node} (epoch ${v.epoch})</td><td>${v.inSync ? 'in sync' : 'syncing'}</td><td>-</td><td>${ago(v.lastHeardMs)}</td></tr>`)}
        ${p.vrrp.length + p.sync.length === 0 && html`<tr><td colspan="5" class="muted">no peers heard</td></tr>`}
      </tbody>
    </table></div>`;
}
