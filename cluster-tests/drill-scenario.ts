/**
 * Drills across the N nodes of a lab (failover/drill-scenario.ts computes the report):
 * IPv4 and IPv6 long-lived TCP flows and probe streams through the VIPs while the
 * scenario's steps run, then checks that the cluster ended with exactly one master and
 * that ownership of every connection converged (the master owns each, every other live
 * node holds a replica).
 *
 *   kill       SIGKILL a named node (default: the master); a backup's death is no takeover
 *   kill-next  SIGKILL the master, and once another node took over, that one too
 *   partition  cut one node (default: the master) off the VRRP and sync segments (its lan
 *              and sync links down: 2 + 1 in a three-node lab), then heal the cut
 */
import { computeScenarioReport, type GroupDrillInput, type ScenarioCheck, type ScenarioReport, type ScenarioStep } from '../failover/index.js';
import { isAlive, sh, sleep } from './exec.js';
import { DrillFlows, type AgentTrace } from './drill-flows.js';
import { LAB_VRID, Lab } from './lab.js';
import { CLIENT, NS, SERVER } from './topology.js';
import { startEchoServer } from './traffic.js';

export const SCENARIOS = ['kill', 'kill-next', 'partition'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ScenarioOptions {
  scenario: ScenarioName;
  /** The node to fail (kill, partition); default the master. */
  node?: string;
  /** Long-lived TCP flows per address family. */
  flows: number;
  /** Probe interval per family, ms (default 2). */
  probeIntervalMs?: number;
  /** How long a partitioned node stays cut off, ms (default 3000). */
  partitionMs?: number;
  /** Quiet time before the first step, between steps and after the last, ms (default 1500). */
  settleMs?: number;
  /** How long ownership may take to converge after the last step, ms (default 15000). */
  convergeMs?: number;
  log?: (line: string) => void;
}

export interface ScenarioOutcome {
  report: ScenarioReport;
  /** The nodes still running at the end. */
  live: string[];
}

const now = (): number => performance.timeOrigin + performance.now();
const PORT = 5001;

interface CtEntry {
  original: { src: string; sport?: number };
}

/** The lab's nodes whose process runs. */
function liveNodes(lab: Lab, dead: ReadonlySet<string>): string[] {
  return lab.state.nodes.filter((n) => !dead.has(n.name) && isAlive(n.pid)).map((n) => n.name);
}

async function roles(lab: Lab, nodes: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const n of nodes) out.set(n, String((await lab.status(n).catch(() => ({ role: 'unreachable' }))).role));
  return out;
}

/** The master among `nodes` (several masters are named together: a split brain). */
async function masterOf(lab: Lab, nodes: readonly string[]): Promise<string | null> {
  const m = [...(await roles(lab, nodes))].filter(([, r]) => r === 'master').map(([n]) => n);
  return m.length === 0 ? null : m.join('+');
}

/** Polls until `ok`, bounded; returns the last value. Status polls start CLI processes, so not too often. */
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await fn();
  while (!ok(v) && Date.now() < deadline) {
    await sleep(200);
    v = await fn();
  }
  return v;
}

/** Established connections to the echo port that `fw` holds, as "src sport" keys. */
async function echoFlows(lab: Lab, fw: string, origin: 'local' | 'replicated'): Promise<Set<string>> {
  const out = await lab.hafw(fw, ['ct', 'list', '-p', 'tcp', '--dport', String(PORT), '--state', 'ESTABLISHED', '--json', '--origin', origin]);
  return new Set((JSON.parse(out) as { entries: CtEntry[] }).entries.map((e) => `${e.original.src} ${e.original.sport}`));
}

interface Ownership {
  ok: boolean;
  detail: string;
}

