import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { startControlServer, stopControlServer, type NodeStatus } from '../api/server.js';
import { TapHub } from '../api/tap-hub.js';
import type { CtEventFilter, CtEventOut } from '../conntrack/index.js';
import type { TraceRecord, TraceRecordOut } from '../ruleset/index.js';
import { formatCtLine } from './ct-cmd.js';
import { formatCtEventLine } from './ct-events.js';
import { formatTrace, formatTracePacket } from './trace-cmd.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(HERE, '../../../bin/hafw.js');
const ENV = { ...process.env, HAFW_DIST: path.resolve(HERE, '../..'), HAFW_RUN_DIR: '/nonexistent-hafw-test' };
const hafw = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: ENV });

const event: CtEventOut = {
  event: 'new', id: 4, time: 1, owner: 'local', family: 'ip', proto: 6, zone: 0,
  original: { src: '192.0.2.100', dst: '198.51.100.100', sport: 40000, dport: 80 },
  reply: { src: '198.51.100.100', dst: '198.51.100.2', sport: 80, dport: 40000 },
  tcpState: 'SYN_SENT', status: ['confirmed', 'snat'], mark: 0, timeoutSeconds: 120, replicated: false, to: [],
};

const record: TraceRecord = {
  id: 7, time: 1, verdict: 'accept', ctState: 'new', by: ['nftrace'],
  packet: { family: 'ip', iif: 'lan', oif: 'wan', src: '192.0.2.100', dst: '198.51.100.100', proto: 6, length: 60, sport: 40000, dport: 22, tcpFlags: ['syn'], mark: 0 },
  steps: [
    { hook: 'forward', family: 'inet', table: 'f', chain: 'fw', type: 'rule', handle: 4, rule: 'jump ssh', verdict: 'jump ssh' },
    { hook: 'forward', family: 'inet', table: 'f', chain: 'ssh', type: 'return', verdict: 'return' },
    { hook: 'forward', family: 'inet', table: 'f', chain: 'fw', type: 'rule', handle: 6, rule: 'tcp dport 22 accept', verdict: 'accept' },
  ],
  after: { family: 'ip', iif: 'lan', oif: 'wan', src: '198.51.100.2', dst: '198.51.100.100', proto: 6, length: 60, sport: 61000, dport: 22, tcpFlags: ['syn'], mark: 0x2a },
  ct: { original: { src: '192.0.2.100', dst: '198.51.100.100', sport: 40000, dport: 22 }, reply: { src: '198.51.100.100', dst: '198.51.100.2', sport: 22, dport: 61000 }, status: ['confirmed', 'snat'], mark: 0 },
};

