// The ruleset: the running listing with counters (re-read on each `ruleset` event), its
// tables, chains, sets and maps, set elements added and removed in place, the rule
// builder, and the cluster history with rollback.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { html, ErrorText, Badge } from '/console/ui.js';
import { api, session, VIEW_ONLY } from '/console/api.js';
import { Builder } from '/console/builder.js';

/** libnftables JSON -> {tables, chains, sets} for the views. */
function structure(json) {
  const items = Array.isArray(json?.nftables) ? json.nftables : [];
  const out = { tables: [], chains: [], sets: [], rules: new Map() };
  for (const it of items) {
    if (it.table) out.tables.push(it.table);
    else if (it.chain) out.chains.push(it.chain);
    else if (it.set) out.sets.push({ ...it.set, kind: 'set' });
    else if (it.map) out.sets.push({ ...it.map, kind: 'map' });
    else if (it.rule) {
      const k = `${it.rule.family} ${it.rule.table} ${it.rule.chain}`;
      out.rules.set(k, (out.rules.get(k) ?? 0) + 1);
    }
  }
  return out;
}

function elemText(e) {
  if (e === null || typeof e !== 'object') return String(e);
  if (e.prefix) return `${e.prefix.addr}/${e.prefix.len}`;
  if (e.range) return `${elemText(e.range[0])}-${elemText(e.range[1])}`;
  if (e.elem) return elemText(e.elem.val);
  if (e.concat) return e.concat.map(elemText).join(' . ');
  return JSON.stringify(e);
}

