/**
 * Driving state sync in the lab: many connections from extra client addresses, the
 * nodes' `hafw ct count` / `hafw sync stats`, faults on the sync link (netem, or nftables + HTB), and
 * forged or replayed sync messages. Shared by cluster-tests/sync.lab.test.ts and
 * bench/sync-bench.ts.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sh, shQuiet, sleep, nsArgv } from './exec.js';
import { NS, SERVER, FIREWALLS } from './topology.js';
import type { Lab } from './lab.js';

// Tools sit beside this module in whatever output tree it was compiled to.
const TOOLS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'tools');
const FLOWS_TOOL = path.join(TOOLS, 'udp-flows.js');
const INJECT_TOOL = path.join(TOOLS, 'sync-inject.js');

/** Multicast group and port of the lab's sync (node/daemon/config.ts defaults). */
const SYNC_GROUP = '239.255.72.70';
const SYNC_PORT = 3780;

/** Conntrack settings for load tests: UDP entries outlive the test, room for several 100k runs. */
export function loadConntrackConfig(maxEntries = 524288): string {
  // Unreplied UDP (the flows here) and ICMP (the lab's reachability ping) live 10 minutes,
  // so no entry expires, and no destroy event is sent, while a test counts.
  return `conntrack:\n  maxEntries: ${maxEntries}\n  timeouts:\n    udpUnreplied: 600\n    icmp: 600\n`;
}

/** Client source addresses 192.0.2.101 .. 192.0.2.(100+n), on-link on the LAN. */
export function clientSources(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `192.0.2.${101 + i}`);
}

/** Adds the addresses to hafw-client's eth0 (idempotent). */
export async function addClientSources(addrs: string[]): Promise<void> {
  for (const a of addrs) await shQuiet(['ip', '-n', NS.client, 'addr', 'add', `${a}/24`, 'dev', 'eth0']);
}

interface FlowRun {
  sent: number;
  ms: number;
  errors: number;
}

interface FlowOptions {
  sources: string[];
  portBase: number;
  ports: number;
  /** Datagrams (= new connections) per second. */
  rate: number;
  maxSeconds?: number;
}

function flowArgv(o: FlowOptions): string[] {
  return [
    process.execPath, FLOWS_TOOL, '--sources', o.sources.join(','), '--host', SERVER.v4,
    '--port-base', String(o.portBase), '--ports', String(o.ports), '--rate', String(o.rate), '--max-seconds', String(o.maxSeconds ?? 30),
  ];
}

/** Creates sources x ports UDP connections through the active firewall; resolves when all are sent. */
export async function makeFlows(o: FlowOptions): Promise<FlowRun> {
  const out = await sh(flowArgv(o), { ns: NS.client, timeoutMs: ((o.maxSeconds ?? 30) + 10) * 1000 });
  return JSON.parse(out) as FlowRun;
}

/**
 * Makes `count` new connections tracked on `fw` (the active node): one paced pass over
 * sources x ports, then, because datagrams can be lost before the datapath sees them (the
 * TUN queue overflows when the datapath thread is descheduled on a loaded host), up to
 * three smaller passes over fresh ports starting at `topUpBase` until the node's local
 * count has grown by `count`. Returns the node's local count at the end.
 */
export async function makeConnections(lab: Lab, fw: string, o: FlowOptions & { count: number; topUpBase: number }): Promise<{ local: number; passes: number }> {
  const base = (await ctCount(lab, fw)).local;
  await makeFlows(o);
  let port = o.topUpBase;
  let local = base;
  for (let pass = 1; ; pass++) {
    // Let the datapath drain its batches before counting.
    const r = await pollUntil(() => ctCount(lab, fw), (c) => c.local >= base + o.count, 1000, 100);
    local = r.value.local;
    if (r.ok || pass > 3) return { local, passes: pass };
    const perSource = Math.ceil((base + o.count - local) * 1.25 / o.sources.length) + 5;
    await makeFlows({ ...o, portBase: port, ports: perSource });
    port += perSource;
  }
}

export interface CtCount {
  total: number;
  local: number;
  replicated: number;
  capacity: number;
}

export async function ctCount(lab: Lab, name: string): Promise<CtCount> {
  return JSON.parse(await lab.hafw(name, ['ct', 'count', '--json'])) as CtCount;
}

/** `hafw sync stats --json`: the endpoint snapshot (sync-protocol/stats-format.ts) is under `status`. */
interface SyncStatsJson {
  nodeId: number;
  epoch: number;
  inSync: boolean;
  counters: Record<string, number>;
  drops: Record<string, number>;
  peers: { node: number; epoch: number; inSync: boolean; cumAck: number; lastHeardMs: number }[];
  lagMs: { samples: number; p50: number | null; p99: number | null };
}

export async function syncStats(lab: Lab, name: string): Promise<SyncStatsJson> {
  const raw = JSON.parse(await lab.hafw(name, ['sync', 'stats', '--json'])) as { inSync: boolean; status: SyncStatsJson };
  return { ...raw.status, inSync: raw.inSync };
}

/** Polls `probe` until `done` holds or the time is up; returns the last value and whether it held. */
export async function pollUntil<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, everyMs = 100): Promise<{ value: T; ok: boolean; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const value = await probe();
    if (done(value)) return { value, ok: true, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) return { value, ok: false, ms: Date.now() - t0 };
    await sleep(everyMs);
  }
}

