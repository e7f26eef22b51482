/**
 * Rule changes on a running node against nftables (issue 19), beside their baselines from
 * the same run:
 *
 *   ruleset-apply-10k  10,000 rules in 1,000 chains (bench/ruleset-gen.ts): wall time from
 *                      starting `hafw ruleset apply --replace -f FILE` (the CLI process
 *                      included) until the node's event stream announces the new
 *                      generation. The node publishes that event only after its datapath
 *                      thread has answered that it filters with the new ruleset
 *                      (node/daemon/ruleset-service.ts), so the event is "the datapath uses
 *                      it". Baseline: `nft -f` of the same file into a fresh namespace.
 *   ruleset-add-1      one `add rule` transaction on a node running 1k, 10k and 100k rules:
 *                      through the API (wall time of the HTTP call on the control socket,
 *                      median of 50) and through the CLI (`hafw ruleset apply 'add rule ...'`,
 *                      process included), beside `nft add rule` into a namespace holding
 *                      the same ruleset. The API rows must stay flat from 1k to 100k.
 *
 * The node runs in the lab (one firewall, the lab's strict ruleset at start). Each hafw
 * run alternates with its nft twin, so that load from elsewhere on a shared machine hits
 * both alike. Every loop is bounded; the lab and the nft namespace are removed in finally.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONTROL_DIR } from '../node/api/control-socket.js';
import { controlRequest } from '../node/api/client.js';
import { HAFW_BIN, Lab, strictRulesetConfig } from '../cluster-tests/lab.js';
import { sh, shQuiet } from '../cluster-tests/exec.js';
import { NS } from '../cluster-tests/topology.js';
import { chainsRuleset } from './ruleset-gen.js';
import { withRatio, type BenchResult } from './report.js';

const NFT_NS = 'hafw-applybench';
const APPLY_RUNS = 7;
const API_RUNS = 50;
const CLI_RUNS = 10;
const SIZES = [1_000, 10_000, 100_000];

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

const median = (xs: number[]): number => percentile(xs, 0.5);

/** Runs a process; resolves with its wall time in ms (start to exit); rejects when it fails. */
function run(argv: string[], onStart?: (t0: number) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    onStart?.(t0);
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`${argv.join(' ').slice(0, 200)} exited ${code}: ${err.slice(0, 400)}`));
    });
  });
}

/**
 * The node's event stream (GET /v1/events?types=ruleset): waitFor(g) resolves with the
 * performance.now() at which the event of generation >= g arrived.
 */
class RulesetEvents {
  private seen = 0;
  private at = 0;
  private waiters: Array<{ gen: number; resolve: (t: number) => void }> = [];
  private constructor(private readonly req: http.ClientRequest) {}

