/**
 * The datapath against the kernel's own stateful firewall (issue 19): TCP bulk (1 and 8
 * streams), 64-byte UDP packets/s, request/response round-trip time and new TCP
 * connections/s from hafw-client to hafw-server through one firewall, for four forwarders
 * measured in the same run on the same lab:
 *   kernel      plain kernel forwarding, no ruleset: the box (and the probes' own ceiling)
 *   kernel-nft  kernel forwarding with the lab's strict ruleset (STRICT_RULESET) loaded by
 *               `nft -f` and conntrack strict (nf_conntrack_tcp_loose=0): the operator's
 *               real alternative, and the baseline of the c-echo and hafw rows
 *   c-echo      a minimal C TUN echo forwarder with hafw's offloads: the limit of any TUN design
 *   hafw        the hafw node with the same strict ruleset (conntrack strict by default)
 * The request/response probes are bench/netprobe.c (C, so the client is not the limit).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, PACKAGE_ROOT, STRICT_RULESET, strictRulesetConfig } from '../cluster-tests/lab.js';
import { sh, spawnDetached, stopPid, sleep } from '../cluster-tests/exec.js';
import { NS, SERVER, TUN_NAME } from '../cluster-tests/topology.js';
import { checkSystemTools } from '../cluster-tests/requirements.js';
import { inputTable, outputTable } from '../node/datapath/index.js';
import { withRatio, type BenchResult } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SRC_DIR = path.join(PACKAGE_ROOT, 'bench');

export const FORWARDERS = ['kernel', 'kernel-nft', 'c-echo', 'hafw'] as const;
export type ForwarderName = (typeof FORWARDERS)[number];
export const PROBES = ['tcp-bulk', 'tcp-bulk-8', 'udp-64B', 'rtt', 'tcp-cps'] as const;
export type ProbeName = (typeof PROBES)[number];

/** Round trips of the latency probe, and connections kept in flight by the connection probe. */
const RTT_COUNT = 10_000;
export const CPS_PARALLEL = 64;
/** The connection probe's server listens on this many ports, so client ports never run out. */
const CPS_PORTS = 8;
const UDP_ECHO_PORT = 7001;
const UDP_SINK_PORT = 7002;
const TCP_SERVE_PORT = 7100;
/** Connection-probe runs so far in this process: each takes the next CPS_PORTS ports. */
let cpsRuns = 0;
const TCP_LOOSE = 'net.netfilter.nf_conntrack_tcp_loose';
/** The route table of the TUN plumbing (the node's default datapath.routeTable, and plumb.ts's). */
const ROUTE_TABLE = 100;

interface Forwarder {
  name: ForwarderName;
  start(): Promise<() => Promise<void>>;
}

export interface Tools {
  echo: string;
  probe: string;
  dir: string;
}

