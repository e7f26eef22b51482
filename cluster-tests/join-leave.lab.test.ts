/**
 * @lab a node joining and leaving a running active/active cluster (docs/active-active.md,
 * "Adding and removing a node"). fwa masters group A and fwb group B, both carrying IPv4
 * and IPv6 flows through a strict stateful ruleset (a flow survives only where its state
 * is). fwc was never started: it joins with its own config (same groups, same sync key, no
 * list of peers: the sync segment's multicast finds them) and the lowest priority for A but
 * the highest for B. It must resync every connection from both owners and the ruleset
 * version the cluster moved to while it was away, take group B only once it holds B's
 * connections, never take A, and lose no flow. Then fwc leaves cleanly (SIGTERM): B goes
 * back to fwb, the flows go on, and the others show fwc as gone (left), not lagging.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Lab, STRICT_RULESET } from './lab.js';
import { DrillFlows } from './drill-flows.js';
import { echoFlowsTo, until } from './lab-poll.js';
import { sleep } from './exec.js';
import { NS } from './topology.js';
import { startEchoServer } from './traffic.js';
import { activeActiveVrrp, groupStates, routeThroughGroups, SERVER_A, SERVER_B } from './active-active.js';

const FLOWS = 5;
/** Bounded at 90 s; trace() ends the agents once the test has seen what it waits for. */
const FLOW_OPTS = { flows: FLOWS, durationMs: 90000, probeIntervalMs: 50 };
const now = (): number => performance.timeOrigin + performance.now();
/** fwc prefers group B over fwb (200) and backs A up behind both. */
const FWC_PRIORITIES = { a: 50, b: 250 };

interface SyncPeer {
  node: number;
  inSync: boolean;
}
interface DepartedPeer {
  node: number;
  reason: string;
}

