/**
 * @lab active/active: two nodes, two VRRP groups (A master on fwa, B master on fwb), a
 * strict stateful ruleset (policy drop; only new connections from the LAN), so a flow
 * survives only where its state is. Long-lived TCP flows over IPv4 and IPv6 go through
 * both groups at once; each node owns the flows of the group it masters and holds the
 * other's as replicas. Flows on an asymmetric path (out through A, back through B) work
 * because fwb hands their packets to fwa over the sync segment. fwa is killed: fwb takes
 * group A, adopts A's connections and every flow of both groups goes on.
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
import { activeActiveVrrp, groupStates, holdsGroupVips, routeThroughGroups, SERVER_A, SERVER_ASYM, SERVER_B } from './active-active.js';

const FLOWS = 5;
/** Bounded at 60 s; trace() ends the agents once the test has seen what it waits for. */
const FLOW_OPTS = { flows: FLOWS, durationMs: 60000, probeIntervalMs: 50 };
const now = (): number => performance.timeOrigin + performance.now();

describe('@lab active/active: two VRRP groups, each with its own master', function () {
  this.timeout(120000);
  let lab: Lab;
  let dir: string;
  const flows: DrillFlows[] = [];
  let stopEcho: (() => Promise<void>) | undefined;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hafw-aa-lab-'));
    for (const fw of ['fwa', 'fwb']) await writeFile(path.join(dir, `${fw}.nft`), STRICT_RULESET);
    lab = await Lab.up({
      nodes: 2,
      vrrpSection: (fw) => activeActiveVrrp(fw),
      extraConfig: (fw) => `ruleset:\n  file: ${path.join(dir, `${fw.name}.nft`)}\n  stateDir: ${path.join(dir, `state-${fw.name}`)}\n`,
    });
    await until('fwa masters A, fwb masters B', async () => [await groupStates(lab, 'fwa'), await groupStates(lab, 'fwb')].join(' / '), (s) => s === 'a:master b:backup / a:backup b:master');
    await routeThroughGroups();
  });
  after(async () => {
    for (const f of flows) f.stop();
    await stopEcho?.().catch(() => undefined);
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  it('each node holds only its own group\'s VIPs', async () => {
    assert.deepEqual(await holdsGroupVips('fwa'), { a: true, b: false });
    assert.deepEqual(await holdsGroupVips('fwb'), { a: false, b: true });
  });

  const counter = async (fw: string, name: string): Promise<number> => Number(((await lab.status(fw)).datapath.counters as Record<string, number>)[name] ?? 0);

  it('asymmetric path (out through group A on fwa, back through group B on fwb): fwb hands the replies to fwa, which owns and tracks both directions', async () => {
    stopEcho = await startEchoServer(5001, NS.server);
    const asym = [SERVER_ASYM.v4, SERVER_ASYM.v6];
    // fwa holds each SYN until fwb has acknowledged the connection's record (sync.deferMs),
    // so the server's first SYN-ACK, coming back through fwb, finds the replica there and is
    // handed to fwa. Without the deferral fwb's ruleset drops it (a SYN-ACK opens nothing)
    // and the connection waits for the server's retransmission.
    const dropsBefore = await counter('fwb', 'verdict_drop');
    for (const host of asym) flows.push(await DrillFlows.start(host, FLOW_OPTS));
    await until('fwa owns every asymmetric flow, established', () => echoFlowsTo(lab, 'fwa', 'local', asym), (s) => s.size === 2 * FLOWS, 5000);
    const held = await counter('fwa', 'defer_held');
    const acked = await counter('fwa', 'defer_acked');
    const drops = (await counter('fwb', 'verdict_drop')) - dropsBefore;
    console.log(`      fwa deferred ${held} first packets (${acked} released on fwb's acknowledgement, ${await counter('fwa', 'defer_timeout')} by the bound); fwb dropped ${drops} packets meanwhile`);
    assert.ok(held >= 2 * FLOWS && acked >= 2 * FLOWS, 'each asymmetric connection\'s SYN waited for fwb\'s acknowledgement');
    assert.equal(drops, 0, 'fwb dropped no SYN-ACK: each found the connection\'s replica');
    assert.equal((await echoFlowsTo(lab, 'fwb', 'local', asym)).size, 0, 'fwb tracks none of them itself');
    const sent = await counter('fwb', 'handoff_sent');
    const received = await counter('fwa', 'handoff_received');
    await sleep(500);
    assert.ok(await counter('fwb', 'handoff_sent') > sent, 'fwb keeps handing the replies over');
    assert.ok(await counter('fwa', 'handoff_received') > received);
    assert.equal(await counter('fwa', 'handoff_rejected'), 0);
  });

  it('IPv4 and IPv6 flows through both groups: each node owns its group\'s; fwa killed, fwb takes group A and every flow of both groups (and the asymmetric ones) survives', async () => {
    const viaA = [SERVER_A.v4, SERVER_A.v6];
    const viaB = [SERVER_B.v4, SERVER_B.v6];
    for (const host of [...viaA, ...viaB]) flows.push(await DrillFlows.start(host, FLOW_OPTS));
    const per = 2 * FLOWS;
    // Each node forwards (owns) the flows of the group it masters, and holds the other's as replicas.
    await until('fwa owns group A\'s flows', () => echoFlowsTo(lab, 'fwa', 'local', viaA), (s) => s.size === per, 5000);
    await until('fwb owns group B\'s flows', () => echoFlowsTo(lab, 'fwb', 'local', viaB), (s) => s.size === per, 5000);
    assert.equal((await echoFlowsTo(lab, 'fwa', 'local', viaB)).size, 0, 'fwa forwards none of B\'s');
    assert.equal((await echoFlowsTo(lab, 'fwb', 'local', viaA)).size, 0, 'fwb forwards none of A\'s');
    await until('fwb holds a replica of each of A\'s flows', () => echoFlowsTo(lab, 'fwb', 'replicated', viaA), (s) => s.size === per, 5000);
    await until('fwa holds a replica of each of B\'s flows', () => echoFlowsTo(lab, 'fwa', 'replicated', viaB), (s) => s.size === per, 5000);

    const kill = now();
    await lab.stopNode('fwa', 'SIGKILL');
    await until('fwb masters both groups', () => groupStates(lab, 'fwb'), (s) => s === 'a:master b:master', 5000);
    assert.deepEqual(await holdsGroupVips('fwb'), { a: true, b: true });
    // Its takeover walk adopts group A's connections (quiet or not); B's were its own all along.
    await until('fwb owns every flow of both groups', () => echoFlowsTo(lab, 'fwb', 'local', [...viaA, ...viaB, SERVER_ASYM.v4, SERVER_ASYM.v6]), (s) => s.size === 3 * per, 10000);
    const carried = now();
    await sleep(2000);

    for (const f of flows) {
      const t = await f.trace();
      for (const flow of t.flows) {
        const what = `${f.host} ${flow.id}`;
        assert.equal(flow.failed, false, `${what} was reset`);
        assert.ok(flow.progressMs.some((x) => x < kill), `${what} made no progress before the kill`);
        assert.ok(flow.progressMs.some((x) => x > carried), `${what} made no progress on fwb after the takeover`);
      }
      console.log(`      ${f.host}: ${t.flows.length} flows survived (fwa killed, fwb took group A)`);
    }
  });
});
