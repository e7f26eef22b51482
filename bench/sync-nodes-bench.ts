/**
 * State sync with three nodes beside two (`npm run bench -- --only sync3`): the same
 * injector as bench/sync-bench.ts creates connections in the master's (fwa) real table;
 * one multicast stream reaches every standby. Per cluster size, one lab each:
 *
 * - lag at a steady 5,000 new entries/s: the sender's `hafw_sync_peer_lag_seconds` by
 *   receiving peer (sender clock, ACK echoes), p50 / p99 per standby and the worst of them;
 * - rate: N entries as fast as the injector creates them, to the N-th applied on the
 *   slowest standby (both instants inside the nodes).
 *
 * What a third node costs is the second receiver: its ACKs and NACKs reach the sender,
 * and the sender's window waits for the slowest receiver.
 */
import { mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Lab, type LabNodeCount } from '../cluster-tests/lab.js';
import { sleep } from '../cluster-tests/exec.js';
import { ctCount, loadConntrackConfig, parseHistogram, pollUntil, syncStats, type Histogram } from '../cluster-tests/sync-load.js';
import type { BenchResult } from './report.js';
import { INJECT_DIR, delta, histogramQuantile, request, status, type InjectStatus } from './sync-bench.js';

const PEER_LAG = 'hafw_sync_peer_lag_seconds';
const RATE_ENTRIES = 60_000;
const LAG_RATE = 5000;

interface WatchStatus { id: number; applied: number; reachedAt: number }

async function peerLag(lab: Lab, peers: Map<string, number>): Promise<Map<string, Histogram>> {
  const text = await lab.hafw('fwa', ['metrics']);
  const out = new Map<string, Histogram>();
  for (const [name, id] of peers) out.set(name, parseHistogram(text, PEER_LAG, { peer: String(id) }) ?? { buckets: [], count: 0, sum: 0 });
  return out;
}

const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');

async function measure(nodes: LabNodeCount, seconds: number): Promise<BenchResult[]> {
  const label = `hafw-${nodes}nodes`;
  const lab = await Lab.up({ nodes, extraConfig: () => loadConntrackConfig(1 << 20) });
  try {
    await lab.waitRole('fwa', 'master');
    const standbys = lab.state.nodes.map((n) => n.name).filter((n) => n !== 'fwa');
    const peers = new Map<string, number>();
    for (const n of standbys) {
      await lab.waitRole(n, 'backup');
      await pollUntil(() => syncStats(lab, n), (s) => s.inSync, 10_000);
      const id = (await lab.status(n)).sync?.nodeId;
      if (id === undefined) throw new Error(`${n} reports no sync node id`);
      peers.set(n, id);
    }
    const results: BenchResult[] = [];

    // Lag at a steady rate, by receiving peer.
    const before = await peerLag(lab, peers);
    const b0 = await Promise.all(standbys.map((n) => ctCount(lab, n)));
    const id = await request(lab, 'fwa', { count: LAG_RATE * seconds, rate: LAG_RATE, sport: 2000 });
    const st = await status<InjectStatus>(lab, 'fwa', id, seconds * 3000 + 5000);
    for (const [i, n] of standbys.entries()) await pollUntil(() => ctCount(lab, n), (c) => c.replicated >= b0[i]!.replicated + st.injected, 15_000, 100);
    await sleep(300); // the last ACKs carry the last lag samples
    const after = await peerLag(lab, peers);
    const per = standbys.map((n) => {
      const h = delta(after.get(n)!, before.get(n)!);
      return { n, count: h.count, p50: histogramQuantile(h, 0.5) * 1000, p99: histogramQuantile(h, 0.99) * 1000 };
    });
    const worst = per.reduce((a, b) => (b.p99 > a.p99 ? b : a));
    const perText = per.map((p) => `${p.n} (peer ${peers.get(p.n)}): p50 ${ms(p.p50)} ms, p99 ${ms(p.p99)} ms, ${p.count} samples`).join('; ');
    results.push({ name: `sync-lag-p99/${label}`, value: worst.p99, unit: 'ms', note: `${st.injected} new entries at ${LAG_RATE}/s asked; ${nodes - 1} standby(s), worst ${worst.n}; ${perText} (hafw_sync_peer_lag_seconds, sender clock)` });
    results.push({ name: `sync-lag-p50/${label}`, value: Math.max(...per.map((p) => p.p50)), unit: 'ms', note: 'the slowest standby\'s median' });

    // Rate: as fast as entries are created, to the N-th applied on the slowest standby.
    const watches = await Promise.all(standbys.map((n) => request(lab, n, { watchApplied: RATE_ENTRIES })));
    await sleep(200); // picked up (the injectors poll every 50 ms)
    const rid = await request(lab, 'fwa', { count: RATE_ENTRIES, rate: 0, sport: 2001 });
    const rs = await status<InjectStatus>(lab, 'fwa', rid, 30_000);
    const w = await Promise.all(standbys.map((n, i) => status<WatchStatus>(lab, n, watches[i]!, 65_000)));
    const rates = w.map((x) => x.applied / ((x.reachedAt - rs.startAt) / 1000));
    const all = w.every((x) => x.applied >= RATE_ENTRIES);
    results.push({
      name: `sync-rate/${label}`,
      value: Math.min(...rates),
      unit: 'entries/s',
      note: `${RATE_ENTRIES} entries created on fwa at ${Math.round(rs.injected / ((rs.endAt - rs.startAt) / 1000))}/s; applied on ${standbys.map((n, i) => `${n} ${w[i]!.applied} at ${Math.round(rates[i]!)}/s`).join(', ')}${all ? '' : ' (INCOMPLETE)'}; the slowest standby's rate`,
    });
    return results;
  } finally {
    await Lab.down();
  }
}

export async function runSyncNodesBench(opts: { seconds?: number } = {}): Promise<BenchResult[]> {
  const seconds = Math.min(Math.max(opts.seconds ?? 5, 2), 20);
  await rm(INJECT_DIR, { recursive: true, force: true });
  await mkdir(INJECT_DIR, { recursive: true });
  // As in sync-bench.ts: the nodes the lab spawns preload the injector.
  const nodeArgs = process.env.HAFW_NODE_ARGS;
  process.env.HAFW_NODE_ARGS = [nodeArgs ?? '', '--import', fileURLToPath(new URL('./sync-inject-preload.js', import.meta.url))].join(' ').trim();
  process.env.HAFW_SYNC_BENCH_INJECT = INJECT_DIR;
  try {
    const two = await measure(2, seconds);
    const three = await measure(3, seconds);
    // Three beside two, row by row.
    return [...two, ...three.map((r) => {
      const base = two.find((b) => b.name.split('/')[0] === r.name.split('/')[0]);
      return base ? { ...r, baseline: base.name, ratio: r.value / base.value } : r;
    })];
  } finally {
    if (nodeArgs === undefined) delete process.env.HAFW_NODE_ARGS;
    else process.env.HAFW_NODE_ARGS = nodeArgs;
    delete process.env.HAFW_SYNC_BENCH_INJECT;
  }
}