describe('@lab a node joins and leaves a running active/active cluster', function () {
  this.timeout(180000);
  let lab: Lab;
  let dir: string;
  const flows: DrillFlows[] = [];
  let stopEcho: (() => Promise<void>) | undefined;

  const syncStats = async (fw: string): Promise<{ inSync: boolean; peers: SyncPeer[]; status: { nodeId: number; departed?: DepartedPeer[] } }> => JSON.parse(await lab.hafw(fw, ['sync', 'stats', '--json'])) as never;
  const rulesetVersion = async (fw: string) => JSON.parse(await lab.hafw(fw, ['ruleset', 'show', '--cluster', '--json'])) as { version: number; hash: string; ready: boolean };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hafw-join-lab-'));
    for (const fw of ['fwa', 'fwb', 'fwc']) await writeFile(path.join(dir, `${fw}.nft`), STRICT_RULESET);
    lab = await Lab.up({
      nodes: 3,
      startLater: ['fwc'],
      vrrpSection: (fw) => activeActiveVrrp(fw, 50, fw.name === 'fwc' ? FWC_PRIORITIES : undefined),
      extraConfig: (fw) => `ruleset:\n  file: ${path.join(dir, `${fw.name}.nft`)}\n  stateDir: ${path.join(dir, `state-${fw.name}`)}\n`,
    });
    await until('fwa masters A, fwb masters B', async () => [await groupStates(lab, 'fwa'), await groupStates(lab, 'fwb')].join(' / '), (s) => s === 'a:master b:backup / a:backup b:master');
    await routeThroughGroups();
    stopEcho = await startEchoServer(5001, NS.server);
  });
  after(async () => {
    for (const f of flows) f.stop();
    await stopEcho?.().catch(() => undefined);
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  it('IPv4 and IPv6: fwc joins (resyncs from both owners, gets the ruleset, takes only group B, no flow lost), then leaves cleanly (B back to fwb, flows go on, peers show it gone)', async () => {
    const viaA = [SERVER_A.v4, SERVER_A.v6];
    const viaB = [SERVER_B.v4, SERVER_B.v6];
    const per = 2 * FLOWS;
    for (const host of [...viaA, ...viaB]) flows.push(await DrillFlows.start(host, FLOW_OPTS));
    await until('fwa owns group A\'s flows', () => echoFlowsTo(lab, 'fwa', 'local', viaA), (s) => s.size === per, 5000);
    await until('fwb owns group B\'s flows', () => echoFlowsTo(lab, 'fwb', 'local', viaB), (s) => s.size === per, 5000);

    // The cluster moves on while fwc is away: fwc's own file has the old ruleset.
    const base = await rulesetVersion('fwa');
    const out = await lab.hafw('fwa', ['ruleset', 'apply', 'add rule inet filter forward tcp dport 5099 accept']);
    const version = Number(/version (\d+)/.exec(out)?.[1]);
    assert.equal(version, base.version + 1, out);
    const hash = (await rulesetVersion('fwa')).hash;
    await until('fwb at the new version', () => rulesetVersion('fwb'), (v) => v.version === version);

    // 1. fwc joins. Watch every group's master while it does: A must stay on fwa throughout,
    // and fwc may master B only once it holds every one of B's connections.
    const join = now();
    await lab.startNode('fwc');
    await lab.waitReady('fwc');
    let tookB = NaN;
    const deadline = Date.now() + 20000;
    for (;;) {
      const [a, c] = [await groupStates(lab, 'fwa'), await groupStates(lab, 'fwc')];
      assert.ok(!c.includes('a:master'), `fwc took group A (fwc: ${c})`);
      assert.ok(a.startsWith('a:master'), `fwa lost group A while fwc joined (fwa: ${a})`);
      if (c === 'a:backup b:master') {
        tookB = now();
        break;
      }
      if (Date.now() > deadline) throw new Error(`fwc did not take group B within 20 s (fwa: ${a}, fwc: ${c})`);
      await sleep(50);
    }
    // It held B's connections when it took B (adopted as its own) and A's as replicas.
    const heldB = await echoFlowsTo(lab, 'fwc', undefined, viaB);
    assert.equal(heldB.size, per, 'fwc holds every connection of group B');
    await until('fwb gives group B up', () => groupStates(lab, 'fwb'), (s) => s === 'a:backup b:backup', 5000);
    await until('fwc owns every flow of group B', () => echoFlowsTo(lab, 'fwc', 'local', viaB), (s) => s.size === per, 10000);
    await until('fwc holds a replica of every flow of group A', () => echoFlowsTo(lab, 'fwc', 'replicated', viaA), (s) => s.size === per, 5000);
    assert.equal((await echoFlowsTo(lab, 'fwc', 'local', viaA)).size, 0, 'fwc forwards none of A\'s');
    const fwcSync = await syncStats('fwc');
    assert.equal(fwcSync.peers.length, 2, 'fwc found both peers on the sync segment');
    assert.ok(fwcSync.inSync);
    const rv = await until('fwc at the cluster\'s ruleset version', () => rulesetVersion('fwc'), (v) => v.version === version);
    assert.equal(rv.hash, hash);
    assert.match(await lab.hafw('fwc', ['ruleset', 'show']), /tcp dport 5099 accept/);
    const fwcId = fwcSync.status.nodeId;
    assert.ok(fwcId > 0);
    await sleep(1500);

    // 2. fwc leaves cleanly: B goes back to fwb (200 > fwa's 100), A stays on fwa.
    const leave = now();
    await lab.stopNode('fwc', 'SIGTERM');
    await until('fwb masters B again', () => groupStates(lab, 'fwb'), (s) => s === 'a:backup b:master', 5000);
    assert.equal(await groupStates(lab, 'fwa'), 'a:master b:backup');
    await until('fwb owns every flow of group B again', () => echoFlowsTo(lab, 'fwb', 'local', viaB), (s) => s.size === per, 10000);
    // The peers stop counting fwc at once (it said it leaves), and say so.
    for (const fw of ['fwa', 'fwb']) {
      const s = await until(`${fw} no longer counts fwc`, () => syncStats(fw), (x) => !x.peers.some((p) => p.node === fwcId), 2000);
      assert.ok(s.inSync, `${fw} in sync`);
      const metrics = await lab.hafw(fw, ['metrics']);
      assert.match(metrics, new RegExp(`hafw_sync_peer_up\\{[^}]*peer="${fwcId}"[^}]*\\} 0\\n`), `${fw}: hafw_sync_peer_up of fwc is 0`);
      assert.match(await lab.hafw(fw, ['status']), new RegExp(`sync peer node ${fwcId} +GONE: left`));
      assert.deepEqual(s.status.departed?.find((d) => d.node === fwcId)?.reason, 'left', `${fw} shows fwc as left: ${JSON.stringify({ peers: s.peers, departed: s.status.departed })}`);
    }
    const back = now();
    await sleep(2000);

    for (const f of flows) {
      const t = await f.trace();
      for (const flow of t.flows) {
        const what = `${f.host} ${flow.id}`;
        assert.equal(flow.failed, false, `${what} was reset`);
        assert.ok(flow.progressMs.some((x) => x > tookB && x < leave), `${what} made no progress while fwc was in the cluster`);
        assert.ok(flow.progressMs.some((x) => x > back), `${what} made no progress after fwc left`);
      }
      console.log(`      ${f.host}: ${t.flows.length} flows survived fwc's join (group B taken ${Math.round(tookB - join)} ms after its process was started, start-up included) and leave`);
    }
  });
});