/** The master owns every one of `flows` and no other node owns any; every other node holds a replica of each. */
async function ownership(lab: Lab, live: readonly string[], master: string | null, flows: ReadonlySet<string>): Promise<Ownership> {
  if (master === null || master.includes('+')) return { ok: false, detail: `no single master (${master ?? 'none'})` };
  const count = flows.size;
  const mine = async (n: string, origin: 'local' | 'replicated'): Promise<number> => {
    const s = await echoFlows(lab, n, origin).catch(() => new Set<string>());
    return [...flows].filter((k) => s.has(k)).length;
  };
  const problems: string[] = [];
  const owned = await mine(master, 'local');
  if (owned !== count) problems.push(`${master} owns ${owned} of ${count}`);
  for (const n of live.filter((x) => x !== master)) {
    const own = await mine(n, 'local');
    const rep = await mine(n, 'replicated');
    if (own > 0) problems.push(`${n} still owns ${own}`);
    if (rep !== count) problems.push(`${n} holds replicas of ${rep} of ${count}`);
  }
  return problems.length === 0
    ? { ok: true, detail: `${master} owns all ${count}; ${live.length === 1 ? 'no other node runs' : `${live.filter((x) => x !== master).join(', ')} hold${live.length === 2 ? 's' : ''} a replica of each`}` }
    : { ok: false, detail: problems.join('; ') };
}

async function setLinks(node: string, up: boolean): Promise<void> {
  // The VRRP segment is the LAN (adverts go out on lan); the sync segment carries state.
  for (const dev of ['lan', 'sync']) await sh(['ip', '-n', NS.fw(node), 'link', 'set', dev, up ? 'up' : 'down']);
}

/**
 * Runs one scenario on a running lab (two or three nodes, one VRRP master) and leaves the
 * lab as the scenario left it (killed nodes stay dead; a partition is always healed).
 */
