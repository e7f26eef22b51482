/**
 * Long-lived TCP flows for the compose drill, run inside the demo client container:
 *   node flow-probe.js --host H --port P [--flows N] [--duration-ms D] [--interval-ms I]
 * Each flow connects to the echo server (cluster-tests/tools/traffic.js serve) and sends an
 * 8-byte message every I ms; echoed bytes are timestamped. Prints {"ready":true,...} once
 * every flow is connected (or after 5 s), then, after D ms, one JSON line with the summary
 * (flow-stats.ts). Bounded: at most 256 flows and 10 minutes; it always exits by itself.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { summarizeFlows, type FlowRecord } from './flow-stats.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string', default: '5001' },
    flows: { type: 'string', default: '8' },
    'duration-ms': { type: 'string', default: '10000' },
    'interval-ms': { type: 'string', default: '50' },
  },
});
if (!values.host) {
  console.error('usage: flow-probe.js --host H --port P [--flows N] [--duration-ms D] [--interval-ms I]');
  process.exit(2);
}
const host = values.host;
const port = Number(values.port);
const count = Math.max(1, Math.min(256, Number(values.flows)));
const durationMs = Math.max(100, Math.min(600_000, Number(values['duration-ms'])));
const intervalMs = Math.max(5, Number(values['interval-ms']));
const now = (): number => performance.now();

const records: FlowRecord[] = [];
const sockets: net.Socket[] = [];
const message = Buffer.alloc(8);
let connected = 0;
let announced = false;

function announce(): void {
  if (announced) return;
  announced = true;
  console.log(JSON.stringify({ ready: true, connected, flows: count }));
}

for (let i = 0; i < count; i++) {
  const rec: FlowRecord = { echoes: [] };
  records.push(rec);
  const sock = net.connect({ host, port });
  sockets.push(sock);
  sock.setNoDelay(true);
  sock.on('connect', () => {
    rec.connectedAt = now();
    if (++connected === count) announce();
  });
  // One timestamp per chunk: echoes of several messages may arrive together after a gap.
  sock.on('data', () => rec.echoes.push(now()));
  sock.on('error', (err) => {
    rec.error ??= (err as NodeJS.ErrnoException).code ?? err.message;
  });
  sock.on('close', () => {
    rec.error ??= 'closed by peer';
  });
}
setTimeout(announce, 5000).unref();

const sender = setInterval(() => {
  for (const s of sockets) if (s.writable && !s.connecting) s.write(message);
}, intervalMs);

setTimeout(() => {
  clearInterval(sender);
  const endAt = now();
  // A flow is alive when it was echoed within the last 4 send intervals (at least 500 ms).
  const summary = summarizeFlows(records, endAt, Math.max(500, 4 * intervalMs));
  for (const s of sockets) s.destroy();
  console.log(JSON.stringify({ summary }));
  process.exit(0);
}, durationMs);