describe('hafw ct events and hafw trace (CLI)', () => {
  it('prints a connection event like conntrack -E: the kind, then the connection as ct list does', () => {
    assert.equal(
      formatCtEventLine(event, (e) => formatCtLine(e)),
      '    [NEW] tcp      6  120 SYN_SENT src=192.0.2.100 dst=198.51.100.100 sport=40000 dport=80 [UNREPLIED] src=198.51.100.100 dst=198.51.100.2 sport=80 dport=40000 mark=0 id=4',
    );
    assert.match(formatCtEventLine({ ...event, event: 'destroy', replicated: true, owner: 'peer' }, (e) => formatCtLine(e)), /^\[DESTROY\] tcp .* \[REPLICATED\] id=4$/);
  });

  it('prints a trace like nft monitor trace: the packet, each rule with its verdict, chain ends, NAT, conntrack, verdict', () => {
    assert.deepEqual(formatTrace(record), [
      'trace id 7 packet: iif "lan" oif "wan" ip saddr 192.0.2.100 ip daddr 198.51.100.100 tcp sport 40000 tcp dport 22 tcp flags syn length 60 (ct state new; traced by nftrace)',
      'trace id 7 forward inet f fw rule jump ssh (verdict jump ssh)',
      'trace id 7 forward inet f ssh return (end of chain, back to the caller)',
      'trace id 7 forward inet f fw rule tcp dport 22 accept (verdict accept)',
      'trace id 7 nat: iif "lan" oif "wan" ip saddr 198.51.100.2 ip daddr 198.51.100.100 tcp sport 61000 tcp dport 22 tcp flags syn length 60 meta mark 0x0000002a',
      'trace id 7 conntrack: src=192.0.2.100 dst=198.51.100.100 sport=40000 dport=22 src=198.51.100.100 dst=198.51.100.2 sport=22 dport=61000 [confirmed,snat]',
      'trace id 7 verdict accept',
    ]);
    assert.equal(formatTracePacket({ family: 'ip6', src: '2001:db8::1', dst: '2001:db8::2', proto: 58, length: 64, icmpType: 128, icmpCode: 0, mark: 0 }), 'ip6 saddr 2001:db8::1 ip6 daddr 2001:db8::2 icmpv6 type 128 code 0 length 64');
  });

  it('refuse bad options with exit 2 and the place (a filter\'s column), before asking any node', () => {
    let r = hafw('trace', '--filter', 'tcp dport 99999');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--filter:11: .*\n {2}tcp dport 99999\n {12}\^/);
    assert.equal(hafw('trace', '--count', '0').status, 2);
    r = hafw('ct', 'events', '--event', 'created');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--event must be new, update, destroy/);
    assert.equal(hafw('ct', 'events', '--count', 'x').status, 2);
    assert.equal(hafw('ct', 'events', '--dport', '70000').status, 2);
  });

  it('exit 1 with advice when no node runs in this namespace', () => {
    for (const args of [['trace'], ['ct', 'events']]) {
      const r = hafw(...args);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, /no hafw node is running/);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    }
  });

  describe('against a node API on a control socket', () => {
    let dir: string;
    let sock: string;
    let app: FastifyInstance;
    let ct: TapHub<CtEventFilter, CtEventOut>;
    let trace: TapHub<{ filter?: string }, TraceRecordOut>;
    const subsCt: { id: number; filter: CtEventFilter }[][] = [];
    const subsTrace: { id: number; filter: { filter?: string } }[][] = [];
    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'hafw-tap-cli-'));
      sock = path.join(dir, 'ctl.sock');
      ct = new TapHub((l) => subsCt.push(l));
      trace = new TapHub((l) => subsTrace.push(l));
      const status = { node: 'fw', role: 'master', pid: 1, uptimeSeconds: 1, datapath: { tun: 't', offloads: true, vnetHdrLen: 0, counters: {}, native: {} } } as NodeStatus;
      app = await startControlServer({ status: () => status, metrics: new Registry(), control: { ctEvents: ct, trace } }, sock, pino({ level: 'silent' }));
    });
    after(async () => {
      await stopControlServer(app, sock);
      rmSync(dir, { recursive: true, force: true });
    });

    /** Runs the CLI; once it subscribed, `feed` sends it items; resolves with its output and exit code. */
    function run(args: string[], subs: { id: number }[][], feed: (id: number) => void): Promise<{ code: number | null; out: string; err: string }> {
      const before = subs.length;
      const p = spawn(process.execPath, [BIN, ...args, '--socket', sock], { env: ENV });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setInterval(() => {
        if (subs.length > before && subs.at(-1)!.length > 0) {
          clearInterval(timer);
          feed(subs.at(-1)![0]!.id);
        }
      }, 10);
      return new Promise((resolve) => p.on('close', (code) => (clearInterval(timer), resolve({ code, out, err }))));
    }

    it('hafw ct events --json --count 2: sends its filters, prints one JSON object per event, exits 0', async () => {
      const r = await run(['ct', 'events', '--json', '--count', '2', '-p', 'tcp', '--dport', '80', '-e', 'new,destroy'], subsCt, (id) =>
        ct.dispatch([{ ...event, to: [id] }, { ...event, event: 'destroy', to: [id] }]),
      );
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(subsCt.find((l) => l.length > 0)![0]!.filter, { proto: 6, dport: 80, events: ['new', 'destroy'] });
      const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as CtEventOut);
      assert.deepEqual(lines.map((e) => e.event), ['new', 'destroy']);
      assert.equal(lines[0]!.original.dport, 80);
      assert.equal('to' in lines[0]!, false);
    });

    it('hafw trace --filter ... --count 1: opens a session with the filter, prints the trace lines, exits 0', async () => {
      const r = await run(['trace', '--filter', 'tcp dport 22', '--count', '1'], subsTrace, (id) => trace.dispatch([{ ...record, to: [id] }]));
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(subsTrace.find((l) => l.length > 0)![0]!.filter, { filter: 'tcp dport 22' });
      assert.deepEqual(r.out.trim().split('\n'), formatTrace(record));
    });
  });
});