export async function runScenario(lab: Lab, opts: ScenarioOptions): Promise<ScenarioOutcome> {
  const say = opts.log ?? (() => undefined);
  const settle = opts.settleMs ?? 1500;
  const dead = new Set<string>();
  const all = liveNodes(lab, dead);
  const r0 = await roles(lab, all);
  const masters0 = [...r0].filter(([, r]) => r === 'master').map(([n]) => n);
  if (masters0.length !== 1) throw new Error(`a drill needs exactly one VRRP master; roles now: ${[...r0].map(([n, r]) => `${n} ${r}`).join(', ')} (restart the lab: hafw lab up --nodes 3)`);
  const master0 = masters0[0]!;
  const target = opts.node ?? master0;
  if (!all.includes(target)) throw new Error(`no running lab node named ${target} (running: ${all.join(', ')})`);
  if (opts.scenario === 'kill-next' && opts.node !== undefined) throw new Error('kill-next kills the master and then the next master: it takes no node');
  if (opts.scenario === 'kill-next' && all.length < 3) throw new Error(`kill-next needs three running nodes (running: ${all.join(', ')}): hafw lab up --nodes 3`);
  if (all.length < 2) throw new Error('a drill needs two or more running nodes');

  const steps: ScenarioStep[] = [];
  const masters: (string | null)[] = [master0];
  let cut: string | undefined;
  const stopEcho = await startEchoServer(PORT, NS.server);
  const agents: DrillFlows[] = [];
  try {
    const agentOpts = { flows: opts.flows, durationMs: 120000, probeIntervalMs: opts.probeIntervalMs ?? 2, port: PORT };
    agents.push(await DrillFlows.start(SERVER.v4, agentOpts));
    agents.push(await DrillFlows.start(SERVER.v6, agentOpts));
    say(`${all.join(', ')} running, ${master0} master; ${opts.flows} TCP flows and a probe every ${agentOpts.probeIntervalMs} ms per family (IPv4, IPv6) through the VIPs`);
    await sleep(settle);

    /** After a step: wait for a master among the live nodes other than `excluded` when mastership must move, then settle. */
    const afterStep = async (mustMove: boolean, excluded?: string): Promise<void> => {
      // Each status poll starts a CLI process: none while the takeover being measured runs.
      await sleep(500);
      const candidates = liveNodes(lab, dead).filter((n) => n !== excluded);
      if (mustMove) await until(() => masterOf(lab, candidates), (m) => m !== null, 5000);
      await sleep(Math.max(0, settle - 500));
      masters.push(await masterOf(lab, liveNodes(lab, dead)));
      say(`  master now: ${masters[masters.length - 1] ?? 'none'}`);
    };
    const kill = async (node: string): Promise<void> => {
      const wasMaster = (await masterOf(lab, [node])) === node;
      steps.push({ action: 'kill', node, atMs: now() });
      await lab.stopNode(node, 'SIGKILL');
      dead.add(node);
      say(`kill ${node}${wasMaster ? ' (master)' : ''}`);
      await afterStep(wasMaster);
    };

    if (opts.scenario === 'kill') await kill(target);
    else if (opts.scenario === 'kill-next') {
      await kill(master0);
      const next = masters[masters.length - 1];
      if (!next || next.includes('+')) throw new Error(`no single node took over after ${master0} was killed (${next ?? 'none'})`);
      await kill(next);
    } else {
      const wasMaster = target === master0;
      steps.push({ action: 'partition', node: target, atMs: now() });
      cut = target;
      await setLinks(target, false);
      say(`partition: ${target} cut off the lan and sync segments`);
      await afterStep(wasMaster, target);
      await sleep(Math.max(0, (opts.partitionMs ?? 3000) - settle));
      steps.push({ action: 'heal', node: target, atMs: now() });
      await setLinks(target, true);
      cut = undefined;
      say(`heal: ${target} back on both segments`);
      await afterStep(false);
    }

    // Convergence: one master (the others backup), and ownership settled on it.
    const live = liveNodes(lab, dead);
    // This drill's flows only (an earlier drill's connections may linger in the tables).
    const keys = new Set([...agents[0]!.ports.map((p) => `${CLIENT.v4} ${p}`), ...agents[1]!.ports.map((p) => `${CLIENT.v6} ${p}`)]);
    const settled = await until(async () => {
      const r = await roles(lab, live);
      const m = [...r].filter(([, x]) => x === 'master').map(([n]) => n);
      const one = m.length === 1 && [...r].every(([n, x]) => n === m[0] || x === 'backup');
      const own = one ? await ownership(lab, live, m[0]!, keys) : { ok: false, detail: '' };
      return { r, m, one, own };
    }, (s) => s.one && s.own.ok, opts.convergeMs ?? 15000);
    const checks: ScenarioCheck[] = [
      { name: 'one master', ok: settled.one, detail: [...settled.r].map(([n, x]) => `${n} ${x}`).join(', ') },
      { name: 'ownership converged', ok: settled.own.ok, detail: settled.one ? settled.own.detail : 'no single master' },
    ];
    // The agents' window ends here: the last step's traffic must have resumed by now.
    await sleep(500);
    const traces: { family: string; t: AgentTrace }[] = [];
    for (const [i, a] of agents.entries()) traces.push({ family: i === 0 ? 'ipv4' : 'ipv6', t: await a.trace() });
    const group: GroupDrillInput = {
      group: String(LAB_VRID),
      vrid: LAB_VRID,
      masters,
      probes: traces.map(({ family, t }) => ({ family, sentMs: t.probeSentMs, recvMs: t.probeRecvMs.map((v) => (v === null ? NaN : v)) })),
      flows: traces.flatMap(({ family, t }) => t.flows.map((f) => ({ ...f, id: `${family}-${f.id}` }))),
    };
    const endMs = Math.min(...traces.map(({ t }) => t.endMs));
    return { report: computeScenarioReport({ scenario: opts.scenario, nodes: all, steps, endMs, groups: [group], checks }), live };
  } finally {
    for (const a of agents) a.stop();
    if (cut) await setLinks(cut, true).catch(() => undefined);
    await stopEcho();
  }
}
