// The console's API client: the bearer token lives in sessionStorage only (gone when the
// tab closes); every call carries it; a 401 sends the operator back to the login page.
// The event stream is read with fetch, since EventSource cannot send the token.
import { SseParser } from '/console/lib/sse-parser.js';

const KEY = 'hafw.token';
const ACCESS = 'hafw.access';
let unauthorized = () => {};

export const session = {
  token: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => { sessionStorage.removeItem(KEY); sessionStorage.removeItem(ACCESS); },
  onUnauthorized: (fn) => { unauthorized = fn; },
  /** What the token may do (GET /v1/access at login): 'full' or 'view'. */
  setAccess: (a) => sessionStorage.setItem(ACCESS, a),
  /** Whether the token may change things; the node refuses writes of a view token anyway (403). */
  canWrite: () => sessionStorage.getItem(ACCESS) !== 'view',
};

/** Shown where a control is left out because the token is view-only. */
export const VIEW_ONLY = 'View-only token: it may read but not change anything (log in with the API token to change).';

export class ApiError extends Error {
  constructor(status, body) {
    super(typeof body === 'object' && body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function headers(extra = {}) {
  const t = session.token();
  return { ...(t ? { authorization: `Bearer ${t}` } : {}), ...extra };
}

/** One API call; JSON in and out (text for text/plain answers). Throws ApiError. */
export async function api(method, url, body) {
  const r = await fetch(url, { method, headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }), body: body === undefined ? undefined : JSON.stringify(body) });
  const type = r.headers.get('content-type') || '';
  const data = r.status === 204 ? null : type.includes('json') ? await r.json().catch(() => null) : await r.text();
  if (r.status === 401) {
    session.clear();
    unauthorized();
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

/**
 * GET /v1/events, reconnecting (1 s, then up to 10 s) while started. Calls onEvent({type,
 * id, data}) with data parsed, onState('live' | 'connecting' | 'down', why).
 */
export function eventStream(onEvent, onState) {
  let stopped = false;
  let ctl;
  let delay = 1000;
  const run = async () => {
    while (!stopped) {
      onState('connecting');
      ctl = new AbortController();
      try {
        const r = await fetch('/v1/events', { headers: headers(), signal: ctl.signal });
        if (r.status === 401) {
          session.clear();
          unauthorized();
          return;
        }
        if (!r.ok || !r.body) throw new Error(`HTTP ${r.status}`);
        onState('live');
        delay = 1000;
        const parser = new SseParser();
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const ev of parser.push(value)) {
            let data = ev.data;
            try { data = JSON.parse(ev.data); } catch { /* text event */ }
            onEvent({ type: ev.type, id: ev.id, data, time: new Date() });
          }
        }
        if (!stopped) onState('down', 'the stream ended');
      } catch (err) {
        if (stopped) return;
        onState('down', err instanceof Error ? err.message : String(err));
      }
      if (stopped) return;
      await new Promise((res) => setTimeout(res, delay));
      delay = Math.min(delay * 2, 10000);
    }
  };
  void run();
  return () => {
    stopped = true;
    ctl?.abort();
  };
}

/** A tiny publish/subscribe for the one event stream the views share. */
export class Hub {
  constructor(keep = 500) { this.subs = new Set(); this.recent = []; this.keep = keep; }
  on(fn) { this.subs.add(fn); return () => this.subs.delete(fn); }
  emit(ev) {
    // The console's own 'stream' notices are not node events: not kept for the feed.
    if (ev.type !== 'stream') {
      this.recent.push(ev);
      if (this.recent.length > this.keep) this.recent.shift();
    }
    for (const fn of [...this.subs]) { try { fn(ev); } catch (err) { reportError(err); } }
  }
}
