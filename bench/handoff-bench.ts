/**
 * The handoff of asymmetric packets (active/active, node/datapath/worker/handoff.ts) against
 * the direct path, in one process: two nodes' datapath sides (ruleset, table, sync bridge,
 * filter) with the handoff wired as in a node, over real UDP sockets on loopback
 * (127.0.0.1 and 127.0.0.2, the handoff's unicast mode). One TCP connection of group A,
 * owned by fwa; its server-to-client data packets (1,400 bytes of payload):
 *
 *   handoff-rate/direct   fwa tracks and filters them itself (the path when routing is
 *                         symmetric): packets per second through its filter stage
 *   handoff-send/hafw     they reach fwb instead: its filter finds a replica of another
 *                         group and hands the packet over (HMAC-SHA256, one UDP datagram):
 *                         packets per second of that half
 *   handoff-receive/hafw  fwa's half: datagram checked (HMAC, replay window), run through
 *                         its filter, written: packets per second (datagrams encoded
 *                         beforehand). On two nodes the halves run on two machines: the
 *                         handed path's rate is the lower of the two
 *   handoff-latency-p50|p99/hafw  one packet at a time, from fwb's filter to fwa's
 *                         write into the device through the loopback socket (µs);
 *                         baseline: the same packet through fwa's filter alone (/direct)
 *
 * What it leaves out: the TUN reads and writes and the wire between the nodes (loopback
 * here), so the added latency on a real sync link is this plus one hop. Bounded by
 * `seconds` per row.
 */
import { buildTcp, parseBuilt } from '../node/packet/build.js';
import { parsePrefix } from '../inet/index.js';
import { RulesetEngine } from '../node/ruleset/index.js';
import { ConnTracker } from '../node/conntrack/index.js';
import { EventRing, syncClock } from '../sync-protocol/index.js';
import { C, COUNTER_NAMES } from '../node/datapath/shared/counters.js';
import { FilterStage } from '../node/datapath/worker/filter-stage.js';
import { RouteInterfaces, type RouteEntry } from '../node/datapath/worker/route-interfaces.js';
import { Verdict } from '../node/datapath/worker/stage.js';
import { SyncBridge } from '../node/datapath/worker/sync-bridge.js';
import { udpHandoffTransport, wireHandoff } from '../node/datapath/worker/handoff.js';
import { encodeHandoff } from '../node/datapath/worker/handoff-codec.js';
import { withRatio, type BenchResult } from './report.js';

const CLIENT = '192.0.2.100';
const SERVER = '198.51.100.102';
const KEY = new Uint8Array(32).fill(7);
const A = 51;
const B = 52;
const PAYLOAD = 1400;
const PORT = 3792;
const RULESET = `table inet filter { chain forward { type filter hook forward priority 0; policy drop;
  ct state established,related accept
  ct state invalid drop
  iifname "lan" ct state new accept
} }`;

