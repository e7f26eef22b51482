/**
 * Failover drills against the lab: long-lived TCP flows and a fast probe stream through
 * the VIPs, a real failure of the master (SIGKILL, graceful resign, or its LAN link
 * down), and the figures from failover/'s drill report.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { computeDrillReport, type DrillMode, type DrillReport, type TakeoverTiming } from '../failover/index.js';
import { Lab, COMPILED_ROOT } from './lab.js';
import { nsArgv, sh, sleep } from './exec.js';
import { NS, SERVER } from './topology.js';
import { startEchoServer } from './traffic.js';

const AGENT = path.join(COMPILED_ROOT, 'cluster-tests', 'tools', 'drill-agent.js');
const now = (): number => performance.timeOrigin + performance.now();

interface DrillOptions {
  mode: DrillMode;
  flows: number;
  /** How long the flows run in all; the failure is triggered after `triggerAfterMs`. */
  durationMs?: number;
  triggerAfterMs?: number;
  probeIntervalMs?: number;
  log?: (line: string) => void;
  /**
   * A pair that is not hafw nodes (the bench's keepalived pair): who is master and backup,
   * how to fail the master, and how to wait for the backup to take over. Without it the
   * lab's nodes are asked (status) and the failure is `mode` on the master node.
   */
  pair?: DrillPair;
}

export interface DrillPair {
  master: string;
  backup: string;
  trigger(): Promise<void>;
  waitTakeover(timeoutMs: number): Promise<void>;
}

interface DrillOutcome {
  report: DrillReport;
  trace: AgentTrace;
  master: string;
  newMaster: string | undefined;
}

interface AgentTrace {
  probeSentMs: number[];
  probeRecvMs: (number | null)[];
  flows: { id: string; progressMs: number[]; failed: boolean }[];
  endMs: number;
}

async function masterOf(lab: Lab): Promise<string> {
  for (const n of lab.state.nodes) {
    const s = await lab.status(n.name).catch(() => undefined);
    if (s?.role === 'master') return n.name;
  }
  throw new Error('no node is VRRP master: is the lab up with two nodes (hafw lab up --nodes 2)?');
}

async function trigger(lab: Lab, mode: DrillMode, master: string): Promise<void> {
  if (mode === 'kill') await lab.stopNode(master, 'SIGKILL');
  else if (mode === 'resign') await lab.stopNode(master, 'SIGTERM');
  else await sh(['ip', '-n', NS.fw(master), 'link', 'set', 'lan', 'down']);
}

/** Runs one drill on a running two-node lab; leaves the lab as the failure left it. */
export async function runDrill(lab: Lab, opts: DrillOptions): Promise<DrillOutcome> {
  const say = opts.log ?? (() => undefined);
  const durationMs = opts.durationMs ?? 4000;
  const triggerAfter = opts.triggerAfterMs ?? 1000;
  const pair = opts.pair;
  const master = pair ? pair.master : await masterOf(lab);
  const backup = pair ? pair.backup : lab.state.nodes.find((n) => n.name !== master)?.name;
  const backupRole = pair ? 'backup' : backup && (await lab.status(backup).catch(() => undefined))?.role;
  if (backupRole !== 'backup') throw new Error(`no backup ready to take over (${backup ?? 'no second node'}: ${backupRole ?? 'not running'}); restart the lab: hafw lab up --nodes 2`);
  say(`master is ${master}; ${opts.flows} TCP flows and a probe every ${opts.probeIntervalMs ?? 2} ms through the VIPs`);
  const stopEcho = await startEchoServer(5001, NS.server);
  try {
    const argv = nsArgv(NS.client, [process.execPath, AGENT, '--host', SERVER.v4, '--port', '5001', '--flows', String(opts.flows), '--duration-ms', String(durationMs), '--probe-interval-ms', String(opts.probeIntervalMs ?? 2)]);
    const agent = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: agent.stdout });
    const it = lines[Symbol.asyncIterator]();
    const first = await Promise.race([it.next(), sleep(15000).then(() => ({ value: undefined, done: true }))]);
    const ready = first.value ? (JSON.parse(first.value) as { ready: boolean; connected?: number }) : undefined;
    if (!ready?.ready) {
      agent.kill('SIGKILL');
      throw new Error(`drill flows did not connect through the VIPs (${ready ? `${ready.connected}/${opts.flows} connected` : 'no answer'})`);
    }
    await sleep(triggerAfter);
    const triggerMs = now();
    if (pair) await pair.trigger();
    else await trigger(lab, opts.mode, master);
    say(`${opts.mode}: triggered on ${master}`);
    let syncState: string | undefined;
    let takeover: TakeoverTiming | undefined;
    if (pair) {
      await sleep(Math.min(500, durationMs / 4));
      await pair.waitTakeover(5000).catch(() => undefined);
    } else if (backup) {
      // Each status poll starts a CLI process (~0.1 s of CPU): polling from the moment of
      // the failure competed with the datapath for the takeover being measured (the lab
      // host has two cores). A takeover at 10 ms adverts is done well within this wait.
      await sleep(Math.min(500, durationMs / 4));
      await lab.waitRole(backup, 'master', 5000).catch(() => undefined);
      const s = (await lab.status(backup).catch(() => undefined)) as { vrrp?: { inSync: boolean; lastTakeover?: { timing: TakeoverTiming } } } | undefined;
      syncState = s?.vrrp ? (s.vrrp.inSync ? 'inSync' : 'notInSync') : undefined;
      // Only this drill's takeover (the node may have been master before).
      const t = s?.vrrp?.lastTakeover?.timing;
      if (t && t.firedAt >= triggerMs) takeover = t;
    }
    const last = await it.next();
    await new Promise((r) => (agent.exitCode !== null ? r(undefined) : agent.once('exit', r)));
    if (!last.value) throw new Error('drill agent ended without a report');
    const trace = JSON.parse(last.value) as AgentTrace;
    const report = computeDrillReport({
      mode: opts.mode,
      triggerMs,
      endMs: trace.endMs,
      probeSentMs: trace.probeSentMs,
      probeRecvMs: trace.probeRecvMs.map((v) => (v === null ? NaN : v)),
      flows: trace.flows,
      syncStateAtTakeover: syncState,
      takeover,
    });
    const newMaster = pair ? undefined : backup && (await lab.status(backup).catch(() => undefined))?.role === 'master' ? backup : undefined;
    return { report, trace, master, newMaster };
  } finally {
    await stopEcho();
    if (opts.mode === 'link' && !pair) await sh(['ip', '-n', NS.fw(master), 'link', 'set', 'lan', 'up']).catch(() => undefined);
  }
}
