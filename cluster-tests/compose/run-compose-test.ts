/**
 * `npm run test:compose`: the container deployment, end to end, on this machine.
 *
 *   1. a Docker engine and a compose tool (scripts/ensure-docker.sh installs/starts them)
 *   2. the base image (scripts/docker-base-image.sh: pull, else a local stand-in)
 *   3. `docker build` of the hafw image
 *   4. the stack up (docker-compose.yml, project "hafwtest"); wait until fw-a and fw-b
 *      answer `hafw status --json` and exactly one is VRRP master (fw-a, the higher priority)
 *   5. TCP from client to server through the VIP: echoed, and fw-a's rx_packets grows
 *   6. state sync: fw-b reports its conntrack table complete (`hafw sync stats`)
 *   7. drill: long-lived TCP flows and a UDP probe stream run through the VIPs (the lab's
 *      drill agent, in the client container); fw-a's metrics must show the sync lag of
 *      their state; fw-a's container is stopped; fw-b must become master and every flow
 *      must survive (the ruleset drops packets of unknown connections, so only replicated
 *      state lets them through); failover/'s drill report is printed; fresh TCP then goes
 *      through fw-b, and fw-a takes the VIPs back when started
 *   8. with --three-nodes (what `npm run test:compose` passes): fw-c (profile three-nodes)
 *      joins the running pair and resyncs; fw-a's flows are replicated to both backups (each
 *      holds a replica; fw-a's per-peer lag has two peers); fw-a's container is killed
 *      (SIGKILL); fw-b takes the VIPs, fw-c stays backup, every flow survives; fw-a is
 *      started again, resyncs, holds every connection and takes the VIPs back (threeNodes)
 *   9. ALWAYS `compose down -v` (also on failure, time-out or Ctrl-C), fw-c included
 *
 * Prints a report (report.ts) ending in `compose: N passed, N failed`; exit code 0 only when
 * nothing failed. Bounded: every call has a time-out and the whole run a deadline
 * (HAFW_COMPOSE_DEADLINE_S, default 1500 s, most of it for a cold image build).
 *
 * Env: HAFW_COMPOSE_CONTEXT=head builds the image from the last commit (`git archive HEAD`)
 *      instead of the working tree; HAFW_COMPOSE_KEEP=1 leaves the stack up for a look
 *      (then tear down yourself: docker-compose -p hafwtest down -v).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { NodeStatus } from '../../node/api/index.js';
import { createInterface } from 'node:readline';
import { computeDrillReport, drillReportJson, formatDrillReport } from '../../failover/index.js';
import { ComposeStack, composeArgv, execArgs, parseComposeTool, run, type RunResult } from './compose-cli.js';
import { COMPOSE, REPO_ROOT } from './compose-topology.js';
import { counterGrowth, judgePair, roleOf, type NodeView } from './pair-state.js';
import { allPassed, formatReport, seconds, type Step } from './report.js';
import { parseHistogram, quantileBound } from './prom-text.js';

const PROJECT = 'hafwtest';
const IMAGE = process.env.HAFW_IMAGE ?? 'hafw:latest';
const BASE_IMAGE = 'node:20-bookworm-slim';
const DEADLINE_MS = Number(process.env.HAFW_COMPOSE_DEADLINE_S ?? 1500) * 1000;
const startedAt = Date.now();
let startedDockerd: number | undefined;
const steps: Step[] = [];
const FW_A = COMPOSE.firewalls[0].service;
const FW_B = COMPOSE.firewalls[1].service;
const TOOLS = `${COMPOSE.appDir}/dist/cluster-tests`;
/** `--three-nodes`: after the pair's drill, fw-c joins and the three-node drill runs (npm run test:compose3). */
const THREE_NODES = process.argv.includes('--three-nodes');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => console.log(`[compose-test +${seconds(Date.now() - startedAt)}] ${msg}`);

/** Set by SIGINT/SIGTERM: every later step throws, so the run goes straight to its teardown. */
let aborted: string | undefined;
/** Process groups of long-running children (scripts, the image build), killed on abort. */
const activeGroups = new Set<number>();

