/**
 * @lab active/active: drills of one VRRP group (`hafw drill --node --group`). Two nodes, two
 * groups (A master on fwa, B master on fwb), the strict stateful ruleset of the
 * active/active lab test, long-lived TCP flows over IPv4 and IPv6 through both groups.
 *
 * First fwb drills group B (long hold): B moves to fwa, which then masters both groups.
 * During that hold fwa drills group A: A moves to fwb while fwa keeps B. Had fwa resigned
 * as a whole node, group B would have no master at all (fwb has resigned it), its VIPs
 * would be nowhere and its flows would stall: the test checks that fwa went on holding B
 * through the second drill, that the second drill's report says A moved and B did not, and
 * that every flow of both groups survived both drills.
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
import { activeActiveVrrp, groupStates, holdsGroupVips, routeThroughGroups, SERVER_A, SERVER_B } from './active-active.js';

const FLOWS = 4;
/** Bounded at 90 s; trace() ends the agents once the test has seen what it waits for. */
const FLOW_OPTS = { flows: FLOWS, durationMs: 90000, probeIntervalMs: 50 };
const now = (): number => performance.timeOrigin + performance.now();

interface GroupReport {
  name: string;
  vrid: number;
  drilled: boolean;
  before: string;
  after?: string;
  moved: boolean;
  takeover: { peer: string; ms: number } | null;
  flows?: { watched: number; survived: number; ended: number; notSeen: number };
}
interface Report {
  status: string;
  group: { name: string; vrid: number } | null;
  groups: GroupReport[];
  takeover: { peer: string; ms: number } | null;
  reclaimMs: number | null;
  finalState: string;
  error?: string;
}

