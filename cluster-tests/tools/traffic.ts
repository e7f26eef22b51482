/**
 * Traffic tool run inside lab namespaces (`ip netns exec hafw-client node traffic.js ...`).
 *   serve --port P [--max-seconds S]         TCP and UDP echo on [::]:P (IPv4 and IPv6)
 *   tcp --host H --port P --bytes N [--flows F] [--chunk C] [--timeout-ms T]
 *   udp --host H --port P --count N [--size S] [--timeout-ms T]
 *   rr --host H --port P --count N [--size S] [--udp] [--timeout-ms T]
 *       request/response: N exchanges one after another (TCP: on one connection), each
 *       timed from the request's write to its whole echo; prints p50/p99/mean in µs
 * Clients print one JSON object with what they measured. Every loop is bounded in count
 * and time (DESIGN §6).
 */
import net from 'node:net';
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';

function serve(port: number, maxSeconds: number): void {
  const tcp = net.createServer((sock) => {
    sock.on('error', () => undefined);
    sock.pipe(sock);
  });
  tcp.listen({ port, host: '::', ipv6Only: false });
  const udp = dgram.createSocket({ type: 'udp6', ipv6Only: false, recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
  udp.bind(port, '::');
  const stop = (): void => process.exit(0);
  setTimeout(stop, maxSeconds * 1000).unref();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.log(JSON.stringify({ listening: port }));
}

interface FlowResult {
  ok: boolean;
  sent: number;
  received: number;
  ms: number;
  error?: string;
}

function tcpFlow(host: string, port: number, bytes: number, chunk: number, timeoutMs: number): Promise<FlowResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let sent = 0;
    let received = 0;
    let done = false;
    const finish = (ok: boolean, error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok, sent, received, ms: Math.round(performance.now() - t0), ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => finish(false, 'timeout'), timeoutMs);
    const buf = Buffer.alloc(chunk, 0x61);
    const sock = net.connect({ host, port });
    const pump = (): void => {
      while (sent < bytes) {
        const n = Math.min(chunk, bytes - sent);
        sent += n;
        if (!sock.write(n === chunk ? buf : buf.subarray(0, n))) return void sock.once('drain', pump);
      }
    };
    sock.on('connect', pump);
    sock.on('data', (d: Buffer) => {
      received += d.length;
      if (received >= bytes) finish(true);
    });
    sock.on('error', (e) => finish(false, e.message));
    sock.on('close', () => finish(received >= bytes, received >= bytes ? undefined : 'closed early'));
  });
}

async function tcpClient(host: string, port: number, bytes: number, flows: number, chunk: number, timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: flows }, () => tcpFlow(host, port, bytes, chunk, timeoutMs)));
  const ms = performance.now() - t0;
  const ok = results.filter((r) => r.ok).length;
  const total = results.reduce((s, r) => s + r.received, 0);
  console.log(JSON.stringify({ proto: 'tcp', host, flows, ok, bytesEchoed: total, ms: Math.round(ms), errors: results.filter((r) => r.error).map((r) => r.error) }));
}

function udpClient(host: string, port: number, count: number, size: number, timeoutMs: number): void {
  const sock = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  const payload = Buffer.alloc(size, 0x62);
  let received = 0;
  let sent = 0;
  const t0 = performance.now();
  const finish = (): void => {
    console.log(JSON.stringify({ proto: 'udp', host, sent, received, ms: Math.round(performance.now() - t0) }));
    sock.close();
  };
  const timer = setTimeout(finish, timeoutMs);
  sock.on('message', () => {
    received++;
    if (received === count) {
      clearTimeout(timer);
      finish();
    }
  });
  // Paced in small bursts so the test measures forwarding, not socket buffer overflow.
  const burst = (): void => {
    for (let i = 0; i < 10 && sent < count; i++, sent++) sock.send(payload, port, host);
    if (sent < count) setTimeout(burst, 1);
  };
  sock.bind(0, burst);
}

/** Round-trip times in µs, sorted; p50/p99 by nearest rank. */
function summary(rtts: number[]): { p50Us: number; p99Us: number; meanUs: number } {
  rtts.sort((a, b) => a - b);
  const at = (q: number): number => (rtts.length ? rtts[Math.min(rtts.length - 1, Math.ceil(q * rtts.length) - 1)]! : 0);
  const mean = rtts.length ? rtts.reduce((s, v) => s + v, 0) / rtts.length : 0;
  return { p50Us: Math.round(at(0.5)), p99Us: Math.round(at(0.99)), meanUs: Math.round(mean) };
}