  static open(socketPath: string): Promise<RulesetEvents> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath, path: '/v1/events?types=ruleset', method: 'GET' });
      const ev = new RulesetEvents(req);
      req.on('response', (res) => {
        if (res.statusCode !== 200) return reject(new Error(`GET /v1/events: ${res.statusCode}`));
        // A replace's event lists every change (megabytes for 10k rules): the event is
        // timed at its first bytes, which name the generation; the rest is skipped.
        let buf = '';
        let scanned = 0;
        let headDone = false;
        let curGen = 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const now = performance.now();
          buf += chunk;
          for (;;) {
            if (!headDone) {
              const gen = /^: generation (\d+)/.exec(buf) ?? /^event: ruleset\n(?:id: \d+\n)?data: \{"generation":(\d+)/.exec(buf);
              if (gen) {
                curGen = Number(gen[1]);
                ev.saw(curGen, now);
                headDone = true;
              }
            }
            const end = buf.indexOf('\n\n', Math.max(0, scanned - 1));
            if (end < 0) {
              scanned = buf.length;
              break;
            }
            buf = buf.slice(end + 2);
            scanned = 0;
            if (headDone) ev.ended(curGen);
            headDone = false;
          }
        });
        resolve(ev);
      });
      req.on('error', reject);
      req.end();
    });
  }

  get generation(): number {
    return this.seen;
  }

  private saw(gen: number, now: number): void {
    if (gen <= this.seen) return;
    this.seen = gen;
    this.at = now;
    this.waiters = this.waiters.filter((w) => (w.gen <= gen ? (w.resolve(now), false) : true));
  }

  private done = 0;
  private endWaiters: Array<{ gen: number; resolve: () => void }> = [];

  ended(gen: number): void {
    if (gen <= this.done) return;
    this.done = gen;
    this.endWaiters = this.endWaiters.filter((w) => (w.gen <= gen ? (w.resolve(), false) : true));
  }

  /** Resolves when the whole event of generation >= gen has arrived (a replace's event lists every change). */
  waitForEnd(gen: number, timeoutMs: number): Promise<void> {
    if (this.done >= gen) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ruleset event of generation ${gen} not complete within ${timeoutMs} ms`)), timeoutMs);
      this.endWaiters.push({ gen, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  waitFor(gen: number, timeoutMs: number): Promise<number> {
    if (this.seen >= gen) return Promise.resolve(this.at);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ruleset event for generation ${gen} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ gen, resolve: (t) => (clearTimeout(timer), resolve(t)) });
    });
  }

  close(): void {
    this.req.destroy();
  }
}

/** One `nft -f FILE` into a fresh namespace, in ms. */
async function nftApplyOnce(file: string): Promise<number> {
  await shQuiet(['ip', 'netns', 'del', NFT_NS]);
  await sh(['ip', 'netns', 'add', NFT_NS]);
  return run(['ip', 'netns', 'exec', NFT_NS, 'nft', '-f', file]);
}

/** A namespace holding FILE's ruleset, for `nft add rule` beside the node's add. */
async function nftLoaded(file: string): Promise<void> {
  await shQuiet(['ip', 'netns', 'del', NFT_NS]);
  await sh(['ip', 'netns', 'add', NFT_NS]);
  await sh(['nft', '-f', file], { ns: NFT_NS, timeoutMs: 300_000 });
}

export async function runRulesetApplyBench(): Promise<BenchResult[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hafw-apply-bench-'));
  const out: BenchResult[] = [];
  const fwNs = NS.fw('fwa');
  let events: RulesetEvents | undefined;
  try {
    const file10k = path.join(dir, 'chains-1000x10.nft');
    await writeFile(file10k, chainsRuleset(1000, 10));
    const lab = await Lab.up({ nodes: 1, startNodes: false });
    // 100k rules are ~5 MB of text: the node's caps are raised for the bench's largest ruleset.
    await lab.startNode('fwa', `${await strictRulesetConfig()}  maxBytes: 67108864\n  maxExpandedTokens: 100000000\n`);
    await lab.waitReady('fwa');
    const socket = path.join(CONTROL_DIR, `ctl-${(await stat(`/run/netns/${fwNs}`)).ino}.sock`);
    events = await RulesetEvents.open(socket);
    const hafw = [process.execPath, HAFW_BIN];

    // nft and hafw runs alternate, so that load from elsewhere on the machine hits both alike.
    const nftRuns: number[] = [];
    const applyRuns: number[] = [];
    const exitRuns: number[] = [];
    for (let i = 0; i < APPLY_RUNS; i++) {
      nftRuns.push(await nftApplyOnce(file10k));
      const next = events.generation + 1;
      let t0 = 0;
      const exited = run(['ip', 'netns', 'exec', fwNs, ...hafw, 'ruleset', 'apply', '--replace', '-f', file10k, '--json'], (t) => (t0 = t));
      const seen = await events.waitFor(next, 120_000);
      exitRuns.push(await exited);
      applyRuns.push(seen - t0);
    }
    const nft = { name: 'ruleset-apply-10k/nft', value: median(nftRuns), unit: 'ms', note: `nft -f, 11,000 rules / 1,001 chains into a fresh netns, median of ${APPLY_RUNS}` };
    out.push(nft);
    out.push(withRatio({ name: 'ruleset-apply-10k/hafw', value: median(applyRuns), unit: 'ms', note: `hafw ruleset apply --replace (process start included) until the datapath's event; CLI exit after ${Math.round(median(exitRuns))} ms; median of ${APPLY_RUNS}; target <= 0.25x` }, nft));

    for (const rules of SIZES) {
      const chains = rules / 10;
      const file = path.join(dir, `chains-${chains}x10.nft`);
      const text = chainsRuleset(chains, 10);
      await writeFile(file, text);
      const put = await controlRequest<{ generation: number }>('PUT', '/v1/ruleset', { socket, body: { text }, timeoutMs: 300_000 });
      // The replace's own event lists every change (tens of MB at 100k rules) and streams to
      // this process for seconds: timing add-1 before it has arrived measured that stream
      // (this process parsing it, the node writing it), not the transaction.
      await events!.waitForEnd(put.generation, 300_000);
      const label = rules >= 1000 ? `${rules / 1000}k` : String(rules);
      const add = (i: number): string => `add rule inet bench c${(i * 37) % chains} ip saddr 203.0.113.${(i % 250) + 1} tcp dport ${100 + i} accept`;
      const api: number[] = [];
      const engineMs: number[] = [];
      for (let i = 0; i < API_RUNS; i++) {
        const t0 = performance.now();
        const r = await controlRequest<{ ms: number }>('POST', '/v1/ruleset/transactions', { socket, body: { ops: add(i) }, timeoutMs: 30_000 });
        api.push(performance.now() - t0);
        engineMs.push(r.ms);
      }
      await nftLoaded(file);
      const cli: number[] = [];
      const nftAdds: number[] = [];
      for (let i = 0; i < CLI_RUNS; i++) {
        cli.push(await run(['ip', 'netns', 'exec', fwNs, ...hafw, 'ruleset', 'apply', add(API_RUNS + i)]));
        nftAdds.push(await run(['ip', 'netns', 'exec', NFT_NS, 'nft', ...add(i).split(' ')]));
      }
      const nftRow = { name: `ruleset-add-1/nft-${label}`, value: median(nftAdds), unit: 'ms', note: `nft add rule (process included) into a netns holding ${(rules + chains).toLocaleString('en-US')} rules, median of ${CLI_RUNS}` };
      const apiRow = { name: `ruleset-add-1/hafw-api-${label}`, value: median(api), unit: 'ms', note: `POST /v1/ruleset/transactions on the control socket, ${(rules + chains).toLocaleString('en-US')} rules running, median of ${API_RUNS} (p90 ${percentile(api, 0.9).toFixed(2)} ms; the control engine's commit ${median(engineMs).toFixed(2)} ms of it); target < 1 ms, flat` };
      const base1k = out.find((r) => r.name === 'ruleset-add-1/hafw-api-1k');
      out.push(nftRow, base1k ? withRatio(apiRow, base1k) : apiRow);
      out.push(withRatio({ name: `ruleset-add-1/hafw-cli-${label}`, value: median(cli), unit: 'ms', note: `hafw ruleset apply 'add rule ...' (process included), median of ${CLI_RUNS}` }, nftRow));
    }
  } finally {
    events?.close();
    await shQuiet(['ip', 'netns', 'del', NFT_NS]);
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}
