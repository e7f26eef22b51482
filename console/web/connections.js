// The connection table: filters, paging (the API's `after` cursor), one entry's details,
// delete. Read on demand (Refresh); the table changes too fast for an event per entry.
import { useEffect, useState } from 'preact/hooks';
import { html, ErrorText, Badge } from '/console/ui.js';
import { api, session, VIEW_ONLY } from '/console/api.js';

const FILTERS = [
  { name: 'proto', label: 'Protocol', placeholder: 'tcp, udp, icmp…' },
  { name: 'src', label: 'Source', placeholder: '192.0.2.100' },
  { name: 'dst', label: 'Destination', placeholder: '198.51.100.100' },
  { name: 'sport', label: 'Source port', placeholder: '' },
  { name: 'dport', label: 'Destination port', placeholder: '' },
  { name: 'state', label: 'State', placeholder: 'ESTABLISHED' },
];
const PAGE = 50;
const PROTO = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' };

function tuple(t) {
  if (!t) return '-';
  return `${t.src}${t.sport !== undefined ? `:${t.sport}` : ''} → ${t.dst}${t.dport !== undefined ? `:${t.dport}` : ''}`;
}

/** Source/destination NAT: the reply tuple is not the original one reversed. */
function natText(e) {
  const parts = [];
  if (e.status.includes('snat')) parts.push(`source ${e.original.src} → ${e.reply.dst}${e.reply.dport !== undefined && e.reply.dport !== e.original.sport ? `:${e.reply.dport}` : ''}`);
  if (e.status.includes('dnat')) parts.push(`destination ${e.original.dst} → ${e.reply.src}${e.reply.sport !== undefined && e.reply.sport !== e.original.dport ? `:${e.reply.sport}` : ''}`);
  return parts.length ? parts.join('; ') : 'none';
}

export function Connections() {
  const [filter, setFilter] = useState({ origin: '' });
  const [pages, setPages] = useState([undefined]);
  const [page, setPage] = useState({ entries: [], next: undefined });
  const [error, setError] = useState(null);
  const [detail, setDetail] = useState(null);
  const query = (after) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== '' && v !== undefined) q.set(k, v);
    q.set('limit', String(PAGE));
    if (after !== undefined) q.set('after', String(after));
    return `/v1/ct?${q}`;
  };
  const load = async (after) => {
    try {
      const r = await api('GET', query(after));
      setPage(r);
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => void load(undefined), []);
  const del = async (e) => {
    if (!confirm(`Delete connection ${e.id} (${tuple(e.original)})? Its replica on the peer goes too.`)) return;
    try {
      await api('DELETE', `/v1/ct/${e.id}`);
      setDetail(null);
      await load(pages[pages.length - 1]);
    } catch (err) {
      setError(err);
    }
  };
  return html`
    <form class="row" onSubmit=${(e) => { e.preventDefault(); setPages([undefined]); void load(undefined); }}>
      ${FILTERS.map((f) => html`<div class="field"><label for=${`ct-${f.name}`}>${f.label}</label><input id=${`ct-${f.name}`} size="12" placeholder=${f.placeholder} value=${filter[f.name] ?? ''} onInput=${(e) => setFilter({ ...filter, [f.name]: e.currentTarget.value })} /></div>`)}
      <div class="field"><label for="ct-origin">Origin</label><select id="ct-origin" value=${filter.origin} onChange=${(e) => setFilter({ ...filter, origin: e.currentTarget.value })}><option value="">all</option><option value="local">local</option><option value="replicated">replicated</option></select></div>
      <button type="submit">Filter</button>
    </form>
    <${ErrorText} err=${error} />
    <div class="table-wrap"><table data-testid="ct-table"><thead><tr><th scope="col">Id</th><th scope="col">Proto</th><th scope="col">Original</th><th scope="col">Reply</th><th scope="col">State</th><th scope="col">Origin</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${page.entries.length === 0 ? html`<tr><td colspan="7" class="muted">no connections match</td></tr>` : page.entries.map((e) => html`<tr>
        <td>${e.id}</td><td>${PROTO[e.proto] ?? e.proto}</td><td class="mono">${tuple(e.original)}</td><td class="mono">${tuple(e.reply)}</td><td>${e.tcpState ?? '-'}</td>
        <td>${e.replicated ? html`<${Badge} kind="backup">replicated</${Badge}>` : html`<${Badge}>local</${Badge}>`}</td>
        <td><button type="button" class="secondary" onClick=${async () => { try { setDetail(await api('GET', `/v1/ct/${e.id}`)); } catch (err) { setError(err); } }}>Details</button></td></tr>`)}</tbody></table></div>
    <div class="row">
      <button type="button" class="secondary" disabled=${pages.length <= 1} onClick=${() => { const p = pages.slice(0, -1); setPages(p); void load(p[p.length - 1]); }}>Previous page</button>
      <button type="button" class="secondary" disabled=${page.next === undefined} onClick=${() => { setPages([...pages, page.next]); void load(page.next); }}>Next page</button>
      <button type="button" class="secondary" onClick=${() => void load(pages[pages.length - 1])}>Refresh</button>
    </div>
    ${detail && html`<section class="card" aria-labelledby="ct-detail-h">
      <h2 id="ct-detail-h">Connection ${detail.id}</h2>
      <dl class="kv">
        <dt>Original</dt><dd class="mono">${tuple(detail.original)}</dd>
        <dt>Reply</dt><dd class="mono">${tuple(detail.reply)}</dd>
        <dt>NAT</dt><dd>${natText(detail)}</dd>
        <dt>State</dt><dd>${detail.tcpState ?? '-'}; status ${detail.status.join(', ') || '-'}; mark ${detail.mark}</dd>
        <dt>Timeout</dt><dd>${detail.timeoutSeconds} s left</dd>
        <dt>Owner</dt><dd>${detail.replicated ? 'a peer (this node holds its replica)' : 'this node'}</dd>
        <dt>Replicated</dt><dd>${detail.replicated ? 'yes' : 'no (local)'}</dd>
      </dl>
      <details><summary>All fields</summary><pre>${JSON.stringify(detail, null, 2)}</pre></details>
      ${session.canWrite() ? html`<button type="button" class="danger" onClick=${() => del(detail)}>Delete connection</button>` : html`<p class="muted">${VIEW_ONLY}</p>`}
    </section>`}`;
}