/** A few exchanges before the timed ones: connection set-up, JIT and caches are not the path's latency. */
const RR_WARMUP = 50;

function rrTcp(host: string, port: number, count: number, size: number, timeoutMs: number): void {
  const sock = net.connect({ host, port });
  sock.setNoDelay(true);
  const req = Buffer.alloc(size, 0x63);
  const rtts: number[] = [];
  const t0 = performance.now();
  let n = 0;
  let got = 0;
  let sentAt = 0;
  let done = false;
  const finish = (error?: string): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    sock.destroy();
    console.log(JSON.stringify({ proto: 'rr-tcp', host, count, ok: rtts.length, size, ...summary(rtts), ms: Math.round(performance.now() - t0), ...(error ? { error } : {}) }));
  };
  const timer = setTimeout(() => finish('timeout'), timeoutMs);
  const send = (): void => {
    got = 0;
    sentAt = performance.now();
    sock.write(req);
  };
  sock.on('connect', send);
  sock.on('data', (d: Buffer) => {
    got += d.length;
    if (got < size) return;
    if (n++ >= RR_WARMUP) rtts.push((performance.now() - sentAt) * 1000);
    if (rtts.length >= count) finish();
    else send();
  });
  sock.on('error', (e) => finish(e.message));
  sock.on('close', () => finish('closed early'));
}

/** UDP: one datagram at a time; one that gets no echo within 1 s counts as lost and the next goes. */
function rrUdp(host: string, port: number, count: number, size: number, timeoutMs: number): void {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const req = Buffer.alloc(size, 0x64);
  const rtts: number[] = [];
  const t0 = performance.now();
  let n = 0;
  let lost = 0;
  let sentAt = 0;
  let retry: NodeJS.Timeout | undefined;
  let done = false;
  const finish = (error?: string): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    clearTimeout(retry);
    sock.close();
    console.log(JSON.stringify({ proto: 'rr-udp', host, count, ok: rtts.length, lost, size, ...summary(rtts), ms: Math.round(performance.now() - t0), ...(error ? { error } : {}) }));
  };
  const timer = setTimeout(() => finish('timeout'), timeoutMs);
  const send = (): void => {
    sentAt = performance.now();
    sock.send(req, port, host);
    clearTimeout(retry);
    retry = setTimeout(() => {
      lost++;
      send();
    }, 1000);
  };
  sock.on('message', () => {
    if (n++ >= RR_WARMUP) rtts.push((performance.now() - sentAt) * 1000);
    if (rtts.length >= count) finish();
    else send();
  });
  sock.on('error', (e) => finish(e.message));
  sock.bind(0, send);
}

function main(): void {
  const [mode, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      host: { type: 'string' },
      port: { type: 'string', default: '5001' },
      bytes: { type: 'string', default: '1000000' },
      flows: { type: 'string', default: '1' },
      chunk: { type: 'string', default: '65536' },
      count: { type: 'string', default: '100' },
      size: { type: 'string', default: '100' },
      'timeout-ms': { type: 'string', default: '20000' },
      'max-seconds': { type: 'string', default: '600' },
      udp: { type: 'boolean' },
    },
  });
  const port = Number(values.port);
  const timeoutMs = Math.min(Number(values['timeout-ms']), 600000);
  if (mode === 'serve') return serve(port, Math.min(Number(values['max-seconds']), 3600));
  if (!values.host) throw new Error('--host is required');
  if (mode === 'tcp') void tcpClient(values.host, port, Number(values.bytes), Math.min(Number(values.flows), 10000), Number(values.chunk), timeoutMs);
  else if (mode === 'udp') udpClient(values.host, port, Math.min(Number(values.count), 10_000_000), Number(values.size), timeoutMs);
  else if (mode === 'rr') (values.udp ? rrUdp : rrTcp)(values.host, port, Math.min(Number(values.count), 1_000_000), Math.min(Number(values.size), 60_000), timeoutMs);
  else throw new Error(`unknown mode ${mode}: serve | tcp | udp | rr`);
}

main();
