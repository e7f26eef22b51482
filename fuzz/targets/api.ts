/**
 * The HTTP API's routes (node/api/), through Fastify's inject: no socket, no network. The
 * view behind them is real where it decides anything: the rule engine behind the ruleset
 * routes (RulesetService), a connection table with a few flows behind the conntrack
 * routes (runCtOp, with the datapath thread's error translation). An input is a request:
 *
 *   METHOD /url?query
 *   content-type: ...        (optional; application/json by default)
 *
 *   body
 *
 * A refusal is a 4xx answer; a 5xx answer (or inject throwing) is a crash: user input
 * must never reach an internal error. GET /v1/events is left out (a stream that stays open).
 */
import { METHODS } from 'node:http';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildApp, type NodeStatus, type NodeView } from '../../node/api/server.js';
import { EventBus } from '../../node/api/event-bus.js';
import { RulesetService } from '../../node/daemon/ruleset-service.js';
import { RulesetEngine } from '../../node/ruleset/index.js';
import { CtQueryError, runCtOp, type ConnTracker } from '../../node/conntrack/index.js';
import { buildTcp, buildUdp } from '../../node/packet/build.js';
import { DrillRefused, type DrillReport } from '../../node/ha/api-drill.js';
import { FuzzInvariantError, type FuzzTarget } from '../target.js';
import { utf8 } from '../repo.js';
import { filterRig, packetStream, runStream } from './packet-stream.js';

const BASE = `table inet filter {
  set allowed { type ipv4_addr; flags interval; elements = { 192.0.2.0/28 } }
  chain forward { type filter hook forward priority 0; policy accept; ip saddr @allowed counter accept }
}`;

const status: NodeStatus = { node: 'fw-a', role: 'master', pid: 1, uptimeSeconds: 1, datapath: { tun: 'hafw0', offloads: true, vnetHdrLen: 10, counters: {}, native: {} } };
const report: DrillReport = { id: 'd1', mode: 'resign', status: 'running', phase: 'started', holdSeconds: 1, startedAt: 'now', takeover: null, peerInSync: null, preempt: true, reclaimMs: null };

/** A few flows (TCP and UDP, NATed) in a fresh table. */
function flows(): ConnTracker {
  const engine = new RulesetEngine();
  engine.load('table ip nat { chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade } }');
  const r = filterRig(engine);
  runStream(packetStream(0, [
    buildTcp({ src: '10.0.0.5', dst: '203.0.113.9', sport: 40000, dport: 80, flags: 'S' }),
    buildUdp({ src: '10.0.0.6', dst: '203.0.113.9', sport: 5000, dport: 53 }),
    buildUdp({ src: '2001:db8:1::5', dst: '2001:db8:3::9', sport: 5000, dport: 53 }),
  ]), r.stage, r.tick);
  return r.ct;
}

const REQUESTS = [
  'GET /v1/health', 'GET /v1/status', 'GET /metrics', 'GET /v1/openapi.json', 'GET /v1/schema?name=tcp', 'GET /v1/schema',
  'GET /v1/ruleset', 'GET /v1/ruleset?format=json', 'GET /v1/ruleset?handles=1',
  'POST /v1/ruleset/transactions\n\n{"ops": "add element inet filter allowed { 192.0.2.20 }"}',
  'POST /v1/ruleset/transactions\n\n{"ops": [{"add": {"rule": {"family": "inet", "table": "filter", "chain": "forward", "expr": [{"accept": null}]}}}], "baseGeneration": 1}',
  'POST /v1/ruleset/transactions\n\n{"ops": {"nftables": [{"delete": {"element": {"family": "inet", "table": "filter", "name": "allowed", "elem": ["192.0.2.1"]}}}]}}',
  `PUT /v1/ruleset\n\n${JSON.stringify({ text: BASE })}`,
  'GET /v1/ct', 'GET /v1/ct?family=ip&proto=tcp&src=10.0.0.5&limit=2', 'GET /v1/ct?origin=local&state=SYN_SENT&after=0',
  'GET /v1/ct/tuple?family=ip&proto=udp&src=10.0.0.6&dst=203.0.113.9&sport=5000&dport=53', 'DELETE /v1/ct/tuple?family=ip6&proto=udp&src=2001:db8:1::5&dst=2001:db8:3::9&sport=5000&dport=53',
  'GET /v1/ct/0', 'DELETE /v1/ct/1', 'POST /v1/ct/flush\n\n{"proto": "tcp", "dport": 80}', 'POST /v1/ct/flush\n\n{}',
  'GET /v1/cluster', 'POST /v1/drills\n\n{"mode": "resign", "holdSeconds": 5}', 'GET /v1/drills', 'GET /v1/drills/d1',
  'GET /v1/ruleset/version', 'GET /v1/ruleset/history', 'GET /v1/ruleset/versions/1', 'POST /v1/ruleset/rollback\n\n{"version": 1}',
];

