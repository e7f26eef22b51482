/**
 * Many connections, cheaply: one UDP datagram per 5-tuple, run inside hafw-client
 * (`ip netns exec hafw-client node udp-flows.js ...`). Each source address gets one socket
 * (so one source port); each socket sends one datagram to every destination port in the
 * range, so the firewall creates sources x ports conntrack entries. Nothing has to answer:
 * an unreplied UDP entry lives for conntrack's udpUnreplied timeout.
 *
 *   --sources A,B,...   source addresses (already on the client's interface)
 *   --host H            destination (the server)
 *   --port-base P --ports N   destination ports P .. P+N-1
 *   --rate R            datagrams per second (paced in 1 ms steps)
 *   --max-seconds S     stop after S seconds whatever was sent (DESIGN §6: bounded)
 *
 * Prints one JSON object: {sent, ms, errors}.
 */
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    sources: { type: 'string' },
    host: { type: 'string' },
    'port-base': { type: 'string', default: '20000' },
    ports: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '20000' },
    'max-seconds': { type: 'string', default: '30' },
  },
});
if (!values.sources || !values.host) throw new Error('--sources and --host are required');
const sources = values.sources.split(',');
const host = values.host;
const portBase = Number(values['port-base']);
const ports = Math.min(Number(values.ports), 65536 - portBase);
const rate = Math.min(Math.max(Number(values.rate), 1), 1_000_000);
const maxMs = Math.min(Number(values['max-seconds']), 300) * 1000;
const total = sources.length * ports;
const payload = Buffer.from('hafw-sync-lab');

const socks = await Promise.all(
  sources.map(
    (addr) =>
      new Promise<dgram.Socket>((resolve, reject) => {
        const s = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 << 20 });
        s.once('error', reject);
        s.bind(0, addr, () => resolve(s));
      }),
  ),
);
let errors = 0;
for (const s of socks) s.on('error', () => errors++);

let sent = 0;
let inFlight = 0;
const t0 = performance.now();
await new Promise<void>((resolve) => {
  const step = (): void => {
    const elapsed = performance.now() - t0;
    if (sent >= total || elapsed > maxMs) {
      if (inFlight === 0) return resolve();
      return void setTimeout(step, 1);
    }
    // Catch up to the rate's schedule, but never more than a burst the socket buffer holds.
    const due = Math.min(total, Math.ceil(((elapsed + 1) * rate) / 1000));
    const burst = Math.min(due - sent, 2000);
    for (let i = 0; i < burst; i++, sent++) {
      // Source-major order spreads consecutive datagrams over ports, so one source's
      // socket never has to queue a whole burst.
      const s = socks[sent % socks.length]!;
      const port = portBase + Math.floor(sent / socks.length);
      inFlight++;
      s.send(payload, port, host, (err) => {
        inFlight--;
        if (err) errors++;
      });
    }
    setTimeout(step, 1);
  };
  step();
});
const ms = Math.round(performance.now() - t0);
for (const s of socks) s.close();
console.log(JSON.stringify({ sent, ms, errors }));
