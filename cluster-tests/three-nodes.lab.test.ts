/**
 * @lab three nodes in one VRRP group (fwa 200, fwb 100, fwc 50), all replicating state over
 * the sync segment, with a strict stateful ruleset (policy drop; only new connections from
 * the LAN), so a flow survives a takeover only if the new master holds its replicated state.
 * One lab, one sequence: a ruleset transaction reaches both backups; long-lived TCP flows
 * over IPv4 and IPv6 are replicated to both backups; the master is killed and the
 * higher-priority backup takes over; that one is killed and the last node carries every
 * flow; the first master restarts, resyncs, holds every connection before it preempts, and
 * the flows survive its preemption too.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Lab, STRICT_RULESET } from './lab.js';
import { until } from './lab-poll.js';
import { sh, sleep } from './exec.js';
import { DrillFlows } from './drill-flows.js';
import { NS, SERVER } from './topology.js';
import { startEchoServer } from './traffic.js';

const FLOWS = 10;
const now = (): number => performance.timeOrigin + performance.now();

interface CtEntry {
  family: string;
  original: { src: string; sport?: number; dst: string; dport?: number };
  tcpState?: string;
  replicated: boolean;
}

describe('@lab three nodes: one VRRP group, state replicated to every peer', function () {
  this.timeout(150000);
  let lab: Lab;
  let dir: string;
  const flows: DrillFlows[] = [];
  let stopEcho: (() => Promise<void>) | undefined;

  /** The established connections to the echo server that `fw` holds, as "src sport" keys. */
  async function echoFlows(fw: string, origin?: 'local' | 'replicated'): Promise<Set<string>> {
    const args = ['ct', 'list', '-p', 'tcp', '--dport', '5001', '--state', 'ESTABLISHED', '--json', ...(origin ? ['--origin', origin] : [])];
    const r = JSON.parse(await lab.hafw(fw, args)) as { entries: CtEntry[] };
    return new Set(r.entries.map((e) => `${e.original.src} ${e.original.sport}`));
  }

  /** Which of the running nodes hold the LAN VIPs (a SIGKILLed node's addresses stay on its links). */
  const vipHolders = async (running: string[]): Promise<string[]> => {
    const out: string[] = [];
    for (const fw of running) {
      const a = await sh(['ip', '-n', NS.fw(fw), 'addr', 'show', 'dev', 'lan']).catch(() => '');
      if (a.includes('192.0.2.1/24') && a.includes('2001:db8:1::1/64')) out.push(fw);
    }
    return out;
  };
  const role = async (fw: string): Promise<string> => String((await lab.status(fw).catch(() => ({ role: 'unreachable' }))).role);

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hafw-3n-lab-'));
    for (const fw of ['fwa', 'fwb', 'fwc']) await writeFile(path.join(dir, `${fw}.nft`), STRICT_RULESET);
    lab = await Lab.up({
      nodes: 3,
      extraConfig: (fw) => `ruleset:\n  file: ${path.join(dir, `${fw.name}.nft`)}\n  stateDir: ${path.join(dir, `state-${fw.name}`)}\n`,
    });
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    await lab.waitRole('fwc', 'backup');
  });
  after(async () => {
    for (const f of flows) f.stop();
    await stopEcho?.().catch(() => undefined);
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  it('a ruleset transaction on the master reaches both backups, same version and hash', async () => {
    const version = async (fw: string) => JSON.parse(await lab.hafw(fw, ['ruleset', 'show', '--cluster', '--json'])) as { version: number; hash: string; ready: boolean };
    const base = await version('fwa');
    for (const fw of ['fwb', 'fwc']) await until(`${fw} settled at the master's version`, () => version(fw), (s) => s.ready && s.version === base.version);
    // Port 5099 carries no traffic here: the rule must not let the flows below pass statelessly.
    const out = await lab.hafw('fwa', ['ruleset', 'apply', 'add rule inet filter forward tcp dport 5099 accept']);
    const v = Number(/version (\d+)/.exec(out)?.[1]);
    assert.equal(v, base.version + 1, out);
    const hash = (await version('fwa')).hash;
    for (const fw of ['fwb', 'fwc']) {
      const s = await until(`${fw} at version ${v}`, () => version(fw), (x) => x.version === v);
      assert.equal(s.hash, hash, fw);
      assert.match(await lab.hafw(fw, ['ruleset', 'show']), /tcp dport 5099 accept/);
    }
  });

  it('IPv4 and IPv6 flows survive: master killed, then the next one; the restarted first master resyncs every connection and preempts', async () => {
    stopEcho = await startEchoServer(5001, NS.server);
    // Bounded at 60 s; trace() ends them once the last stage has been seen.
    const opts = { flows: FLOWS, durationMs: 60000, probeIntervalMs: 50 };
    flows.push(await DrillFlows.start(SERVER.v4, opts), await DrillFlows.start(SERVER.v6, opts));
    const all = 2 * FLOWS;
    // The master replicates what it owns to every peer (one multicast stream).
    assert.equal((await echoFlows('fwa', 'local')).size, all);
    for (const fw of ['fwb', 'fwc']) await until(`${fw} holds a replica of every flow`, () => echoFlows(fw, 'replicated'), (s) => s.size === all, 5000);

    // 1. The master dies: the higher-priority backup (fwb) takes over, fwc stays backup.
    const kill1 = now();
    await lab.stopNode('fwa', 'SIGKILL');
    await lab.waitRole('fwb', 'master', 5000);
    await sleep(1000);
    assert.equal(await role('fwc'), 'backup');
    assert.deepEqual(await vipHolders(['fwb', 'fwc']), ['fwb']);
    // fwb adopts each flow it forwards (an Update within the conntrack event refresh) and
    // replicates it; fwc takes those records from their new owner.
    await until('fwb owns every flow', () => echoFlows('fwb', 'local'), (s) => s.size === all, 10000);
    assert.equal((await echoFlows('fwc', 'replicated')).size, all);

    // 2. The new master dies too: the last node carries every flow.
    const kill2 = now();
    await lab.stopNode('fwb', 'SIGKILL');
    await lab.waitRole('fwc', 'master', 5000);
    assert.deepEqual(await vipHolders(['fwc']), ['fwc']);
    await until('fwc owns every flow', () => echoFlows('fwc', 'local'), (s) => s.size === all, 10000);
    const carried = now();

    // 3. The first master restarts: it resyncs from the survivor and holds every connection
    // before it is in sync, and only then preempts (priority 200).
    const restart = now();
    await lab.startNode('fwa');
    await lab.waitReady('fwa');
    await lab.waitRole('fwa', 'master', 20000);
    const held = await echoFlows('fwa');
    assert.deepEqual([...held].sort(), [...(await echoFlows('fwc'))].sort(), 'the restarted node holds exactly the survivor\'s connections');
    assert.equal(held.size, all);
    assert.deepEqual(await vipHolders(['fwa', 'fwc']), ['fwa']);
    const preempted = now();
    await sleep(2000);

    for (const f of flows) {
      const t = await f.trace();
      assert.ok(t.endMs > preempted + 1000, `the flows to ${f.host} ended before the last stage (the 60 s bound)`);
      for (const flow of t.flows) {
        const what = `${f.host} ${flow.id}`;
        assert.equal(flow.failed, false, `${what} was reset`);
        assert.ok(flow.progressMs.some((x) => x > kill1 && x < kill2), `${what} made no progress on fwb`);
        assert.ok(flow.progressMs.some((x) => x > kill2 && x < carried), `${what} made no progress on fwc`);
        assert.ok(flow.progressMs.some((x) => x > preempted), `${what} made no progress after fwa preempted`);
      }
      console.log(`      ${f.host}: ${t.flows.length} flows survived (kill fwa, kill fwb, restart and preemption of fwa; resync ${Math.round(preempted - restart)} ms to master)`);
    }
  });
});