describe('@lab active/active: a drill of one VRRP group moves that group only', function () {
  this.timeout(180000);
  let lab: Lab;
  let dir: string;
  const flows: DrillFlows[] = [];
  let stopEcho: (() => Promise<void>) | undefined;

  const drill = async (fw: string, group: string, hold: number): Promise<Report> => {
    const out = await lab.hafw(fw, ['drill', '--node', '--group', group, '--hold', String(hold), '--json']);
    return JSON.parse(out.trim().split('\n').pop()!) as Report;
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hafw-aa-drill-'));
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

  it('IPv4 and IPv6: group B drilled on fwb, then group A drilled on fwa during it: A moves to fwb, B stays on fwa, every flow of both groups survives', async () => {
    stopEcho = await startEchoServer(5001, NS.server);
    const viaA = [SERVER_A.v4, SERVER_A.v6];
    const viaB = [SERVER_B.v4, SERVER_B.v6];
    for (const host of [...viaA, ...viaB]) flows.push(await DrillFlows.start(host, FLOW_OPTS));
    const per = 2 * FLOWS;
    await until('fwa owns group A\'s flows', () => echoFlowsTo(lab, 'fwa', 'local', viaA), (s) => s.size === per, 5000);
    await until('fwb owns group B\'s flows', () => echoFlowsTo(lab, 'fwb', 'local', viaB), (s) => s.size === per, 5000);
    await until('fwb holds a replica of each of A\'s flows', () => echoFlowsTo(lab, 'fwb', 'replicated', viaA), (s) => s.size === per, 5000);
    await until('fwa holds a replica of each of B\'s flows', () => echoFlowsTo(lab, 'fwa', 'replicated', viaB), (s) => s.size === per, 5000);
    const start = now();
    // Both nodes' group states through the drills, printed when the test fails.
    const timeline: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      let last = '';
      while (sampling) {
        const s = `fwa ${await groupStates(lab, 'fwa')} / fwb ${await groupStates(lab, 'fwb')}`;
        if (s !== last) timeline.push(`${Math.round(now() - start)} ms: ${(last = s)}`);
        await sleep(100);
      }
    })();
    try {
      await drills();
    } catch (err) {
      console.log(`      group states:\n        ${timeline.join('\n        ')}`);
      throw err;
    } finally {
      sampling = false;
      await sampler;
    }
  });

  async function drills(): Promise<void> {
    const viaA = [SERVER_A.v4, SERVER_A.v6];
    const viaB = [SERVER_B.v4, SERVER_B.v6];
    const per = 2 * FLOWS;
    const start = now();
    // Drill 1: group B on fwb, held long enough for the whole second drill.
    const first = drill('fwb', 'b', 22);
    await until('fwa masters both groups (B moved to it)', () => groupStates(lab, 'fwa'), (s) => s === 'a:master b:master', 10000);
    await until('fwa owns B\'s flows too', () => echoFlowsTo(lab, 'fwa', 'local', viaB), (s) => s.size === per, 10000);

    // Drill 2: group A on fwa, by VRID this time.
    const second = drill('fwa', '51', 7);
    // fwa resigns A only: fwb takes A, fwa goes on mastering B, whose other router (fwb) is resigned.
    const both = async (): Promise<string> => `fwa ${await groupStates(lab, 'fwa')} / fwb ${await groupStates(lab, 'fwb')}`;
    await until('fwb masters A, fwa still B', both, (s) => /^fwa a:(initialize|backup) b:master \/ fwb a:master b:\w+$/.test(s), 10000);
    // The resign's VIP removal and the new master's VIP addition run as `ip` commands: wait for them.
    await until('fwa holds B\'s VIPs only', () => holdsGroupVips('fwa'), (h) => !h.a && h.b, 3000);
    await until('fwb holds A\'s VIPs only (B resigned)', () => holdsGroupVips('fwb'), (h) => h.a && !h.b, 3000);
    await until('fwb owns A\'s flows', () => echoFlowsTo(lab, 'fwb', 'local', viaA), (s) => s.size === per, 10000);
    // Still so a few seconds into the hold (a whole-node resign would have lost B by now).
    await sleep(2000);
    const later = await holdsGroupVips('fwa');
    if (later.a || !later.b) {
      const early = await Promise.race([second.then((r) => JSON.stringify(r)), sleep(200).then(() => 'drill still running')]);
      assert.fail(`fwa holds ${JSON.stringify(later)} 2 s into the drill of A (${await both()}); drill: ${early}`);
    }
    const midB = now();

    const r2 = await second;
    assert.equal(r2.status, 'done', r2.error);
    assert.deepEqual(r2.group, { name: 'a', vrid: 51 });
    const a2 = r2.groups.find((g) => g.name === 'a')!;
    const b2 = r2.groups.find((g) => g.name === 'b')!;
    assert.deepEqual([a2.drilled, a2.moved, a2.before, a2.after], [true, true, 'master', 'master'], JSON.stringify(a2));
    assert.equal(a2.takeover!.peer, '192.0.2.3', 'fwb took group A');
    assert.deepEqual([b2.drilled, b2.moved, b2.before, b2.after], [false, false, 'master', 'master'], 'group B did not move off fwa');
    assert.ok(a2.flows && a2.flows.watched > 0 && a2.flows.ended === 0, `group A's flows watched, none ended: ${JSON.stringify(a2.flows)}`);
    assert.equal(b2.flows?.watched, 0, 'a drill of A watches none of B\'s flows');
    assert.ok(r2.reclaimMs !== null, 'fwa took A back');

    const r1 = await first;
    assert.equal(r1.status, 'done', r1.error);
    const b1 = r1.groups.find((g) => g.name === 'b')!;
    const a1 = r1.groups.find((g) => g.name === 'a')!;
    assert.deepEqual([b1.drilled, b1.moved, b1.takeover?.peer], [true, true, '192.0.2.2'], 'fwa took group B');
    assert.deepEqual([a1.drilled, a1.moved], [false, false]);
    await until('back to A on fwa, B on fwb', async () => [await groupStates(lab, 'fwa'), await groupStates(lab, 'fwb')].join(' / '), (s) => s === 'a:master b:backup / a:backup b:master', 10000);
    await until('each node owns its group\'s flows again', async () => (await echoFlowsTo(lab, 'fwa', 'local', viaA)).size + (await echoFlowsTo(lab, 'fwb', 'local', viaB)).size, (n) => n === 2 * per, 10000);
    const back = now();
    await sleep(2000);

    console.log(`      drill of B on fwb: takeover ${r1.takeover?.ms} ms; drill of A on fwa: takeover ${r2.takeover?.ms} ms, taken back after ${r2.reclaimMs} ms, A's flows ${a2.flows!.survived}/${a2.flows!.watched} reported survived, ${a2.flows!.notSeen} not seen`);
    for (const f of flows) {
      const t = await f.trace();
      for (const flow of t.flows) {
        const what = `${f.host} ${flow.id}`;
        assert.equal(flow.failed, false, `${what} was reset`);
        assert.ok(flow.progressMs.some((x) => x < start), `${what} made no progress before the drills`);
        assert.ok(flow.progressMs.some((x) => x > midB - 1500 && x < midB), `${what} made no progress while A was on fwb and B on fwa`);
        assert.ok(flow.progressMs.some((x) => x > back), `${what} made no progress after both drills`);
      }
      console.log(`      ${f.host}: ${t.flows.length} flows survived both drills`);
    }
  }
});