function node(id: number, groups: number[], addr: string, peer: string) {
  const engine = new RulesetEngine({ clock: syncClock });
  engine.load(RULESET);
  const routes = new RouteInterfaces();
  routes.load([['192.0.2.0/24', 'lan'], ['0.0.0.0/0', 'wan']].map(([pfx, ifname]): RouteEntry => {
    const p = parsePrefix(pfx!, { strict: false });
    return { family: 4, prefix: p.bytes, len: p.len, ifId: engine.ifnames.idOf(ifname!), mtu: 0 };
  }));
  const ct = new ConnTracker({ maxEntries: 1024, now: syncClock });
  const ring = new EventRing(1 << 16);
  const bridge = new SyncBridge(ct, ring);
  ct.onEvent = (kind, entry) => bridge.onEvent(kind, entry);
  for (const g of groups) bridge.setMastered(g, true);
  const counters = new Float64Array(COUNTER_NAMES.length);
  const filter = new FilterStage(engine, ct, routes, counters, bridge);
  const n = {
    ct, ring, bridge, counters, filter,
    /** Called for each packet fwa writes into its device. */
    onInject: (): void => undefined,
    send: (p: Uint8Array): Verdict => filter.process(parseBuilt(p), syncClock()),
  };
  const wired = wireHandoff({ nodeId: id, epoch: 1, key: KEY, vnetHdrLen: 0, counters, ratePerPeer: 0, stage: filter, filter, ct, bridge, inject: () => n.onInject(), clock: syncClock });
  wired.handoff.transport = udpHandoffTransport({ mode: 'unicast', bindAddr: addr, peers: [peer] }, PORT, (b) => wired.handoff.receive(b));
  return Object.assign(n, { handoff: wired.handoff, stop: () => wired.stop() });
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

export async function runHandoffBench(opts: { seconds: number }): Promise<BenchResult[]> {
  const fwa = node(1, [A], '127.0.0.1', '127.0.0.2');
  const fwb = node(2, [B], '127.0.0.2', '127.0.0.1');
  try {
    await new Promise((r) => setTimeout(r, 50)); // sockets bound
    // The connection: made through fwa, replicated to fwb, established.
    const syn = buildTcp({ src: CLIENT, dst: SERVER, sport: 40000, dport: 80, flags: 'S', seq: 100 });
    const synAck = buildTcp({ src: SERVER, dst: CLIENT, sport: 80, dport: 40000, flags: 'SA', seq: 900, ack: 101 });
    const ack = buildTcp({ src: CLIENT, dst: SERVER, sport: 40000, dport: 80, flags: 'A', seq: 101, ack: 901 });
    fwa.send(syn);
    fwa.send(synAck);
    fwa.send(ack);
    for (let r = fwa.ring.pop(); r !== undefined; r = fwa.ring.pop()) fwb.bridge.apply(1, r, 0);
    // Server-to-client data within the window (the same segment again: a retransmission to
    // the tracker, accepted as established; what is measured is the path, not TCP).
    const data = buildTcp({ src: SERVER, dst: CLIENT, sport: 80, dport: 40000, flags: 'PA', seq: 901, ack: 101, payload: new Uint8Array(PAYLOAD) });
    if (fwa.send(data) !== Verdict.Accept) throw new Error('handoff bench: the direct path does not accept the data packet');
    if (fwb.send(data) !== Verdict.Stolen) throw new Error('handoff bench: fwb does not hand the data packet over');
    await new Promise((r) => setTimeout(r, 20));
    const ms = opts.seconds * 1000;

    // Direct: fwa's filter, packets per second, and the time one packet takes.
    let n = 0;
    let t0 = performance.now();
    while (performance.now() - t0 < ms) {
      for (let i = 0; i < 256; i++) fwa.send(data);
      n += 256;
    }
    const directRate = n / ((performance.now() - t0) / 1000);
    const directUs: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const t = performance.now();
      fwa.send(data);
      directUs.push((performance.now() - t) * 1000);
    }
    directUs.sort((a, b) => a - b);

    // The handoff's two halves, each on its own (on two nodes they run on two machines):
    // fwb's filter, encoding (HMAC) and send; fwa's check (HMAC, replay), filter and write.
    n = 0;
    const sent0 = fwb.counters[C.handoff_sent]!;
    t0 = performance.now();
    while (performance.now() - t0 < ms) {
      for (let i = 0; i < 256; i++) fwb.send(data);
      n += 256;
    }
    const sendRate = n / ((performance.now() - t0) / 1000);
    if (fwb.counters[C.handoff_sent]! - sent0 !== n) throw new Error('handoff bench: not every packet was handed over');
    await new Promise((r) => setTimeout(r, 200)); // what reached fwa's socket is drained
    let out = 0;
    fwa.onInject = () => void out++;
    n = 0;
    let spent = 0;
    for (let epoch = 2; spent < ms; epoch++) {
      // A sender of a later boot epoch, so the replay window takes its sequences afresh.
      const ds = Array.from({ length: 8192 }, (_, i) => encodeHandoff({ vnetHdrLen: 0, node: 9, epoch, seq: i + 1 }, data, KEY)!);
      const t = performance.now();
      for (const d of ds) fwa.handoff.receive(d);
      spent += performance.now() - t;
      n += ds.length;
    }
    const receiveRate = n / (spent / 1000);
    if (out !== n) throw new Error(`handoff bench: ${out} of ${n} handed packets forwarded by the owner`);

    // Latency: one packet at a time, fwb's filter to fwa's device write.
    const lat: number[] = [];
    const tEnd = performance.now() + Math.min(ms, 3000);
    while (performance.now() < tEnd && lat.length < 20000) {
      const t = performance.now();
      const got = new Promise<void>((res) => (fwa.onInject = () => res()));
      fwb.send(data);
      await Promise.race([got, new Promise((r) => setTimeout(r, 100))]);
      lat.push((performance.now() - t) * 1000);
    }
    lat.sort((a, b) => a - b);
    const note = `in-process, loopback UDP, ${PAYLOAD}-byte TCP payload; TUN and wire not included`;
    const baseRate: BenchResult = { name: 'handoff-rate/direct', value: directRate, unit: 'pkt/s', note: 'established TCP data through the owner\'s filter (symmetric path)' };
    const base50: BenchResult = { name: 'handoff-latency-p50/direct', value: pct(directUs, 0.5), unit: 'µs', note: 'one packet through the owner\'s filter' };
    const base99: BenchResult = { name: 'handoff-latency-p99/direct', value: pct(directUs, 0.99), unit: 'µs' };
    return [
      baseRate,
      withRatio({ name: 'handoff-send/hafw', value: sendRate, unit: 'pkt/s', note: `the non-owner's half: its filter (a replica of another group), HMAC-SHA256, one datagram sent; ${note}` }, baseRate),
      withRatio({ name: 'handoff-receive/hafw', value: receiveRate, unit: 'pkt/s', note: `the owner's half: HMAC and replay check, its filter, the write; ${note}` }, baseRate),
      base50,
      withRatio({ name: 'handoff-latency-p50/hafw', value: pct(lat, 0.5), unit: 'µs', note: `non-owner's filter + HMAC + datagram + owner's check and filter; ${note}` }, base50),
      base99,
      withRatio({ name: 'handoff-latency-p99/hafw', value: pct(lat, 0.99), unit: 'µs' }, base99),
    ];
  } finally {
    fwa.stop();
    fwb.stop();
  }
}