function SetView({ s, onError }) {
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const elems = Array.isArray(s.elem) ? s.elem : [];
  const id = `set-${s.family}-${s.table}-${s.name}`;
  const op = async (verb, elem) => {
    setBusy(true);
    onError(null);
    try {
      await api('POST', '/v1/ruleset/transactions', { ops: `${verb} element ${s.family} ${s.table} ${s.name} { ${elem} }` });
      if (verb === 'add') setValue('');
    } catch (err) {
      onError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card" aria-labelledby=${`${id}-h`}>
    <h3 id=${`${id}-h`}>${s.kind} ${s.name} <span class="muted">${s.family} ${s.table}</span></h3>
    <p class="muted">type ${Array.isArray(s.type) ? s.type.join(' . ') : s.type}${s.map ? ` : ${s.map}` : ''}${s.flags ? `, flags ${[].concat(s.flags).join(', ')}` : ''}; ${elems.length} element${elems.length === 1 ? '' : 's'}</p>
    <ul>${elems.slice(0, 200).map((e) => {
      const key = s.kind === 'map' && Array.isArray(e) ? elemText(e[0]) : elemText(e);
      const shown = s.kind === 'map' && Array.isArray(e) ? `${key} : ${elemText(e[1])}` : key;
      return html`<li><span class="mono">${shown}</span> ${session.canWrite() && html`<button type="button" class="secondary" disabled=${busy} aria-label=${`remove ${key} from ${s.name}`} onClick=${() => op('delete', key)}>Remove</button>`}</li>`;
    })}${elems.length > 200 ? html`<li class="muted">… ${elems.length - 200} more (hafw ruleset list)</li>` : ''}</ul>
    ${session.canWrite() && html`<form class="row" onSubmit=${(e) => { e.preventDefault(); if (value.trim()) void op('add', value.trim()); }}>
      <div class="field"><label for=${`${id}-add`}>New element${s.kind === 'map' ? ' (key : value)' : ''}</label><input id=${`${id}-add`} value=${value} onInput=${(e) => setValue(e.currentTarget.value)} /></div>
      <button type="submit" disabled=${busy || !value.trim()}>Add</button>
    </form>`}
  </section>`;
}

function History({ generation, distributed }) {
  const [h, setH] = useState(null);
  const [err, setErr] = useState(null);
  const [shown, setShown] = useState(null);
  const load = useCallback(() => api('GET', '/v1/ruleset/history').then((r) => setH(r.versions), (e) => setErr(e)), []);
  useEffect(() => { if (distributed) void load(); }, [generation, distributed]);
  if (!distributed || err?.status === 404) return html`<p class="muted">Ruleset distribution is off on this node: no cluster history.</p>`;
  if (!h) return html`<${ErrorText} err=${err} />`;
  const rollback = async (v) => {
    if (!confirm(`Make a new version with the content of version ${v}?`)) return;
    try {
      const r = await api('POST', '/v1/ruleset/rollback', { version: v });
      setErr(null);
      setShown({ version: r.version, text: `rolled back: version ${r.version} has the content of version ${r.from}` });
    } catch (e) {
      setErr(e);
    }
  };
  return html`<${ErrorText} err=${err} />
    <div class="table-wrap"><table data-testid="history"><thead><tr><th scope="col">Version</th><th scope="col">Time</th><th scope="col">Origin</th><th scope="col">Summary</th><th scope="col">Actions</th></tr></thead>
    <tbody>${[...h].reverse().map((v) => html`<tr><td>${v.version} <span class="mono muted">${v.hash.slice(0, 8)}</span></td><td>${new Date(v.time).toLocaleString()}</td><td>${v.origin}</td><td>${v.summary}</td>
      <td><button type="button" class="secondary" onClick=${async () => setShown(await api('GET', `/v1/ruleset/versions/${v.version}`))}>View</button>${session.canWrite() && html` <button type="button" class="secondary" onClick=${() => rollback(v.version)} aria-label=${`roll back to version ${v.version}`}>Roll back to</button>`}</td></tr>`)}</tbody></table></div>
    ${shown && html`<h3>Version ${shown.version}</h3><pre>${shown.text}</pre>`}`;
}

export function Ruleset({ hub, cluster }) {
  const [state, setState] = useState({ text: '', json: null, generation: null });
  const [error, setError] = useState(null);
  const [opError, setOpError] = useState(null);
  const load = useCallback(async () => {
    try {
      const [text, json, status] = await Promise.all([api('GET', '/v1/ruleset?format=nft&handles=1'), api('GET', '/v1/ruleset?format=json'), api('GET', '/v1/status')]);
      setState({ text, json, generation: status.ruleset?.generation ?? null });
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, []);
  useEffect(() => {
    void load();
    return hub.on((ev) => { if (ev.type === 'ruleset' || ev.type === 'stream' || ev.type === 'ruleset-dist') void load(); });
  }, [hub, load]);
  const s = structure(state.json);
  return html`
    <${ErrorText} err=${error} />
    <p>Generation <strong data-testid="generation">${state.generation ?? '-'}</strong>: ${s.tables.length} tables, ${s.chains.length} chains, ${s.sets.length} sets and maps.</p>
    <h2>Chains</h2>
    <div class="table-wrap"><table><thead><tr><th scope="col">Table</th><th scope="col">Chain</th><th scope="col">Hook</th><th scope="col">Policy</th><th scope="col">Rules</th></tr></thead>
      <tbody>${s.chains.map((c) => html`<tr><td>${c.family} ${c.table}</td><td>${c.name}</td><td>${c.hook ? `${c.type} ${c.hook} priority ${c.prio}` : html`<span class="muted">regular</span>`}</td><td>${c.policy ? html`<${Badge} kind=${c.policy === 'drop' ? 'bad' : 'good'}>${c.policy}</${Badge}>` : '-'}</td><td>${s.rules.get(`${c.family} ${c.table} ${c.name}`) ?? 0}</td></tr>`)}</tbody></table></div>
    <h2>Listing (with counters and handles)</h2>
    <pre data-testid="ruleset-text">${state.text}</pre>
    <h2>Sets and maps</h2>
    <${ErrorText} err=${opError} />
    ${s.sets.length === 0 ? html`<p class="muted">No named sets or maps.</p>` : html`<div class="cards">${s.sets.map((x) => html`<${SetView} s=${x} onError=${setOpError} />`)}</div>`}
    <${Builder} chains=${s.chains} generation=${state.generation} />
    <h2>History</h2>
    <${History} generation=${state.generation} distributed=${cluster.status?.sync !== undefined && cluster.cluster?.ruleset.version !== null && cluster.cluster?.ruleset.version !== undefined} />`;
}
