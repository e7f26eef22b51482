/**
 * The client side of a failover drill, run inside hafw-client:
 *   node drill-agent.js --host H --port P --flows N --duration-ms D [--probe-interval-ms 2]
 * Opens N long-lived TCP flows to the echo server (each sends a small message every 20 ms
 * and records when echoed bytes arrive) and a UDP probe stream (one numbered datagram
 * every probe interval, echoed back). Prints {"ready":true,"ports":[...]} once every flow is connected (the flows' source ports),
 * then after D ms one JSON object with the raw timestamps. Times are absolute
 * (performance.timeOrigin + performance.now()), comparable across processes on the host.
 * Bounded: stops by itself after D ms (at most 10 minutes); SIGUSR2 ends it (and its
 * report) earlier, for a test whose steps take as long as they take.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';

const now = (): number => performance.timeOrigin + performance.now();

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string', default: '5001' },
    flows: { type: 'string', default: '10' },
    'duration-ms': { type: 'string', default: '5000' },
    'probe-interval-ms': { type: 'string', default: '2' },
  },
});
const host = values.host!;
const port = Number(values.port);
const flowCount = Math.min(Number(values.flows), 1000);
const durationMs = Math.min(Number(values['duration-ms']), 600_000);
const probeEvery = Math.max(1, Number(values['probe-interval-ms']));

interface Flow {
  id: string;
  progressMs: number[];
  failed: boolean;
  sock: net.Socket;
}

const flows: Flow[] = [];
let connected = 0;
const payload = Buffer.alloc(64, 0x66);
const sendTimers: NodeJS.Timeout[] = [];

for (let i = 0; i < flowCount; i++) {
  const sock = net.connect({ host, port });
  const f: Flow = { id: `flow-${i}`, progressMs: [], failed: false, sock };
  flows.push(f);
  sock.setNoDelay(true);
  sock.on('connect', () => {
    connected++;
    if (connected === flowCount) {
      console.log(JSON.stringify({ ready: true, ports: flows.map((x) => x.sock.localPort) }));
      startProbes();
    }
    sendTimers.push(setInterval(() => sock.write(payload), 20));
  });
  sock.on('data', () => f.progressMs.push(now()));
  sock.on('error', () => (f.failed = true));
  sock.on('close', () => (f.failed = f.failed || !finished));
}

const probeSent: number[] = [];
const probeRecv: number[] = [];
const udp = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 1 << 22 });
udp.on('message', (msg) => {
  if (msg.length < 4) return;
  const seq = msg.readUInt32BE(0);
  if (seq < probeRecv.length && Number.isNaN(probeRecv[seq]!)) probeRecv[seq] = now();
});
udp.bind(0);

let finished = false;
let probeTimer: NodeJS.Timeout | undefined;
function startProbes(): void {
  const buf = Buffer.alloc(16);
  probeTimer = setInterval(() => {
    const seq = probeSent.length;
    buf.writeUInt32BE(seq, 0);
    probeSent.push(now());
    probeRecv.push(NaN);
    udp.send(buf, port, host);
  }, probeEvery);
  setTimeout(finish, durationMs);
}

// If the flows never connect, still stop (and report) in bounded time.
setTimeout(() => {
  if (connected < flowCount && !finished) {
    console.log(JSON.stringify({ ready: false, connected }));
    finish();
  }
}, 10_000);

process.on('SIGUSR2', () => finish());

function finish(): void {
  if (finished) return;
  finished = true;
  // The observation window ends just after the last probe was sent (a lab round trip is
  // well under 1 ms); the drain
  // below must not count as silence (the report treats silence until endMs as a gap).
  const endMs = (probeSent.length > 0 ? probeSent[probeSent.length - 1]! : now()) + 1;
  if (probeTimer) clearInterval(probeTimer);
  for (const t of sendTimers) clearInterval(t);
  // Let the last probes and echoes come back.
  setTimeout(() => {
    const out = {
      probeSentMs: probeSent,
      probeRecvMs: probeRecv.map((v) => (Number.isNaN(v) ? null : v)),
      flows: flows.map((f) => ({ id: f.id, progressMs: f.progressMs, failed: f.failed || f.sock.destroyed })),
      endMs,
    };
    for (const f of flows) f.sock.destroy();
    udp.close();
    console.log(JSON.stringify(out));
  }, 300);
}
