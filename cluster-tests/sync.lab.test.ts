/**
 * @lab state sync: two nodes, the active one (fwa) forwards 100,000 new UDP
 * connections and the standby (fwb) must hold every one of them as a replica: on a clean
 * link, with loss / duplication / reordering on the sync link, and after being restarted
 * in the middle of the load. A forged message (wrong key) and a replayed one must change
 * nothing. Counts come from `hafw ct count --json` and `hafw sync stats --json` of each
 * node, run in its namespace. Speed is measured in bench/sync-bench.ts, not asserted here.
 */
import assert from 'node:assert/strict';
import { Lab } from './lab.js';
import {
  addClientSources, captureData, clearImpairment, clientSources, ctCount, forgeData, impairSyncLink, loadConntrackConfig, makeConnections, makeFlows,
  pollUntil, sendRaw, syncStats, type CtCount,
} from './sync-load.js';

const SOURCES = clientSources(10);
/** 10 sources x 10,000 ports: 100,000 connections per run. */
const PORTS = 10_000;
/** New connections per second: what the lab's datapath takes on a busy 2-core host without many TUN queue drops. */
const RATE = 15_000;

describe('@lab state sync between two hafw nodes', function () {
  this.timeout(120_000);
  let lab: Lab;
  let labIsOurs = false;

  before(async function () {
    // Lab.up waits (bounded) while another process owns the machine's one lab.
    this.timeout(15 * 60_000);
    lab = await Lab.up({ nodes: 2, extraConfig: () => loadConntrackConfig() });
    labIsOurs = true;
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    await addClientSources(SOURCES);
    const s = await pollUntil(() => syncStats(lab, 'fwb'), (x) => x.inSync, 10_000);
    assert.ok(s.ok, 'the standby reports in sync before any load');
  });
  after(async () => {
    // Only the owner tears the lab down: if Lab.up never returned (still waiting for
    // another process's lab), Lab.down would remove that process's namespaces.
    if (labIsOurs) await Lab.down();
  });

  /** Waits until fwb holds as replicas every connection fwa holds locally (bounded). */
  async function standbyHoldsAll(timeoutMs: number): Promise<{ a: CtCount; b: CtCount; ms: number }> {
    const a = await ctCount(lab, 'fwa');
    const r = await pollUntil(() => ctCount(lab, 'fwb'), (b) => b.replicated >= a.local, timeoutMs, 200);
    assert.ok(r.ok, `the standby holds ${r.value.replicated} replicas of the active node's ${a.local} connections after ${timeoutMs} ms`);
    return { a, b: r.value, ms: r.ms };
  }

  it('a forged message (wrong key) and a replayed one are dropped and change nothing', async () => {
    const a = await syncStats(lab, 'fwa');
    const before = await syncStats(lab, 'fwb');
    const peer = before.peers.find((p) => p.node === a.nodeId);
    assert.ok(peer, 'the standby knows the active node');
    const ct0 = await ctCount(lab, 'fwb');

    // Forged: claims to be fwa's next DATA message (its node id, epoch and sequence), with
    // four new connections, but keyed with a random key.
    await forgeData('fwa', a.nodeId, a.epoch, (peer.cumAck + 1) >>> 0, 4);
    const forged = await pollUntil(() => syncStats(lab, 'fwb'), (x) => (x.drops.auth ?? 0) > (before.drops.auth ?? 0), 3000);
    assert.ok(forged.ok, 'the forged message is counted as an authentication drop');

    // Replayed: a real DATA message of fwa, captured on the sync segment, sent again.
    const cap = await captureData('fwb', a.nodeId, 8000);
    await makeFlows({ sources: [SOURCES[0]!], portBase: 61000, ports: 5, rate: 1000 });
    const hex = await cap.message;
    const ct1 = await pollUntil(() => ctCount(lab, 'fwb'), (c) => c.replicated >= ct0.replicated + 5, 5000);
    assert.ok(ct1.ok, 'the five new connections reached the standby');
    const mid = await syncStats(lab, 'fwb');
    await sendRaw('fwa', hex, 3);
    const replayed = await pollUntil(() => syncStats(lab, 'fwb'), (x) => (x.drops.replay ?? 0) >= (mid.drops.replay ?? 0) + 3, 3000);
    assert.ok(replayed.ok, `the three replays are counted as replay drops (${mid.drops.replay} -> ${replayed.value.drops.replay})`);
    assert.equal(replayed.value.counters.recordsApplied, mid.counters.recordsApplied, 'no record of a replayed message is applied');
    assert.equal(replayed.value.drops.auth, forged.value.drops.auth, 'the replay is authentic (only the forgery failed the MAC)');

    const ct2 = await ctCount(lab, 'fwb');
    assert.equal(ct2.total, ct1.value.total, 'the standby table did not change');
    assert.equal(ct2.replicated, ct0.replicated + 5, 'only the five real connections were added; the forged four were not');
  });

  it('100,000 connections created on the active node are all present on the standby', async () => {
    const a0 = await ctCount(lab, 'fwa');
    const b0 = await ctCount(lab, 'fwb');
    const s0 = await syncStats(lab, 'fwb');
    const made = await makeConnections(lab, 'fwa', { sources: SOURCES, portBase: 20_000, ports: PORTS, rate: RATE, count: 100_000, topUpBase: 50_000 });
    assert.ok(made.local >= a0.local + 100_000, `the active node tracks 100,000 new connections (${made.local - a0.local})`);
    const { b } = await standbyHoldsAll(20_000);
    assert.ok(b.replicated >= b0.replicated + 100_000);
    const s = await syncStats(lab, 'fwb');
    assert.equal(s.inSync, true);
    assert.equal(s.drops.auth, s0.drops.auth, 'no authentication drops');
    assert.equal(s.counters.lostReceived, s0.counters.lostReceived, 'every gap was repaired by retransmission, none needed a resync');
  });

  it('the same with 20% loss, 5% duplication and reordering on the sync link', async () => {
    // netem where the kernel has it, else the same faults from nftables + HTB (sync-load.ts).
    const faults = { lossPct: 20, duplicatePct: 5, reorderPct: 25 };
    await impairSyncLink('fwa', faults);
    await impairSyncLink('fwb', faults);
    try {
      const before = await syncStats(lab, 'fwb');
      const a0 = await ctCount(lab, 'fwa');
      const b0 = await ctCount(lab, 'fwb');
      const made = await makeConnections(lab, 'fwa', { sources: SOURCES, portBase: 30_000, ports: PORTS, rate: RATE, count: 100_000, topUpBase: 53_000 });
      assert.ok(made.local >= a0.local + 100_000, `the active node tracks 100,000 new connections (${made.local - a0.local})`);
      const { b } = await standbyHoldsAll(30_000);
      assert.ok(b.replicated >= b0.replicated + 100_000);
      const after = await syncStats(lab, 'fwb');
      // The faults were real: the standby saw gaps and asked for repairs.
      assert.ok(after.counters.gaps! > before.counters.gaps!, 'sequence gaps were seen');
      assert.ok(after.counters.nacksSent! > before.counters.nacksSent!, 'missing messages were NACKed');
      assert.ok(after.drops.replay! > before.drops.replay!, 'duplicated datagrams were dropped as replays');
    } finally {
      await clearImpairment('fwa');
      await clearImpairment('fwb');
    }
  });

  it('a standby restarted in the middle of the load gets the full table through resync and reports in sync', async () => {
    const a0 = await ctCount(lab, 'fwa');
    const load = makeConnections(lab, 'fwa', { sources: SOURCES, portBase: 40_000, ports: PORTS, rate: RATE, count: 100_000, topUpBase: 56_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await lab.stopNode('fwb', 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    await lab.startNode('fwb');
    await lab.waitReady('fwb');
    const made = await load;
    assert.ok(made.local >= a0.local + 100_000, `the active node tracks 100,000 new connections (${made.local - a0.local})`);
    const a = await ctCount(lab, 'fwa');
    const r = await pollUntil(
      async () => ({ c: await ctCount(lab, 'fwb'), s: await syncStats(lab, 'fwb') }),
      (x) => x.s.inSync && x.c.replicated >= a.local,
      30_000,
      250,
    );
    assert.ok(r.ok, `the restarted standby holds ${r.value.c.replicated} of ${a.local} connections, in sync: ${r.value.s.inSync}`);
    assert.ok(r.value.s.counters.resyncsCompleted! >= 1, 'its table came through a resync');
  });
});