function left(capMs: number): number {
  if (aborted) throw new Error(`interrupted (${aborted})`);
  const rest = DEADLINE_MS - (Date.now() - startedAt);
  if (rest <= 0) throw new Error(`the whole run's deadline (${DEADLINE_MS / 1000} s) has passed`);
  return Math.min(capMs, rest);
}

function step(name: string, verdict: Step['verdict'], detail: string, ms?: number): void {
  steps.push({ name, verdict, detail, ms });
  log(`${verdict.toUpperCase()} ${name}: ${detail}`);
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = Date.now();
  const v = await fn();
  return [v, Date.now() - t];
}

/** Kills a child started with `detached: true` and everything it started (its process group). */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Runs a repo script, its stderr shown as it comes (progress), its stdout returned. */
function script(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(REPO_ROOT, file), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    if (child.pid !== undefined) activeGroups.add(child.pid);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => killGroup(child.pid), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (child.pid !== undefined) activeGroups.delete(child.pid);
      if (code === 0) resolve(out);
      else reject(new Error(`${file} exited ${code ?? 'by a signal (time-out?)'}`));
    });
  });
}

/** docker build, output to a log file; the log's tail is shown on failure. */
async function buildImage(): Promise<string> {
  const logFile = path.join(os.tmpdir(), 'hafw-compose-build.log');
  const fromHead = process.env.HAFW_COMPOSE_CONTEXT === 'head';
  // --network host: apt-get and npm ci inside the build reach the registries the way this
  // host does, and no build container needs Docker's NAT towards the uplink.
  const cmd = fromHead
    ? `git archive --format=tar HEAD | docker build --force-rm --network host -t '${IMAGE}' -`
    : `docker build --force-rm --network host -t '${IMAGE}' .`;
  const out = createWriteStream(logFile);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', cmd], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid !== undefined) activeGroups.add(child.pid);
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    // The docker client dies with its group; the engine then cancels the build.
    const timer = setTimeout(() => killGroup(child.pid), left(15 * 60_000));
    child.on('error', reject);
    child.on('close', async (code) => {
      clearTimeout(timer);
      if (child.pid !== undefined) activeGroups.delete(child.pid);
      out.end();
      if (code === 0) return resolve();
      const tail = await run(['tail', '-n', '25', logFile], { timeoutMs: 5000 }).catch(() => undefined);
      reject(new Error(`docker build exited ${code ?? 'by a signal (time-out?)'}; last lines of ${logFile}:\n${tail?.stdout ?? ''}`));
    });
  });
  return fromHead ? 'from HEAD' : 'from the working tree';
}

async function nodeStatus(stack: ComposeStack, service: string): Promise<NodeView> {
  try {
    const r = await stack.exec(service, ['hafw', 'status', '--json'], 10_000);
    if (r.code !== 0) return { service, error: (r.stderr || r.stdout).trim().split('\n').pop() };
    return { service, status: JSON.parse(r.stdout) as NodeStatus };
  } catch (err) {
    return { service, error: (err as Error).message };
  }
}

/** `hafw sync stats --json` of a node; undefined when it does not answer or has no sync. */
async function syncInSync(stack: ComposeStack, service: string): Promise<boolean | undefined> {
  const r = await stack.exec(service, ['hafw', 'sync', 'stats', '--json'], 10_000).catch(() => undefined);
  if (!r || r.code !== 0) return undefined;
  try {
    return (JSON.parse(r.stdout) as { inSync?: boolean }).inSync === true;
  } catch {
    return undefined;
  }
}

/** Waits until the backup says its table is complete (state sync); false on time-out. */
async function waitInSync(stack: ComposeStack, service: string, timeoutMs: number): Promise<{ ok: boolean; ms: number }> {
  const t0 = Date.now();
  const until = t0 + left(timeoutMs);
  while (Date.now() < until) {
    left(0);
    if (await syncInSync(stack, service)) return { ok: true, ms: Date.now() - t0 };
    await sleep(500);
  }
  return { ok: false, ms: Date.now() - t0 };
}