interface Request { method: string; url: string; contentType: string; body: string | undefined }

function canInject(url: string): boolean {
  try {
    new URL(url, 'http://localhost');
    return true;
  } catch {
    return false;
  }
}

function parseRequest(text: string): Request | undefined {
  const nl = text.indexOf('\n');
  const first = nl < 0 ? text : text.slice(0, nl);
  const m = /^([A-Z]{1,10}) (\/\S*)$/.exec(first);
  // A method Node's HTTP parser refuses never reaches Fastify (inject would throw instead).
  if (!m || !METHODS.includes(m[1]!)) return undefined;
  // Not sent either: a target with control characters (Node's HTTP parser refuses it before
  // Fastify), and one the inject library cannot turn into a URL ("/\\" reads as a host-less
  // "//"; inject throws its own TypeError, a harness artifact, while a real server routes it
  // to a 404).
  if (/[\x00-\x20\x7f]/.test(m[2]!) || !canInject(m[2]!)) return undefined;
  let rest = nl < 0 ? '' : text.slice(nl + 1);
  let contentType = 'application/json';
  const h = /^content-type: ?([^\n]*)\n/i.exec(rest);
  if (h) {
    contentType = h[1]!;
    rest = rest.slice(h[0].length);
  }
  const body = rest.startsWith('\n') ? rest.slice(1) : rest;
  return { method: m[1]!, url: m[2]!, contentType, body: body.length > 0 ? body : undefined };
}

export const api: FuzzTarget = {
  name: 'api',
  about: 'HTTP API routes by inject: ruleset (engine behind), conntrack (table behind), drills, schema, status, OpenAPI',
  text: true,
  maxBytes: 8192,
  timeoutMs: 5000,
  dictionary: ['GET ', 'POST ', 'PUT ', 'DELETE ', 'PATCH ', 'HEAD ', 'OPTIONS ', '/v1/', '?', '&', '=', '%', '%00', '%ff', '%2F', '/../', '//',
    'content-type: text/plain\n', 'content-type: application/json; charset=utf-16\n', '"ops"', '"baseGeneration"', '"text"', '"holdSeconds"', '"mode"',
    'family=', 'proto=', 'src=', 'dst=', 'sport=', 'dport=', 'limit=', 'after=', 'state=', 'origin=', 'format=', 'name=', '__proto__', 'constructor'],
  async setup() {
    const engine = new RulesetEngine();
    engine.load(BASE, 'base.nft');
    const service = new RulesetService(engine, async () => ({ ok: true }), { info: () => undefined, error: () => undefined }, async () => ({ ok: true }));
    let ct = flows();
    let drillState = 'master';
    const view: NodeView = {
      status: () => status,
      metrics: new Registry(),
      ruleset: service,
      events: new EventBus(),
      control: {
        async ctOp(op) {
          try {
            return runCtOp(ct, op);
          } catch (err) {
            // What the datapath thread's answer turns a refusal into (datapath-thread.ts).
            if (err instanceof CtQueryError) throw Object.assign(new Error(err.message), { field: err.field });
            throw err;
          }
        },
        drills: {
          start: (mode, holdSeconds) => {
            if (drillState !== 'master') throw new DrillRefused(`this node is ${drillState}, not master`);
            drillState = 'backup';
            return { report: { ...report, mode, holdSeconds } };
          },
          get: (id) => (id === 'd1' ? report : undefined),
          list: () => [report],
        },
      },
    };
    const app: FastifyInstance = await buildApp(view, pino({ level: 'silent' }));
    const dec = new TextDecoder();
    return {
      seeds: REQUESTS.map(utf8),
      expected: () => false,
      async run(input) {
        const req = parseRequest(dec.decode(input));
        if (!req) return 'not a request';
        if (req.url.startsWith('/v1/events')) return 'event stream (left out)';
        // The state of the previous input goes: each input meets the same node.
        engine.load(BASE, 'base.nft');
        ct = flows();
        drillState = 'master';
        const res = await app.inject({
          method: req.method as 'GET',
          url: req.url,
          ...(req.body === undefined ? {} : { payload: req.body, headers: { 'content-type': req.contentType } }),
        });
        if (res.statusCode >= 500) throw new FuzzInvariantError(`${req.method} ${req.url.slice(0, 80)} answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
        const route = req.url.replace(/\?.*/, '').replace(/\/[0-9]+$/, '/N').slice(0, 40);
        return `${req.method} ${route} ${res.statusCode}`;
      },
      close: () => app.close(),
    };
  },
};
