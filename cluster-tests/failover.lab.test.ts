/**
 * @lab failover: two nodes running VRRP move the VIPs, for real, in the namespace lab.
 * Timing targets are measured by `hafw drill` and the bench, not asserted here; these tests
 * prove who holds the VIPs and that traffic and flows come back.
 */
import assert from 'node:assert/strict';
import { Lab, sh, strictRulesetConfig } from './lab.js';
import { runDrill } from './drill.js';
import { NS, SERVER } from './topology.js';
import { ping, startEchoServer } from './traffic.js';
import { nsArgv, sleep } from './exec.js';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { COMPILED_ROOT } from './lab.js';

const IDLE_FLOW = path.join(COMPILED_ROOT, 'cluster-tests', 'tools', 'idle-flow.js');

async function holdsVip(fw: string): Promise<boolean> {
  const out = await sh(['ip', '-n', NS.fw(fw), '-4', 'addr', 'show', 'dev', 'lan']);
  return out.includes('192.0.2.1/24');
}

describe('@lab failover: VRRP between two hafw nodes', function () {
  this.timeout(180000);
  let lab: Lab;
  let rules = '';
  const vrrpOf = async (fw: string) => (await lab.status(fw).catch(() => undefined))?.vrrp;
  /**
   * Waits until the backup `fw` has heard 20 more advertisements: at the lab's 10 ms
   * interval they span several Master_Down_Intervals (3 intervals and a skew), so a takeover
   * or preemption that was going to happen has happened by then. A positive point in the
   * node's own sequence, where a fixed sleep would only guess. Returns early if `fw` becomes
   * master: the caller's assertions say what went wrong.
   */
  async function heardMore(fw: string, n = 20): Promise<void> {
    const from = (await vrrpOf(fw))?.counters.advertsReceived ?? 0;
    const deadline = Date.now() + 10000;
    for (;;) {
      const v = await vrrpOf(fw);
      if (v?.state === 'master' || (v?.counters.advertsReceived ?? 0) >= from + n) return;
      if (Date.now() > deadline) throw new Error(`${fw} did not hear ${n} more advertisements`);
      await sleep(50);
    }
  }
  before(async () => {
    rules = await strictRulesetConfig();
  });
  beforeEach(async () => {
    lab = await Lab.up({ nodes: 2 });
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
  });
  after(async () => {
    await Lab.down();
  });

  it('elects the higher priority node; only the master holds the VIPs', async () => {
    assert.equal(await holdsVip('fwa'), true);
    assert.equal(await holdsVip('fwb'), false);
    assert.ok(await ping(SERVER.v4));
    assert.ok(await ping(SERVER.v6));
  });

  for (const mode of ['kill', 'resign', 'link'] as const) {
    it(`moves the VIPs to the backup and keeps TCP flows when the master fails (${mode})`, async () => {
      const { report, newMaster } = await runDrill(lab, { mode, flows: 20, durationMs: 3000 });
      assert.equal(newMaster, 'fwb');
      assert.equal(await holdsVip('fwb'), true);
      if (mode !== 'kill') assert.equal(await holdsVip('fwa'), false, 'a resigning or faulted master releases the VIPs');
      assert.ok(report.takeover_gap_to_ms > report.takeover_gap_from_ms && report.probes_sent > 0);
      assert.ok(report.takeover_ms < 3000, `probes resumed (longest gap ${report.takeover_ms} ms)`);
      assert.equal(report.survived, 20, JSON.stringify(report.per_flow.filter((f) => !f.survived)));
    });
  }

  it('a restarted old master preempts again and the backup releases the VIPs', async () => {
    await lab.stopNode('fwa', 'SIGKILL');
    await lab.waitRole('fwb', 'master');
    // The killed process could not remove its VIPs; a new start clears them first.
    await lab.startNode('fwa');
    await lab.waitReady('fwa');
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    assert.equal(await holdsVip('fwa'), true);
    assert.equal(await holdsVip('fwb'), false);
    assert.ok(await ping(SERVER.v4));
  });

  it('with a strict stateful ruleset, flows survive a hard kill because the standby holds the replicated state', async () => {
    // Replace the default lab with one whose nodes drop mid-stream packets of unknown connections.
    lab = await Lab.up({ nodes: 2, extraConfig: () => rules });
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    const { report, newMaster } = await runDrill(lab, { mode: 'kill', flows: 20, durationMs: 3000 });
    assert.equal(newMaster, 'fwb');
    assert.equal(report.sync_state_at_takeover, 'inSync');
    assert.equal(report.survived, 20, JSON.stringify(report.per_flow.filter((f) => !f.survived)));
    const count = JSON.parse(await lab.hafw('fwb', ['ct', 'count', '--json'])) as { total: number };
    assert.ok(count.total >= 20, 'the new master tracks the flows it took over');
  });

  it('with a strict stateful ruleset, an idle connection survives: master killed, backup takes over, old master restarts, resyncs and preempts', async () => {
    lab = await Lab.up({ nodes: 2, extraConfig: () => rules });
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    const stopEcho = await startEchoServer(5002, NS.server);
    const argv = nsArgv(NS.client, [process.execPath, IDLE_FLOW, '--host', SERVER.v4, '--port', '5002', '--echo-timeout-ms', '5000', '--max-seconds', '120']);
    const flow = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: flow.stdout })[Symbol.asyncIterator]();
    const next = async (what: string): Promise<{ ready?: boolean; echoed?: boolean; error?: string }> => {
      const l = await Promise.race([lines.next(), sleep(15000).then(() => ({ value: undefined, done: true }))]);
      if (typeof l.value !== 'string') throw new Error(`idle flow: no answer (${what})`);
      return JSON.parse(l.value) as { ready?: boolean; echoed?: boolean; error?: string };
    };
    try {
      assert.equal((await next('connect')).ready, true, 'the connection is up through fwa');
      // fwb holds the connection as a replica of fwa's.
      for (let i = 0; ; i++) {
        const c = JSON.parse(await lab.hafw('fwb', ['ct', 'count', '--json'])) as { replicated: number };
        if (c.replicated >= 1) break;
        if (i > 100) throw new Error('fwb never got the replica');
        await sleep(50);
      }
      // From here the connection stays quiet until the end.
      await lab.stopNode('fwa', 'SIGKILL');
      await lab.waitRole('fwb', 'master');
      await lab.startNode('fwa');
      await lab.waitReady('fwa');
      // fwa resyncs from fwb (it does not preempt before) and takes the VIPs back.
      await lab.waitRole('fwa', 'master', 20000);
      await lab.waitRole('fwb', 'backup');
      flow.stdin.write('send\n');
      const r = await next('send after the quiet');
      assert.equal(r.echoed, true, `the idle connection's data passes the restarted master (${r.error ?? ''})`);
      const stats = JSON.parse(await lab.hafw('fwb', ['sync', 'stats', '--json'])) as { bridge: { adoptedOnTakeover?: number } };
      assert.ok((stats.bridge.adoptedOnTakeover ?? 0) >= 1, `fwb adopted the quiet connection on takeover (${JSON.stringify(stats.bridge)})`);
    } finally {
      flow.kill('SIGKILL');
      await stopEcho();
    }
  });

  it('a restarted old master does not preempt before its resync is done', async () => {
    lab = await Lab.up({ nodes: 2, extraConfig: () => rules });
    await lab.waitRole('fwa', 'master');
    await lab.stopNode('fwa', 'SIGKILL');
    await lab.waitRole('fwb', 'master');
    // Withhold the full-table stream from fwa (resync chunks and the end marker, sync
    // message types 6 and 7 at byte 3 of the payload) until its VRRP has started: it hears
    // its peer (so it is not alone) but cannot complete the resync.
    const hold = 'table inet hafwhold {\n chain in {\n type filter hook input priority -10; policy accept;\n udp dport 3780 @th,88,8 { 6, 7 } drop\n }\n}\n';
    await sh(['nft', '-f', '-'], { ns: NS.fw('fwa'), input: hold });
    await lab.startNode('fwa');
    await lab.waitReady('fwa');
    await heardMore('fwa');
    const waiting = await lab.status('fwa');
    assert.equal(waiting.role, 'backup', 'while its table is incomplete it does not preempt the lower-priority master');
    assert.equal(waiting.vrrp?.inSync, false);
    await sh(['nft', 'delete', 'table', 'inet', 'hafwhold'], { ns: NS.fw('fwa') });
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    // The node's own log tells the order of events (one JSON object a line).
    const pid = lab.node('fwa').pid;
    const lines = (await lab.nodeLog('fwa'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { pid: number; time: string; event?: string; inSync?: boolean; from?: string; to?: string })
      .filter((l) => l.pid === pid);
    const startup = lines.find((l) => l.event === 'vrrp.state' && l.from === 'initialize' && l.to === 'backup');
    const synced = lines.find((l) => l.event === 'sync.inSync' && l.inSync === true);
    const master = lines.find((l) => l.event === 'vrrp.state' && l.to === 'master');
    assert.equal(startup?.inSync, false, 'VRRP started before the table was complete');
    assert.ok(synced && master, 'it got in sync and became master');
    assert.ok(Date.parse(master.time) >= Date.parse(synced.time), `master at ${master.time} only after in sync at ${synced.time}`);
    assert.equal(master.inSync, true);
  });

  it('a restarted old master that hears VRRP but no sync peer (sync link cut) does not preempt; it does once the link is back', async () => {
    lab = await Lab.up({ nodes: 2, extraConfig: () => rules });
    await lab.waitRole('fwa', 'master');
    await lab.stopNode('fwa', 'SIGKILL');
    await lab.waitRole('fwb', 'master');
    // All sync traffic (state sync and ruleset distribution) dropped at fwa: its state sync
    // hears nobody and, after its startup grace, calls itself alone and in sync.
    const cut = 'table inet hafwsynccut {\n chain in {\n type filter hook input priority -10; policy accept;\n udp dport { 3780, 3781 } drop\n tcp dport 3781 drop\n }\n}\n';
    await sh(['nft', '-f', '-'], { ns: NS.fw('fwa'), input: cut });
    try {
      await lab.startNode('fwa');
      await lab.waitReady('fwa');
      // Every readiness input settles first: state sync calls itself in sync (it hears no
      // peer within its grace), ruleset distribution calls itself current (alone, after its
      // own grace); then fwa hears the master long enough to have preempted.
      const settled = async (): Promise<boolean> =>
        (await lab.status('fwa')).sync?.inSync === true &&
        (JSON.parse(await lab.hafw('fwa', ['ruleset', 'show', '--cluster', '--json']).catch((e: Error & { stdout?: string }) => e.stdout ?? '{}')) as { ready?: boolean }).ready === true;
      for (const deadline = Date.now() + 15000; !(await settled().catch(() => false)); await sleep(100)) {
        if (Date.now() > deadline) throw new Error('fwa: state sync and ruleset distribution did not settle');
      }
      await heardMore('fwa');
      const waiting = await lab.status('fwa');
      assert.equal(waiting.role, 'backup', 'it hears the master over VRRP, so it is not alone: no preemption with an empty table');
      assert.equal(waiting.vrrp?.inSync, false);
      assert.equal(await holdsVip('fwb'), true);
    } finally {
      await sh(['nft', 'delete', 'table', 'inet', 'hafwsynccut'], { ns: NS.fw('fwa') }).catch(() => undefined);
    }
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    assert.equal((await lab.status('fwa')).vrrp?.inSync, true);
  });

  it('split brain: both become master while VRRP is cut, exactly one remains after the heal', async () => {
    // Drop VRRP (IP protocol 112) on the LAN bridge: each side stops hearing the other.
    const cut = 'table bridge hafwcut {\n chain cut {\n type filter hook forward priority 0; policy accept;\n ip protocol 112 drop\n }\n}\n';
    await sh(['nft', '-f', '-'], { ns: NS.sw, input: cut });
    try {
      await lab.waitRole('fwb', 'master');
      assert.equal((await lab.status('fwa')).role, 'master');
    } finally {
      await sh(['nft', 'delete', 'table', 'bridge', 'hafwcut'], { ns: NS.sw });
    }
    await lab.waitRole('fwb', 'backup');
    const transitions = (await lab.status('fwb')).vrrp!.counters.transitions;
    await heardMore('fwb');
    assert.equal((await lab.status('fwa')).role, 'master', 'the higher priority wins');
    assert.equal((await lab.status('fwb')).role, 'backup', 'and stays won: no flapping');
    assert.equal((await lab.status('fwb')).vrrp!.counters.transitions, transitions, 'not even a flap and back');
    assert.equal(await holdsVip('fwb'), false);
    assert.ok(await ping(SERVER.v4), 'the winner re-announced the VIPs');
  });
});