async function metricsText(stack: ComposeStack, service: string): Promise<string> {
  const r = await stack.exec(service, ['hafw', 'metrics'], 10_000);
  if (r.code !== 0) throw new Error(`hafw metrics on ${service} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

const msText = (seconds: number): string => (Number.isFinite(seconds) ? `${+(seconds * 1000).toPrecision(3)} ms` : seconds === Infinity ? '> largest bucket' : 'n/a');

/**
 * Sync lag as the master's metrics show it (hafw_sync_lag_seconds: state change on the
 * sender to applied on the receiver, on the sender's clock; docs/sync-protocol.md).
 */
async function syncLagStep(stack: ComposeStack, master: string): Promise<void> {
  const text = await metricsText(stack, master);
  const lag = parseHistogram(text, 'hafw_sync_lag_seconds');
  if (!lag) {
    step('sync lag', 'fail', `${master}'s metrics have no hafw_sync_lag_seconds: is sync configured (deploy/fw-*.yaml)?`);
    return;
  }
  const mean = lag.count > 0 ? lag.sum / lag.count : NaN;
  step(
    'sync lag',
    lag.count > 0 ? 'pass' : 'fail',
    `${master} hafw_sync_lag_seconds: ${lag.count} samples, mean ${msText(mean)}, p50 <= ${msText(quantileBound(lag, 0.5))}, p99 <= ${msText(quantileBound(lag, 0.99))}`,
  );
}

/** Polls both nodes until judgePair says ready (and, when given, `master` is the master). */
async function waitForPair(stack: ComposeStack, services: string[], timeoutMs: number, master?: string): Promise<{ views: NodeView[]; reason: string; ms: number }> {
  const t0 = Date.now();
  const until = t0 + left(timeoutMs);
  let last = 'nothing asked yet';
  while (Date.now() < until) {
    left(0); // throws once the run is interrupted
    const views = await Promise.all(services.map((s) => nodeStatus(stack, s)));
    const v = judgePair(views);
    last = v.reason;
    if (v.ready && (!master || v.masters.length === 0 || v.masters[0] === master)) return { views, reason: v.reason, ms: Date.now() - t0 };
    await sleep(500);
  }
  throw new Error(`pair not ready within ${timeoutMs / 1000} s: ${last}`);
}

interface TcpResult {
  ok: number;
  flows: number;
  bytesEchoed: number;
  ms: number;
  errors: string[];
}

