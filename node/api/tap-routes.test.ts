import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildApp, type NodeStatus } from './server.js';
import { TapHub } from './tap-hub.js';
import { StreamLimit } from './stream-limit.js';
import type { CtEventFilter, CtEventOut } from '../conntrack/index.js';
import type { TraceRecordOut } from '../ruleset/index.js';

const status: NodeStatus = { node: 'fw-a', role: 'master', pid: 1, uptimeSeconds: 1, datapath: { tun: 'hafw0', offloads: true, vnetHdrLen: 10, counters: {}, native: {} } };

const event: CtEventOut = {
  event: 'new', id: 4, time: 1, owner: 'local', family: 'ip', proto: 6, zone: 0,
  original: { src: '192.0.2.100', dst: '198.51.100.100', sport: 40000, dport: 80 },
  reply: { src: '198.51.100.100', dst: '198.51.100.2', sport: 80, dport: 40000 },
  tcpState: 'SYN_SENT', status: ['confirmed', 'snat'], mark: 0, timeoutSeconds: 120, replicated: false, to: [],
};

interface Harness {
  app: FastifyInstance;
  ct: TapHub<CtEventFilter, CtEventOut>;
  trace: TapHub<{ filter?: string }, TraceRecordOut>;
  /** The subscriber lists the datapath thread was told, in order. */
  ctLists: { id: number; filter: CtEventFilter }[][];
  traceLists: { id: number; filter: { filter?: string } }[][];
}

async function harness(streams?: StreamLimit): Promise<Harness> {
  const h = { ctLists: [], traceLists: [] } as unknown as Harness;
  h.ct = new TapHub((l) => h.ctLists.push(l));
  h.trace = new TapHub((l) => h.traceLists.push(l));
  h.app = await buildApp({ status: () => status, metrics: new Registry(), control: { ctEvents: h.ct, trace: h.trace } }, pino({ level: 'silent' }), { streams });
  return h;
}

/** Opens an SSE stream on a real listener; `until` reads until the text matches. */
async function open(h: Harness, url: string): Promise<{ ac: AbortController; until(re: RegExp): Promise<string> }> {
  if (!h.app.server.listening) await h.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (h.app.server.address() as { port: number }).port;
  const ac = new AbortController();
  const res = await fetch(`http://127.0.0.1:${port}${url}`, { signal: ac.signal });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const reader = res.body!.getReader();
  let text = '';
  return {
    ac,
    async until(re) {
      while (!re.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      return text;
    },
  };
}

const waitFor = async (cond: () => boolean): Promise<void> => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};

describe('API: GET /v1/ct/events and GET /v1/trace (datapath event streams)', () => {
  let h: Harness;
  afterEach(async () => h?.app.close());

  it('are described in the OpenAPI document with every query parameter', async () => {
    h = await harness();
    const doc = (await h.app.inject({ method: 'GET', url: '/v1/openapi.json' })).json() as { paths: Record<string, { get: { parameters: { name: string }[] } }> };
    assert.equal((await new Validator().validate(doc as never)).valid, true);
    assert.deepEqual(doc.paths['/v1/ct/events']!.get.parameters.map((p) => p.name).sort(), ['dport', 'dst', 'event', 'family', 'origin', 'proto', 'sport', 'src', 'state']);
    assert.deepEqual(doc.paths['/v1/trace']!.get.parameters.map((p) => p.name), ['filter']);
  });

  it('refuse a bad filter with 400 naming the field (and the column of a trace filter), subscribing nobody', async () => {
    h = await harness();
    for (const [url, field] of [
      ['/v1/ct/events?event=created', '/querystring/event'],
      ['/v1/ct/events?src=300.1.1.1', '/querystring/src'],
      ['/v1/ct/events?state=OPEN', '/querystring/state'],
      ['/v1/ct/events?colour=red', '/querystring/colour'],
    ] as const) {
      const r = await h.app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 400, url);
      assert.equal(r.json().field, field, url);
    }
    const r = await h.app.inject({ method: 'GET', url: `/v1/trace?filter=${encodeURIComponent('ip saddr 300.1.1.1')}` });
    assert.equal(r.statusCode, 400);
    assert.deepEqual([r.json().field, r.json().col], ['/querystring/filter', 10]);
    assert.match(r.json().message, /^filter:10: '300\.1\.1\.1' is not a valid IPv4 address/);
    assert.deepEqual([h.ctLists, h.traceLists], [[], []]);
  });

  it('ct events: the stream subscribes its filter in the datapath, gets the events addressed to it, and unsubscribes when closed', async () => {
    h = await harness();
    const s = await open(h, '/v1/ct/events?proto=tcp&dport=80&event=new,destroy');
    await s.until(/: ct stream\n\n/);
    await waitFor(() => h.ctLists.length === 1);
    const [sub] = h.ctLists[0]!;
    assert.deepEqual(sub!.filter, { proto: 6, dport: 80, events: ['new', 'destroy'] });
    h.ct.dispatch([{ ...event, to: [sub!.id + 100] }, { ...event, to: [sub!.id] }]);
    const text = await s.until(/event: ct\n/);
    const { to: _to, ...sent } = event;
    assert.equal(text, `: ct stream\n\nevent: ct\ndata: ${JSON.stringify(sent)}\n\n`, 'only the event addressed to this stream, without the routing');
    assert.equal(h.ct.delivered, 1);
    s.ac.abort();
    await waitFor(() => h.ctLists.length === 2);
    assert.deepEqual(h.ctLists[1], [], 'the last subscriber gone: the datapath stops producing');
  });

  it('trace: a session with a filter, and one following meta nftrace', async () => {
    h = await harness();
    const a = await open(h, `/v1/trace?filter=${encodeURIComponent('tcp dport 22')}`);
    await a.until(/: trace stream/);
    const b = await open(h, '/v1/trace');
    await b.until(/: trace stream/);
    await waitFor(() => h.traceLists.length === 2);
    assert.deepEqual(h.traceLists[1]!.map((x) => x.filter), [{ filter: 'tcp dport 22' }, {}]);
    a.ac.abort();
    b.ac.abort();
    await waitFor(() => h.traceLists.at(-1)!.length === 0);
  });

  it('share the listener\'s stream cap with /v1/events: beyond it, 503 at once', async () => {
    h = await harness(new StreamLimit(1));
    const a = await open(h, '/v1/trace');
    await a.until(/: trace stream/);
    const port = (h.app.server.address() as { port: number }).port;
    const r = await fetch(`http://127.0.0.1:${port}/v1/ct/events`);
    assert.equal(r.status, 503);
    a.ac.abort();
  });
});

describe('TapHub', () => {
  it('counts what a subscriber could not take (its buffer full) and what it got', () => {
    const hub = new TapHub<object, { n: number; to: number[] }>(() => undefined);
    const got: number[] = [];
    hub.subscribe({}, { push: (x) => (x.n % 2 === 0 ? (got.push(x.n), true) : false) });
    hub.dispatch([1, 2, 3, 4].map((n) => ({ n, to: [1] })));
    assert.deepEqual(got, [2, 4]);
    assert.deepEqual([hub.delivered, hub.dropped], [2, 2]);
  });
});
