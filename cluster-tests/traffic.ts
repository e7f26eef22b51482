/** Drives the traffic tool inside lab namespaces. */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { sh, spawnDetached, stopPid, sleep } from './exec.js';
import { NS } from './topology.js';
import { LAB_DIR, COMPILED_ROOT } from './lab.js';

const TOOL = path.join(COMPILED_ROOT, 'cluster-tests', 'tools', 'traffic.js');

interface TcpRun {
  proto: 'tcp';
  flows: number;
  ok: number;
  bytesEchoed: number;
  ms: number;
  errors: string[];
}

interface UdpRun {
  proto: 'udp';
  sent: number;
  received: number;
  ms: number;
}

/** Starts the echo server in hafw-server; returns a function that stops it. */
export async function startEchoServer(port = 5001, ns: string = NS.server): Promise<() => Promise<void>> {
  const logFile = path.join(LAB_DIR, `echo-${port}.log`);
  const child = spawnDetached([process.execPath, TOOL, 'serve', '--port', String(port), '--max-seconds', '900'], { ns, logFile });
  for (let i = 0; i < 100; i++) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    if (log.includes(`"listening":${port}`)) break;
    await sleep(50);
  }
  return () => stopPid(child.pid!);
}

export async function tcpRun(host: string, opts: { port?: number; bytes?: number; flows?: number; timeoutMs?: number; ns?: string } = {}): Promise<TcpRun> {
  const out = await sh(
    [process.execPath, TOOL, 'tcp', '--host', host, '--port', String(opts.port ?? 5001), '--bytes', String(opts.bytes ?? 1_000_000), '--flows', String(opts.flows ?? 1), '--timeout-ms', String(opts.timeoutMs ?? 20000)],
    { ns: opts.ns ?? NS.client, timeoutMs: (opts.timeoutMs ?? 20000) + 10000 },
  );
  return JSON.parse(out) as TcpRun;
}

export async function udpRun(host: string, opts: { port?: number; count?: number; size?: number; timeoutMs?: number; ns?: string } = {}): Promise<UdpRun> {
  const out = await sh(
    [process.execPath, TOOL, 'udp', '--host', host, '--port', String(opts.port ?? 5001), '--count', String(opts.count ?? 100), '--size', String(opts.size ?? 100), '--timeout-ms', String(opts.timeoutMs ?? 5000)],
    { ns: opts.ns ?? NS.client, timeoutMs: (opts.timeoutMs ?? 5000) + 10000 },
  );
  return JSON.parse(out) as UdpRun;
}

interface RrRun {
  proto: 'rr-tcp' | 'rr-udp';
  count: number;
  ok: number;
  lost?: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  ms: number;
  error?: string;
}

/** Request/response round trips (one at a time) against the echo server. */
export async function rrRun(host: string, opts: { port?: number; count?: number; size?: number; udp?: boolean; timeoutMs?: number; ns?: string } = {}): Promise<RrRun> {
  const timeoutMs = opts.timeoutMs ?? 20000;
  const out = await sh(
    [process.execPath, TOOL, 'rr', '--host', host, '--port', String(opts.port ?? 5001), '--count', String(opts.count ?? 2000), '--size', String(opts.size ?? 64), '--timeout-ms', String(timeoutMs), ...(opts.udp ? ['--udp'] : [])],
    { ns: opts.ns ?? NS.client, timeoutMs: timeoutMs + 10000 },
  );
  return JSON.parse(out) as RrRun;
}

export async function ping(host: string, ns: string = NS.client, count = 1): Promise<boolean> {
  const cmd = host.includes(':') ? ['ping', '-6', '-c', String(count), '-W', '1', '-i', '0.2', host] : ['ping', '-c', String(count), '-W', '1', '-i', '0.2', host];
  return sh(cmd, { ns }).then(
    () => true,
    () => false,
  );
}

/**
 * One TCP exchange from `ns`: connect, send a line, wait for its echo (the echo server of
 * startEchoServer). 'echoed', the connection's error code (ECONNREFUSED...), or 'timeout'
 * when nothing came back within `timeoutMs` (a drop).
 */
export async function tcpEchoOnce(host: string, port: number, ns: string, timeoutMs = 5000): Promise<string> {
  const js = `const s = require('net').connect({ host: ${JSON.stringify(host)}, port: ${port} });
s.on('connect', () => s.write('hello-echo\\n'));
let got = ''; s.on('data', (d) => { got += d; if (got.includes('hello-echo')) { console.log('echoed'); process.exit(0); } });
s.on('error', (e) => { console.log(e.code); process.exit(0); });
setTimeout(() => { console.log('timeout'); process.exit(0); }, ${timeoutMs});`;
  return (await sh([process.execPath, '-e', js], { ns, timeoutMs: timeoutMs + 5000 })).trim();
}