async function tcpThroughVip(stack: ComposeStack, flows: number, bytes: number): Promise<TcpResult> {
  const r = await stack.exec(
    COMPOSE.client.service,
    ['node', `${TOOLS}/tools/traffic.js`, 'tcp', '--host', COMPOSE.server.address, '--port', String(COMPOSE.server.echoPort), '--bytes', String(bytes), '--flows', String(flows), '--timeout-ms', '10000'],
    30_000,
  );
  if (r.code !== 0) throw new Error(`traffic tool exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as TcpResult;
}

const wallNow = (): number => performance.timeOrigin + performance.now();

interface AgentTrace {
  probeSentMs: number[];
  probeRecvMs: (number | null)[];
  flows: { id: string; progressMs: number[]; failed: boolean }[];
  endMs: number;
}

/**
 * Starts the lab's drill agent (cluster-tests/tools/drill-agent.ts) in the client container:
 * long-lived TCP flows and a UDP probe stream to the server's echo service through the VIPs.
 * Its timestamps are wall-clock milliseconds; containers share the host's clock, so they
 * compare with this process's trigger time.
 */
function startDrillAgent(stack: ComposeStack, flows: number, durationMs: number): { ready: Promise<boolean>; trace: Promise<AgentTrace>; end: () => Promise<void> } {
  const agentArgv = [
    'node', `${TOOLS}/tools/drill-agent.js`,
    '--host', COMPOSE.server.address, '--port', String(COMPOSE.server.echoPort),
    '--flows', String(flows), '--duration-ms', String(durationMs), '--probe-interval-ms', '2',
  ];
  // Through sh, which prints its PID first (the agent's, after exec): end() stops the agent
  // by that PID (SIGUSR2: it reports and exits) once the steps are done, instead of waiting
  // out durationMs.
  const argv = composeArgv(stack.target, [...execArgs(COMPOSE.client.service, ['sh', '-c', 'echo "{\\"agentPid\\":$$}"; exec "$@"', 'sh', ...agentArgv])]);
  const child = spawn(argv[0]!, argv.slice(1), { cwd: stack.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), durationMs + 30_000);
  let onReady: (ok: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((r) => (onReady = r));
  let err = '';
  let agentPid: number | undefined;
  const lines: string[] = [];
  let onReport: (t: AgentTrace) => void = () => undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    if (line.includes('"agentPid"')) agentPid = Number((JSON.parse(line) as { agentPid: number }).agentPid);
    if (line.includes('"ready"')) onReady(line.includes('"ready":true'));
    // The report is the agent's last word: taken at once, not when the process exits (its
    // duration timer may keep it alive a while after end(); the teardown removes it).
    if (line.includes('"probeSentMs"')) {
      onReport(JSON.parse(line) as AgentTrace);
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const trace = new Promise<AgentTrace>((resolve, reject) => {
    onReport = resolve;
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      onReady(false);
      const last = lines.find((l) => l.includes('"probeSentMs"'));
      if (!last) return reject(new Error(`drill agent exited ${code} without a trace: ${err.trim() || lines.join(' ')}`));
      resolve(JSON.parse(last) as AgentTrace);
    });
  });
  // If a step below throws, the trace is never awaited; that must not become an unhandled
  // rejection that kills the process before the teardown.
  trace.catch(() => undefined);
  const end = async (): Promise<void> => {
    if (agentPid === undefined || child.exitCode !== null) {
      log(`drill agent: ${agentPid === undefined ? 'its PID never came' : 'already ended'}; waiting for its report`);
      return;
    }
    const r = await stack.exec(COMPOSE.client.service, ['kill', '-USR2', String(agentPid)], 10_000).catch((e: Error) => ({ code: 1, stdout: '', stderr: e.message }));
    if (r.code !== 0) log(`drill agent: kill -USR2 ${agentPid} failed (${r.stderr.trim()}); waiting out its duration`);
  };
  return { ready, trace, end };
}

/**
 * The drill: fw-a's container is stopped (SIGTERM: the node resigns with a priority-0
 * advertisement, RFC 9568, so fw-b takes over after Skew_Time) while flows and probes run;
 * failover/'s drill report gives the takeover time and which flows survived.
 */
async function takeover(stack: ComposeStack, sync: boolean): Promise<void> {
  const FLOWS = 8;
  const agent = startDrillAgent(stack, FLOWS, 7000);
  if (!(await agent.ready)) throw new Error('drill flows did not connect through the VIPs');
  await sleep(1500);
  // Read while the flows run: the master has been replicating their state.
  if (sync) await syncLagStep(stack, FW_A);
  const id = (await stack.must(['ps', '-q', FW_A], left(30_000))).trim();
  const triggerMs = wallNow();
  // The docker CLI, not compose: it sends the signal at once (compose v1 takes a while to start).
  const stopped = run(['docker', 'stop', '-t', '10', id], { timeoutMs: left(30_000) });
  const after = await waitForPair(stack, [FW_B], 15_000);
  const takeoverSeenMs = wallNow() - triggerMs;
  const bStatus = after.views[0]!.status!;
  const syncState = bStatus.vrrp ? (bStatus.vrrp.inSync ? 'inSync' : 'notInSync') : undefined;
  if ((await stopped).code !== 0) throw new Error(`docker stop ${FW_A} failed`);
  const trace = await agent.trace;
  const report = computeDrillReport({
    mode: 'resign',
    triggerMs,
    endMs: trace.endMs,
    probeSentMs: trace.probeSentMs,
    probeRecvMs: trace.probeRecvMs.map((v) => (v === null ? NaN : v)),
    flows: trace.flows,
    syncStateAtTakeover: syncState,
  });
  console.log(`---- drill report: ${FW_A} stopped while ${FLOWS} TCP flows and a 2 ms UDP probe ran ----`);
  console.log(formatDrillReport(report));
  console.log(`  json ${drillReportJson(report)}`);
  step('takeover', roleOf(bStatus) === 'master' ? 'pass' : 'fail', `${FW_B} is master (its status said so ${seconds(takeoverSeenMs)} after the stop); longest probe gap ${report.takeover_ms.toFixed(1)} ms, ${report.probes_lost}/${report.probes_sent} probes lost`);
  step(
    'flows survived',
    report.survived === FLOWS ? 'pass' : 'fail',
    `${report.survived}/${FLOWS} long-lived TCP flows moved bytes after the takeover; stall p50 ${report.stall_ms_p50.toFixed(0)} ms, max ${report.stall_ms_max.toFixed(0)} ms; drill targets ${report.meets_targets ? 'met' : 'not met'}`,
  );
  const b0 = await nodeStatus(stack, FW_B);
  const tcp = await tcpThroughVip(stack, 2, 500_000);
  const b1 = await nodeStatus(stack, FW_B);
  const grew = counterGrowth(b0.status, b1.status, 'rx_packets');
  step('traffic via fw-b', tcp.ok === tcp.flows && grew > 0 ? 'pass' : 'fail', `${tcp.ok}/${tcp.flows} new TCP flows echoed ${tcp.bytesEchoed} B; ${FW_B} rx_packets +${grew}`);
  // fw-a comes back and, with the higher priority and preempt on, takes the VIPs back.
  await stack.must(['start', FW_A], left(30_000));
  const back = await waitForPair(stack, [FW_A, FW_B], 30_000, FW_A);
  step('fw-a back', 'pass', `${back.reason} again`, back.ms);
}

const FW_C = COMPOSE.thirdFirewall.service;

/** Established connections to the echo service that a node holds (`origin`: its own or replicas; undefined: both). */
async function echoConnections(stack: ComposeStack, service: string, origin?: 'local' | 'replicated'): Promise<number> {
  const r = await stack
    .exec(service, ['hafw', 'ct', 'list', '-p', 'tcp', '--dport', String(COMPOSE.server.echoPort), '--state', 'ESTABLISHED', '--json', ...(origin ? ['--origin', origin] : [])], 10_000)
    .catch(() => undefined);
  if (!r || r.code !== 0) return -1;
  return ((JSON.parse(r.stdout) as { entries: unknown[] }).entries ?? []).length;
}

/** Polls until `service` holds at least `want` such connections; the last count either way. */
async function waitConnections(stack: ComposeStack, service: string, origin: 'local' | 'replicated' | undefined, want: number, timeoutMs: number): Promise<{ ok: boolean; n: number }> {
  const until = Date.now() + left(timeoutMs);
  let n = -1;
  while (Date.now() < until) {
    n = await echoConnections(stack, service, origin);
    if (n >= want) return { ok: true, n };
    await sleep(300);
  }
  return { ok: false, n };
}

/**
 * Three nodes (`--three-nodes`; docker-compose.yml profile three-nodes): fw-c joins the
 * running pair; fw-a stays master and replicates its flows to both backups; fw-a's container
 * is killed (SIGKILL: no goodbye, the backups find out by the silence); fw-b (priority 100)
 * takes the VIPs, fw-c (50) stays backup, and every flow survives; fw-a is started again,
 * resyncs, holds every connection and takes the VIPs back (preempt), the flows still going.
 */
async function threeNodes(stack: ComposeStack): Promise<void> {
  const t0 = Date.now();
  await stack.must(['up', '-d', '--no-build', '--no-deps', FW_C], left(120_000));
  const trio = await waitForPair(stack, [FW_A, FW_B, FW_C], 60_000, FW_A);
  const joined = await waitInSync(stack, FW_C, 60_000);
  step('fw-c joins', joined.ok ? 'pass' : 'fail', `${FW_C} started beside the running pair: ${trio.reason}, ${FW_B} and ${FW_C} backups; ${FW_C} ${joined.ok ? 'in sync' : 'NOT in sync within 60 s'}`, Date.now() - t0);

  const FLOWS = 6;
  // Bounded at 45 s (the steps take about 30 s); end() stops it once they are done.
  const agent = startDrillAgent(stack, FLOWS, 45_000);
  if (!(await agent.ready)) throw new Error('drill flows did not connect through the VIPs (three nodes)');
  const [b, c] = await Promise.all([FW_B, FW_C].map((svc) => waitConnections(stack, svc, 'replicated', FLOWS, 10_000)));
  step('replicated to both', b!.ok && c!.ok ? 'pass' : 'fail', `${FW_B} holds ${b!.n} and ${FW_C} ${c!.n} replicas of the ${FLOWS} flows ${FW_A} forwards`);
  const lagPeers = new Set([...(await metricsText(stack, FW_A)).matchAll(/^hafw_sync_peer_lag_seconds_count\{[^}]*peer="(\d+)"[^}]*\} ([0-9.e+]+)$/gm)].filter((m) => Number(m[2]) > 0).map((m) => m[1]));
  step('lag per peer', lagPeers.size >= 2 ? 'pass' : 'fail', `${FW_A}'s hafw_sync_peer_lag_seconds has samples from ${lagPeers.size} peers`);

  const id = (await stack.must(['ps', '-q', FW_A], left(30_000))).trim();
  const triggerMs = wallNow();
  const killed = await run(['docker', 'kill', '--signal', 'KILL', id], { timeoutMs: left(30_000) });
  if (killed.code !== 0) throw new Error(`docker kill ${FW_A} failed: ${killed.stderr.trim()}`);
  const after = await waitForPair(stack, [FW_B, FW_C], 15_000, FW_B);
  const takeoverSeenMs = wallNow() - triggerMs;
  const owned = await waitConnections(stack, FW_B, 'local', FLOWS, 10_000);
  step('kill fw-a', owned.ok ? 'pass' : 'fail', `${after.reason}, ${FW_C} backup (seen ${seconds(takeoverSeenMs)} after the kill); ${FW_B} owns ${owned.n}/${FLOWS} flows`);

  const restartMs = wallNow();
  await stack.must(['start', FW_A], left(30_000));
  const back = await waitForPair(stack, [FW_A, FW_B, FW_C], 60_000, FW_A);
  const preemptMs = wallNow();
  const held = await echoConnections(stack, FW_A);
  step('fw-a resyncs, takes back', held >= FLOWS ? 'pass' : 'fail', `${back.reason} again ${seconds(preemptMs - restartMs)} after its start, holding ${held}/${FLOWS} flows (resynced from its peers)`);

  await sleep(1500);
  await agent.end();
  const trace = await agent.trace;
  const report = computeDrillReport({
    mode: 'kill',
    triggerMs,
    endMs: trace.endMs,
    probeSentMs: trace.probeSentMs,
    probeRecvMs: trace.probeRecvMs.map((v) => (v === null ? NaN : v)),
    flows: trace.flows,
    syncStateAtTakeover: after.views[0]!.status!.vrrp?.inSync ? 'inSync' : 'notInSync',
  });
  console.log(`---- drill report: ${FW_A} killed among three nodes while ${FLOWS} TCP flows and a 2 ms UDP probe ran ----`);
  console.log(formatDrillReport(report));
  const afterReturn = trace.flows.filter((f) => !f.failed && f.progressMs.some((x) => x > preemptMs)).length;
  step(
    'flows survived (3 nodes)',
    report.survived === FLOWS && afterReturn === FLOWS ? 'pass' : 'fail',
    `${report.survived}/${FLOWS} flows moved bytes after the kill (longest probe gap ${report.takeover_ms.toFixed(1)} ms, ${report.probes_lost}/${report.probes_sent} probes lost, stall p50 ${report.stall_ms_p50.toFixed(0)} ms), ${afterReturn}/${FLOWS} after ${FW_A} took the VIPs back`,
  );
  step('three nodes', 'info', 'phase wall time', Date.now() - t0);
}

const DOCKERD_PIDFILE = process.env.HAFW_DOCKERD_PIDFILE ?? '/run/hafw/dockerd.pid';

async function readDockerdPid(): Promise<number | undefined> {
  const pid = Number((await readFile(DOCKERD_PIDFILE, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  // Only ever the engine itself.
  const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
  return comm === 'dockerd' ? pid : undefined;
}

/**
 * Stops the engine this run started (by its PID: DESIGN §6), unless HAFW_COMPOSE_KEEP_DOCKERD=1.
 * An engine that was already running is never touched.
 */
async function stopDockerd(pid: number): Promise<void> {
  if (process.env.HAFW_COMPOSE_KEEP_DOCKERD === '1' || process.env.HAFW_COMPOSE_KEEP === '1') {
    step('dockerd', 'info', `started by this run (pid ${pid}); left running`);
    return;
  }
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const until = Date.now() + 30_000;
  while (alive() && Date.now() < until) await sleep(200);
  if (alive()) process.kill(pid, 'SIGKILL');
  await rm(DOCKERD_PIDFILE, { force: true });
  step('dockerd', 'info', `started by this run (pid ${pid}) and stopped again`);
}

async function main(): Promise<number> {
  let stack: ComposeStack | undefined;
  let stack3: ComposeStack | undefined;
  let tearingDown: Promise<void> | undefined;
  // Once only, whoever asks first (the run's end or a signal); later callers wait for it.
  const teardown = (showLogs: boolean): Promise<void> => (tearingDown ??= doTeardown(showLogs));
  const doTeardown = async (showLogs: boolean): Promise<void> => {
    if (!stack || !stack3) return;
    if (showLogs) {
      const logs = await stack3.run(['logs', '--no-color', '--tail', '40', FW_A, FW_B, ...(THREE_NODES ? [FW_C] : [])], 30_000).catch(() => undefined);
      if (logs) console.log(`---- node logs (last 40 lines each) ----\n${logs.stdout}${logs.stderr}`);
    }
    if (process.env.HAFW_COMPOSE_KEEP === '1') {
      log(`HAFW_COMPOSE_KEEP=1: the stack stays up; tear down with: ${stack.target.tool.join(' ')} -p ${PROJECT} down -v`);
      return;
    }
    const r = await stack3.run(['down', '-v', '--remove-orphans', '-t', '5'], 120_000).catch((e: Error) => ({ code: 1, stdout: '', stderr: e.message }) as RunResult);
    step('teardown', r.code === 0 ? 'info' : 'fail', r.code === 0 ? 'compose down -v: containers, networks and volumes removed' : `compose down failed: ${r.stderr.trim()}`);
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: stopping the run; the stack is torn down first`);
    aborted = sig;
    for (const pid of activeGroups) killGroup(pid);
    // The run notices at its next step and tears down; should it hang, do it from here.
    setTimeout(() => {
      void teardown(false)
        .then(() => (startedDockerd !== undefined ? stopDockerd(startedDockerd) : undefined))
        .finally(() => process.exit(130));
    }, 60_000).unref();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // A stray rejection must fail the run, never skip the teardown.
  process.on('unhandledRejection', (err) => step('error', 'fail', `unhandled: ${(err as Error)?.message ?? String(err)}`));

  let failed = false;
  try {
    const engineWasUp = (await run(['docker', 'info'], { timeoutMs: 20_000 }).catch(() => undefined))?.code === 0;
    const [toolOut, engineMs] = await timed(() => script('scripts/ensure-docker.sh', [], left(10 * 60_000)));
    if (!engineWasUp) startedDockerd = await readDockerdPid();
    const tool = parseComposeTool(toolOut.trim().split('\n').pop() ?? '');
    stack = new ComposeStack({ tool, project: PROJECT, files: ['docker-compose.yml'] }, REPO_ROOT);
    // The same stack with fw-c's profile: its calls reach fw-c too (down removes it).
    stack3 = new ComposeStack({ ...stack.target, profiles: [COMPOSE.thirdFirewall.profile] }, REPO_ROOT);
    const engine = (await run(['docker', 'version', '--format', '{{.Server.Version}}'], { timeoutMs: 20_000 })).stdout.trim();
    const composeVersion = (await stack.run(['version', '--short'], 20_000)).stdout.trim();
    step('engine', 'info', `docker engine ${engine}, ${tool.join(' ')} ${composeVersion}`, engineMs);

    const [, baseMs] = await timed(() => script('scripts/docker-base-image.sh', [BASE_IMAGE], left(10 * 60_000)));
    const label = (await run(['docker', 'image', 'inspect', '-f', '{{index .Config.Labels "org.hafw.base-image"}}', BASE_IMAGE], { timeoutMs: 20_000 })).stdout.trim();
    step('base image', 'info', `${BASE_IMAGE} (${label === 'local-stand-in' ? 'local stand-in: no registry reachable' : 'official'})`, baseMs);

    const [from, buildMs] = await timed(buildImage);
    step('image build', 'pass', `${IMAGE} ${from}`, buildMs);

    // Leftovers of an interrupted run of this test.
    await stack3.run(['down', '-v', '--remove-orphans', '-t', '5'], left(120_000));
    const [, upMs] = await timed(() => stack!.must(['up', '-d', '--no-build'], left(180_000)));
    step('stack up', 'pass', `${FW_A}, ${FW_B}, ${COMPOSE.client.service}, ${COMPOSE.server.service} on lan/wan/sync`, upMs);

    const pair = await waitForPair(stack, [FW_A, FW_B], 60_000, FW_A);
    const vrrp = pair.views.some((v) => v.status?.vrrp);
    step('pair ready', 'pass', `both nodes answer hafw status; ${pair.reason}`, pair.ms);
    // State sync: the backup must hold a complete table before anything is failed over.
    const sync = (await syncInSync(stack, FW_B)) !== undefined;
    if (sync) {
      const s = await waitInSync(stack, FW_B, 60_000);
      step('in sync', s.ok ? 'pass' : 'fail', s.ok ? `${FW_B} reports its conntrack table complete (hafw sync stats)` : `${FW_B} not in sync within 60 s`, s.ms);
    } else {
      step('in sync', 'skip', 'no state sync configured (no sync: section in deploy/fw-*.yaml)');
    }

    const a0 = pair.views[0]!.status;
    const [tcp, tcpMs] = await timed(() => tcpThroughVip(stack!, 4, 1_000_000));
    const a1 = (await nodeStatus(stack, FW_A)).status;
    const grew = counterGrowth(a0, a1, 'rx_packets');
    step(
      'traffic via fw-a',
      tcp.ok === tcp.flows && grew > 0 ? 'pass' : 'fail',
      `${tcp.ok}/${tcp.flows} TCP flows client -> ${COMPOSE.server.address} echoed ${tcp.bytesEchoed} B via VIP ${COMPOSE.vips.lan}; ${FW_A} rx_packets +${grew}${tcp.errors.length ? `; errors: ${tcp.errors.join(', ')}` : ''}`,
      tcpMs,
    );

    if (vrrp) await takeover(stack, sync);
    else step('takeover', 'skip', 'no vrrp section in deploy/fw-*.yaml: VIPs are static');
    if (THREE_NODES) await threeNodes(stack3);
  } catch (err) {
    failed = true;
    step('error', 'fail', (err as Error).message);
  } finally {
    await teardown(failed || steps.some((s) => s.verdict === 'fail'));
  }
  if (startedDockerd !== undefined) await stopDockerd(startedDockerd);
  step('total', 'info', 'wall time', Date.now() - startedAt);
  console.log(formatReport(THREE_NODES ? 'hafw compose test (pair, then three nodes)' : 'hafw compose test', steps));
  if (aborted) return 130;
  return allPassed(steps) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
