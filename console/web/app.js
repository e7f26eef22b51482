// The console's shell: login, navigation, the shared event stream and cluster state.
import { render } from 'preact';
import { useState, useEffect, useRef, useCallback } from 'preact/hooks';
import { html } from '/console/ui.js';
import { api, session, eventStream, Hub } from '/console/api.js';
import { Overview } from '/console/overview.js';
import { Charts, Sampler } from '/console/charts.js';
import { Ruleset } from '/console/ruleset.js';
import { Connections } from '/console/connections.js';
import { Drills } from '/console/drills.js';
import { Events } from '/console/events.js';

const VIEWS = [
  { id: 'overview', title: 'Cluster', view: Overview },
  { id: 'charts', title: 'Sync & traffic', view: Charts },
  { id: 'ruleset', title: 'Ruleset', view: Ruleset },
  { id: 'connections', title: 'Connections', view: Connections },
  { id: 'drills', title: 'Drills', view: Drills },
  { id: 'events', title: 'Events', view: Events },
];

function Login({ onDone }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    session.set(token.trim());
    try {
      await api('GET', '/v1/status');
      // Nodes older than /v1/access answer 404: their tokens are all full ones.
      const { access } = await api('GET', '/v1/access').catch((err) => (err.status === 404 ? { access: 'full' } : Promise.reject(err)));
      session.setAccess(access);
      onDone();
    } catch (err) {
      session.clear();
      setError(err.status === 401 ? 'That token is not accepted by this node (api.tokenFile).' : err.status === 403 ? 'That is the metrics token: it may only read /metrics. Log in with the API token (api.tokenFile).' : `The node did not answer: ${err.message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login">
    <h1>hafw console</h1>
    <form onSubmit=${submit}>
      <div class="field">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required value=${token} onInput=${(e) => setToken(e.currentTarget.value)} aria-describedby="token-help" autofocus />
        <div id="token-help" class="help muted">The bearer token of this node's management listener: the API token (api.tokenFile), or the view token (api.viewTokenFile) to look without changing anything. It is kept for this browser tab only.</div>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" disabled=${busy || token.trim() === ''}>Log in</button>
    </form>
  </main>`;
}

function currentView() {
  const id = location.hash.replace(/^#\/?/, '');
  return VIEWS.find((v) => v.id === id) ?? VIEWS[0];
}

/** What the views share: this node's cluster view and status, refreshed on events. */
function useCluster(hub) {
  const [state, setState] = useState({ cluster: null, status: null, error: null });
  const refresh = useCallback(async () => {
    try {
      const [cluster, status] = await Promise.all([api('GET', '/v1/cluster').catch((e) => (e.status === 404 ? null : Promise.reject(e))), api('GET', '/v1/status')]);
      setState({ cluster, status, error: null, at: Date.now() });
    } catch (err) {
      setState((s) => ({ ...s, error: err }));
    }
  }, []);
  useEffect(() => {
    void refresh();
    let timer;
    let settle;
    // Events arrive in bursts (a takeover: several vrrp and sync events): one refresh per
    // burst, and one more a second later for what settles after the last event of it (a
    // peer's announcement, a sync peer catching up).
    const off = hub.on((ev) => {
      if (!['vrrp', 'sync', 'ruleset', 'ruleset-dist', 'drill', 'stream'].includes(ev.type)) return;
      clearTimeout(timer);
      clearTimeout(settle);
      timer = setTimeout(() => void refresh(), 150);
      settle = setTimeout(() => void refresh(), 1200);
    });
    return () => { off(); clearTimeout(timer); clearTimeout(settle); };
  }, [hub, refresh]);
  return { ...state, refresh };
}

function Shell({ onLogout }) {
  const [view, setView] = useState(currentView());
  const [stream, setStream] = useState({ state: 'connecting' });
  const hub = useRef(new Hub()).current;
  const sampler = useRef(new Sampler()).current;
  const heading = useRef(null);
  const cluster = useCluster(hub);
  useEffect(() => {
    const onHash = () => setView(currentView());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    heading.current?.focus();
    document.title = `${view.title} - hafw console`;
  }, [view]);
  useEffect(() => {
    const stop = eventStream((ev) => hub.emit(ev), (state, why) => {
      setStream({ state, why });
      // A new connection may have missed events: everything re-reads.
      if (state === 'live') hub.emit({ type: 'stream', data: { state }, time: new Date() });
    });
    sampler.start();
    return () => { stop(); sampler.stop(); };
  }, []);
  const node = cluster.status?.node ?? '';
  const View = view.view;
  return html`
    <header>
      <span class="brand">hafw${node ? ` · ${node}` : ''}</span>
      <nav aria-label="Console sections"><ul>
        ${VIEWS.map((v) => html`<li><a href=${`#/${v.id}`} aria-current=${v === view ? 'page' : undefined}>${v.title}</a></li>`)}
      </ul></nav>
      ${!session.canWrite() && html`<span class="badge" data-testid="view-only" title="This token may read but not change anything">view only</span>`}
      <span class="status-line" aria-live="polite">events: <span data-testid="stream-state" class=${stream.state === 'live' ? 'ok' : 'warn'}>${stream.state}</span>${stream.why ? ` (${stream.why})` : ''}
        ${' '}<button class="secondary" type="button" onClick=${onLogout}>Log out</button></span>
    </header>
    <main>
      <h1 tabindex="-1" ref=${heading}>${view.title}</h1>
      <${View} hub=${hub} cluster=${cluster} sampler=${sampler} />
    </main>`;
}

function App() {
  const [authed, setAuthed] = useState(Boolean(session.token()));
  useEffect(() => session.onUnauthorized(() => setAuthed(false)), []);
  if (!authed) return html`<${Login} onDone=${() => setAuthed(true)} />`;
  return html`<${Shell} onLogout=${() => { session.clear(); setAuthed(false); }} />`;
}

render(html`<${App} />`, document.getElementById('app'));