interface Impairment {
  lossPct: number;
  duplicatePct: number;
  /** Share of datagrams sent through a slow lane (delayed, so overtaken: reordering). */
  reorderPct: number;
}

/**
 * Loss, duplication and reordering on a firewall's sync interface (egress). With sch_netem
 * this is `tc qdisc add dev sync root netem loss L% duplicate D% delay 5ms 5ms reorder R%`.
 * Kernels built without netem (this CI's VM kernel has no sch_netem) get the same faults
 * from nftables and HTB: `numgen random` drops L% and duplicates D% (`dup to` the group),
 * and marks R% with a priority that HTB maps to a 20 Mbit/s class, so those datagrams
 * queue a few milliseconds behind the rest and arrive after later ones.
 * Returns which mechanism was used.
 */
export async function impairSyncLink(fw: string, f: Impairment): Promise<'netem' | 'nft+htb'> {
  const ns = NS.fw(fw);
  await clearImpairment(fw);
  const netemOk = await sh(
    ['tc', 'qdisc', 'add', 'dev', 'sync', 'root', 'netem', 'loss', `${f.lossPct}%`, 'duplicate', `${f.duplicatePct}%`, 'delay', '5ms', '5ms', 'reorder', `${f.reorderPct}%`],
    { ns },
  ).then(() => true, () => false);
  if (netemOk) return 'netem';
  await sh(['tc', 'qdisc', 'add', 'dev', 'sync', 'root', 'handle', '1:', 'htb', 'default', '10'], { ns });
  await sh(['tc', 'class', 'add', 'dev', 'sync', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit'], { ns });
  await sh(['tc', 'class', 'add', 'dev', 'sync', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '20mbit', 'ceil', '20mbit', 'burst', '1600', 'cburst', '1600'], { ns });
  const m = `oifname "sync" udp dport ${SYNC_PORT}`;
  const rules = `table ip hafw_impair {
  chain out {
    type filter hook output priority 0; policy accept;
    ${m} numgen random mod 1000 < ${Math.round(f.lossPct * 10)} counter drop
    ${m} numgen random mod 1000 < ${Math.round(f.duplicatePct * 10)} counter dup to ${SYNC_GROUP} device "sync"
    ${m} numgen random mod 1000 < ${Math.round(f.reorderPct * 10)} counter meta priority set 1:20
  }
}
`;
  await sh(['nft', '-f', '-'], { ns, input: rules });
  return 'nft+htb';
}

export async function clearImpairment(fw: string): Promise<void> {
  const ns = NS.fw(fw);
  await shQuiet(['tc', 'qdisc', 'del', 'dev', 'sync', 'root'], { ns });
  await shQuiet(['nft', 'delete', 'table', 'ip', 'hafw_impair'], { ns });
}

function syncAddr(fw: string): string {
  const f = FIREWALLS.find((x) => x.name === fw);
  if (!f) throw new Error(`unknown firewall ${fw}`);
  return f.sync4;
}

function injectArgv(fw: string, mode: string, extra: string[]): string[] {
  return [process.execPath, INJECT_TOOL, mode, '--group', SYNC_GROUP, '--port', String(SYNC_PORT), '--iface', syncAddr(fw), ...extra];
}

/** Sends, from `fw`'s namespace, a DATA message claiming to be node/epoch/seq but keyed with a random key. */
export async function forgeData(fw: string, node: number, epoch: number, seq: number, records = 4): Promise<void> {
  await sh(injectArgv(fw, 'forge', ['--node', String(node), '--epoch', String(epoch), '--seq', String(seq), '--records', String(records)]), { ns: NS.fw(fw) });
}

/** Sends raw bytes to the sync group from `fw`'s namespace, `times` times. */
export async function sendRaw(fw: string, hex: string, times = 1): Promise<void> {
  await sh(injectArgv(fw, 'send', ['--hex', hex, '--times', String(times)]), { ns: NS.fw(fw) });
}

/**
 * Listens on the sync group in `fw`'s namespace for the next DATA message from `node` that
 * carries records. Resolves once the listener has joined; `message` resolves with its hex.
 */
export async function captureData(fw: string, node: number, timeoutMs = 5000): Promise<{ message: Promise<string> }> {
  const argv = nsArgv(NS.fw(fw), injectArgv(fw, 'capture', ['--node', String(node), '--timeout-ms', String(timeoutMs)]));
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const joined = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening')) resolve();
    });
    child.once('exit', () => reject(new Error(`capture exited before joining: ${err.trim()}`)));
  });
  const message = new Promise<string>((resolve, reject) => {
    child.once('exit', () => {
      try {
        const r = JSON.parse(out) as { captured: boolean; hex?: string };
        if (r.captured && r.hex) resolve(r.hex);
        else reject(new Error(`no DATA message from node ${node} within ${timeoutMs} ms`));
      } catch {
        reject(new Error(`capture failed: ${err.trim() || out.trim()}`));
      }
    });
  });
  message.catch(() => undefined);
  await joined;
  return { message };
}

export { type Histogram, parseHistogram } from './compose/prom-text.js';