/** Waits (bounded) until something listens on `port` in the server namespace: a loaded machine may take a while to start it. */
async function waitListening(proto: 'tcp' | 'udp', port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const out = await sh(['ss', '-Hln', proto === 'tcp' ? '-t' : '-u', 'sport', '=', `:${port}`], { ns: NS.server }).catch(() => '');
    if (out.trim() !== '') return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${proto} port ${port} in ${NS.server} after 5 s`);
}

async function iperfOnce(args: string[], seconds: number): Promise<Record<string, any>> {
  const server = spawnDetached(['iperf3', '-s', '-1', '-B', SERVER.v4], { ns: NS.server, logFile: '/dev/null' });
  try {
    await waitListening('tcp', 5201);
    const out = await sh(['iperf3', '-c', SERVER.v4, '-t', String(seconds), '-J', ...args], { ns: NS.client, timeoutMs: (seconds + 20) * 1000 });
    return JSON.parse(out) as Record<string, any>;
  } finally {
    await stopPid(server.pid!);
  }
}

/** One retry: on a machine shared with other work an iperf3 run now and then hangs in its setup. */
export async function iperf(args: string[], seconds: number): Promise<Record<string, any>> {
  try {
    return await iperfOnce(args, seconds);
  } catch {
    return iperfOnce(args, seconds);
  }
}

/** Runs a netprobe server in the server namespace for the duration of `fn`. */
async function withServer<T>(tools: Tools, args: string[], fn: () => Promise<T>): Promise<T> {
  const server = spawnDetached([tools.probe, ...args], { ns: NS.server, logFile: path.join(tools.dir, 'server.log') });
  try {
    await waitListening(args[0] === 'udp-echo' ? 'udp' : 'tcp', Number(args[1]));
    return await fn();
  } finally {
    await stopPid(server.pid!);
  }
}

/**
 * New TCP connections/s from hafw-client to hafw-server (netprobe cps: connect + 1-byte
 * request/answer + close, CPS_PARALLEL in parallel) for `seconds`.
 */
export async function cpsProbe(tools: Tools, seconds: number): Promise<{ cps: number; errors: number }> {
  // Fresh server ports for every run: the server closes first, so each connection leaves
  // a TIME_WAIT socket there for 60 s, and a later run that met one with the same four
  // addresses and ports would wait a second for its SYN to be retried (the runs after
  // the first would be penalised, always the same forwarders).
  const port = TCP_SERVE_PORT + CPS_PORTS * cpsRuns++;
  const line = await withServer(tools, ['tcp-serve', String(port), String(CPS_PORTS), String(seconds + 30)], () =>
    sh([tools.probe, 'cps', SERVER.v4, String(port), String(CPS_PORTS), String(CPS_PARALLEL), String(seconds)], { ns: NS.client, timeoutMs: (seconds + 20) * 1000 }),
  );
  const [cps, errors] = line.trim().split(/\s+/).map(Number);
  return { cps: cps!, errors: errors ?? 0 };
}

async function measure(name: ForwarderName, probes: readonly ProbeName[], seconds: number, tools: Tools): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const probe of probes) {
    if (probe === 'tcp-bulk' || probe === 'tcp-bulk-8') {
      const tcp = await iperf(probe === 'tcp-bulk' ? [] : ['-P', '8'], seconds);
      const retr = Number(tcp.end?.sum_sent?.retransmits ?? 0);
      out.push({ name: `${probe}/${name}`, value: Number(tcp.end?.sum_received?.bits_per_second ?? 0) / 1e9, unit: 'Gbit/s', note: `iperf3${probe === 'tcp-bulk' ? '' : ' -P 8'}, ${retr} retransmits` });
    } else if (probe === 'udp-64B') {
      // 64-byte IP packets (20 IPv4 + 8 UDP + 36 payload) from a C sendmmsg sender, counted
      // by a C recvmmsg sink: iperf3's one-send-a-packet sender was the limit of every
      // forwarder alike on this machine.
      const sink = sh([tools.probe, 'udp-sink', String(UDP_SINK_PORT), String(seconds + 30)], { ns: NS.server, timeoutMs: (seconds + 40) * 1000 });
      await waitListening('udp', UDP_SINK_PORT);
      const [sent, secs] = (await sh([tools.probe, 'udp-flood', SERVER.v4, String(UDP_SINK_PORT), String(seconds)], { ns: NS.client, timeoutMs: (seconds + 20) * 1000 })).trim().split(/\s+/).map(Number);
      const got = Number((await sink).trim());
      out.push({ name: `udp-64B/${name}`, value: got / secs!, unit: 'packets/s', note: `delivered (C sendmmsg sender, ${Math.round(sent! / secs!).toLocaleString('en-US')}/s sent; ${((1 - got / sent!) * 100).toFixed(1)}% lost)` });
    } else if (probe === 'rtt') {
      const line = await withServer(tools, ['udp-echo', String(UDP_ECHO_PORT), '120'], () =>
        sh([tools.probe, 'rtt', SERVER.v4, String(UDP_ECHO_PORT), String(RTT_COUNT), '100'], { ns: NS.client, timeoutMs: 120_000 }),
      );
      const [p50, p99, lost] = line.trim().split(/\s+/).map(Number);
      const note = `UDP 32-byte ping-pong, ${RTT_COUNT.toLocaleString('en-US')} round trips one at a time${lost ? `, ${lost} lost` : ''}`;
      out.push({ name: `rtt-p50/${name}`, value: p50!, unit: 'us', note }, { name: `rtt-p99/${name}`, value: p99!, unit: 'us', note });
    } else {
      const { cps, errors } = await cpsProbe(tools, seconds);
      out.push({ name: `tcp-cps/${name}`, value: cps, unit: 'conns/s', note: `connect + 1-byte request/answer + close, ${CPS_PARALLEL} in parallel, C epoll client${errors ? `, ${errors} failed` : ''}` });
    }
  }
  return out;
}

export async function buildTools(): Promise<Tools> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hafw-bench-'));
  const cc = (src: string, bin: string) => promisify(execFile)('cc', ['-O2', '-o', path.join(dir, bin), path.join(SRC_DIR, src)]);
  await cc('tun-echo.c', 'tun-echo');
  await cc('netprobe.c', 'netprobe');
  return { echo: path.join(dir, 'tun-echo'), probe: path.join(dir, 'netprobe'), dir };
}

/**
 * Puts the firewall namespace's policy routing back to the kernel's defaults after a TUN
 * forwarder: a stopped node deliberately leaves its blackhole rules (fail closed) and the
 * `lookup local` it moved, which would stop the next forwarder's traffic.
 */
async function resetPolicyRouting(fwNs: string): Promise<void> {
  for (const fam of ['-4', '-6']) {
    await sh(['ip', '-n', fwNs, fam, 'rule', 'flush']).catch(() => undefined);
    const defaults = [['0', 'local'], ['32766', 'main'], ...(fam === '-4' ? [['32767', 'default']] : [])];
    for (const [prio, table] of defaults) await sh(['ip', '-n', fwNs, fam, 'rule', 'add', 'priority', prio!, 'lookup', table!]).catch(() => undefined);
    // The node's per-interface input tables (lan, wan) too: datapath.inputDevices per-interface.
    for (const table of [ROUTE_TABLE, outputTable(ROUTE_TABLE), inputTable(ROUTE_TABLE, 0), inputTable(ROUTE_TABLE, 1)]) await sh(['ip', '-n', fwNs, fam, 'route', 'flush', 'table', String(table)]).catch(() => undefined);
  }
}

/**
 * Which ratio each row gets: the user-space forwarders against the kernel's stateful
 * firewall, that firewall against plain forwarding (what the ruleset costs the kernel).
 */
function baselineOf(who: string): string | undefined {
  if (who === 'hafw' || who === 'c-echo') return 'kernel-nft';
  if (who === 'kernel-nft') return 'kernel';
  return undefined;
}

export async function runDatapathBench(opts: { seconds: number; rounds?: number; forwarders?: readonly ForwarderName[]; probes?: readonly ProbeName[] }): Promise<BenchResult[]> {
  await checkSystemTools(['ip', 'iperf3', 'cc', 'nft']);
  const tools = await buildTools();
  const fwNs = NS.fw('fwa');
  const probes = opts.probes ?? PROBES;
  const forwarders: Forwarder[] = [
    {
      name: 'kernel',
      async start() {
        return async () => undefined;
      },
    },
    {
      name: 'kernel-nft',
      async start() {
        const file = path.join(tools.dir, 'strict.nft');
        await writeFile(file, STRICT_RULESET);
        await sh(['nft', '-f', file], { ns: fwNs });
        // The ct expressions load nf_conntrack; its sysctls are per network namespace, so
        // this changes the lab's firewall only (and is put back below all the same).
        const before = (await sh(['sysctl', '-n', TCP_LOOSE], { ns: fwNs })).trim();
        await sh(['sysctl', '-q', '-w', `${TCP_LOOSE}=0`], { ns: fwNs });
        return async () => {
          await sh(['sysctl', '-q', '-w', `${TCP_LOOSE}=${before}`], { ns: fwNs }).catch(() => undefined);
          await sh(['nft', 'delete', 'table', 'inet', 'filter'], { ns: fwNs }).catch(() => undefined);
        };
      },
    },
    {
      name: 'c-echo',
      async start() {
        const child = spawnDetached([tools.echo, TUN_NAME, String(opts.seconds * 2 * probes.length + 60)], { ns: fwNs, logFile: path.join(tools.dir, 'c-echo.log') });
        for (let i = 0; i < 50; i++) {
          if ((await sh(['ip', '-n', fwNs, 'link', 'show', TUN_NAME]).catch(() => '')).includes(TUN_NAME)) break;
          await sleep(50);
        }
        await sh([process.execPath, path.join(here, 'plumb.js'), TUN_NAME, 'lan', 'wan'], { ns: fwNs });
        return async () => {
          await stopPid(child.pid!);
          await resetPolicyRouting(fwNs);
        };
      },
    },
    {
      name: 'hafw',
      async start() {
        const lab = (await Lab.current())!;
        await lab.startNode('fwa', await strictRulesetConfig());
        await lab.waitReady('fwa');
        return async () => {
          await lab.stopNode('fwa');
          await resetPolicyRouting(fwNs);
        };
      },
    },
  ];
  const rounds = Math.max(1, opts.rounds ?? 1);
  const runs: BenchResult[][] = [];
  try {
    await Lab.up({ nodes: 1, startNodes: false });
    // Rounds go through every forwarder in turn, so that a burst of load from elsewhere on
    // the machine hits all of them alike instead of one forwarder's whole run.
    for (let round = 0; round < rounds; round++) {
      const results: BenchResult[] = [];
      for (const f of forwarders) {
        if (opts.forwarders && !opts.forwarders.includes(f.name)) continue;
        const stop = await f.start();
        try {
          // Fails fast (instead of probes timing out) when the path does not forward.
          await (await Lab.current())!.waitTraffic();
          results.push(...(await measure(f.name, probes, opts.seconds, tools).catch((err: Error) => Promise.reject(new Error(`forwarder ${f.name}: ${err.message}`)))));
        } finally {
          await stop();
        }
      }
      runs.push(results);
    }
  } finally {
    await Lab.down();
    await rm(tools.dir, { recursive: true, force: true });
  }
  return withTwinRatios(medianOfRounds(runs));
}

/** Per row, the round with the median value (its note kept), and the spread of the rounds. */
export function medianOfRounds(runs: BenchResult[][]): BenchResult[] {
  if (runs.length === 1) return runs[0]!;
  return runs[0]!.map((first) => {
    const all = runs.map((r) => r.find((x) => x.name === first.name)).filter((x): x is BenchResult => x !== undefined);
    const sorted = [...all].sort((a, b) => a.value - b.value);
    const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
    const fmt = (v: number): string => (v >= 100 ? Math.round(v).toLocaleString('en-US') : String(Math.round(v * 100) / 100));
    return { ...mid, note: `median of ${all.length} rounds (${fmt(sorted[0]!.value)}-${fmt(sorted[sorted.length - 1]!.value)}); ${mid.note ?? ''}`.replace(/; $/, '') };
  });
}

/** Each row with its ratio to its twin of the same run (baselineOf), when that twin was measured. */
export function withTwinRatios(results: BenchResult[]): BenchResult[] {
  const find = (n: string): BenchResult | undefined => results.find((r) => r.name === n);
  return results.map((r) => {
    const [kind, who] = r.name.split('/');
    const base = baselineOf(who!);
    return base ? withRatio(r, find(`${kind}/${base}`)) : r;
  });
}
