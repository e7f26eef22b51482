/**
 * Traffic to a service on the firewall itself, from hafw-client to servers in
 * the firewall's namespace on its LAN address, for two paths measured in the same run on
 * the same lab, with the same server processes:
 *
 *   kernel   the node not started: no TUN device, no policy rules, so the kernel delivers
 *            to the local socket and sends the answers straight out, as on any Linux box
 *            without hafw. This is the baseline.
 *   input    the hafw node running with an input chain (`ct state established,related
 *            accept; tcp/udp dport ... accept; policy drop`): every packet to the node goes
 *            through the TUN device, prerouting + input, and back to the kernel for local
 *            delivery; every answer (and every TCP ACK) the node sends goes through the
 *            output table, the TUN device and output + postrouting. So a round trip crosses
 *            the datapath twice, once each way.
 *
 * Rows: TCP and UDP request/response (64-byte requests, one exchange at a time, TCP on one
 * connection; p50 and p99 in µs, measured by a Node.js client against the lab's Node.js
 * echo server, whose own cost is in both paths alike), and bulk TCP (iperf3, one stream) to
 * the node (data through input, ACKs through output) and from it (`-R`: data through
 * output). Each row of the input path carries its ratio to the kernel row.
 *
 * Bounded: fixed exchange counts, each with a time limit; iperf3 runs at most 10 s; the
 * node and servers are stopped by PID and the lab torn down in finally.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Lab } from '../cluster-tests/lab.js';
import { sh, spawnDetached, stopPid, sleep } from '../cluster-tests/exec.js';
import { FIREWALLS, NS, TUN_NAME } from '../cluster-tests/topology.js';
import { rrRun, startEchoServer } from '../cluster-tests/traffic.js';
import { checkSystemTools } from '../cluster-tests/requirements.js';
import { withRatio, type BenchResult } from './report.js';

const FWA = FIREWALLS[0]!;
const ECHO_PORT = 5001;
const IPERF_PORT = 5201;
const RR_COUNT = 2000;
const RR_SIZE = 64;

const RULESET = `table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    ct state invalid drop
    tcp dport { ${ECHO_PORT}, ${IPERF_PORT} } accept
    udp dport ${ECHO_PORT} accept
  }
}
`;

async function iperf(seconds: number, reverse: boolean): Promise<number> {
  const fwNs = NS.fw(FWA.name);
  const server = spawnDetached(['iperf3', '-s', '-1', '-B', FWA.lan4, '-p', String(IPERF_PORT)], { ns: fwNs, logFile: '/dev/null' });
  try {
    await sleep(300);
    const out = await sh(['iperf3', '-c', FWA.lan4, '-p', String(IPERF_PORT), '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])], { ns: NS.client, timeoutMs: (seconds + 20) * 1000 });
    const j = JSON.parse(out) as { end?: { sum_received?: { bits_per_second?: number } } };
    return Number(j.end?.sum_received?.bits_per_second ?? 0) / 1e9;
  } finally {
    await stopPid(server.pid!);
  }
}

async function measure(path: string, seconds: number): Promise<BenchResult[]> {
  const rows: BenchResult[] = [];
  for (const udp of [false, true]) {
    const r = await rrRun(FWA.lan4, { port: ECHO_PORT, count: RR_COUNT, size: RR_SIZE, udp, timeoutMs: 30000 });
    if (r.ok < r.count) throw new Error(`local bench (${path}): ${r.proto} got ${r.ok} of ${r.count} answers${r.error ? ` (${r.error})` : ''}`);
    const kind = udp ? 'udp' : 'tcp';
    const note = `${RR_COUNT} x ${RR_SIZE} B${udp ? `, ${r.lost ?? 0} lost` : ', one connection'}`;
    rows.push({ name: `local-rr-${kind}-p50/${path}`, value: r.p50Us, unit: 'µs', note });
    rows.push({ name: `local-rr-${kind}-p99/${path}`, value: r.p99Us, unit: 'µs', note });
  }
  rows.push({ name: `local-tcp-to-node/${path}`, value: await iperf(seconds, false), unit: 'Gbit/s', note: `iperf3, 1 stream, ${seconds} s` });
  rows.push({ name: `local-tcp-from-node/${path}`, value: await iperf(seconds, true), unit: 'Gbit/s', note: `iperf3 -R, 1 stream, ${seconds} s` });
  return rows;
}

async function toNodeCount(lab: Lab): Promise<number> {
  return Number((await lab.status(FWA.name)).datapath.counters.to_node ?? 0);
}

export async function runLocalBench(opts: { seconds: number }): Promise<BenchResult[]> {
  await checkSystemTools(['ip', 'iperf3']);
  const seconds = Math.min(opts.seconds, 10);
  const fwNs = NS.fw(FWA.name);
  const dir = await mkdtemp(path.join(tmpdir(), 'hafw-local-bench-'));
  const file = path.join(dir, 'input.nft');
  await writeFile(file, RULESET);
  const results: BenchResult[] = [];
  let stopEcho: (() => Promise<void>) | undefined;
  try {
    const lab = await Lab.up({ nodes: 1, startNodes: false });
    stopEcho = await startEchoServer(ECHO_PORT, fwNs);

    // Baseline: make sure nothing of hafw is in the way (no TUN device, so no steering).
    const links = await sh(['ip', '-n', fwNs, 'link', 'show']);
    if (links.includes(TUN_NAME)) throw new Error(`local bench: ${TUN_NAME} exists before the node started`);
    results.push(...(await measure('kernel', seconds)));

    await lab.startNode(FWA.name, `ruleset:\n  file: ${file}\n`);
    await lab.waitReady(FWA.name);
    await lab.waitTraffic();
    const before = await toNodeCount(lab);
    try {
      results.push(...(await measure('input', seconds)));
      // The figures are only the input path's if the packets really went through it.
      const seen = (await toNodeCount(lab)) - before;
      if (seen < 2 * RR_COUNT) throw new Error(`local bench: the datapath counted ${seen} packets to the node, fewer than the ${2 * RR_COUNT} requests sent`);
    } finally {
      await lab.stopNode(FWA.name);
    }
  } finally {
    if (stopEcho) await stopEcho().catch(() => undefined);
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  }
  const find = (n: string): BenchResult | undefined => results.find((r) => r.name === n);
  return results.map((r) => {
    const [kind, who] = r.name.split('/');
    return who === 'input' ? withRatio(r, find(`${kind}/kernel`)) : r;
  });
}
