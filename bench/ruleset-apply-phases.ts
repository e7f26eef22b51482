/**
 * Where the time of `ruleset-apply-10k/hafw` goes (issue 19), phase by phase, in one
 * process run: on a shared machine only phases measured side by side in the same run
 * compare. Medians of --rounds (default 7) rounds, the phases of one round back to back.
 *
 *   node-start     `node -e 0` (what any Node CLI pays)
 *   cli-help       `hafw ruleset apply --help`: node start + the CLI's import graph for apply
 *   body           JSON.stringify of the PUT body and the server's JSON.parse of it
 *   parse          the control engine's parse of the text alone (included in the next)
 *   control-load   the control engine's load (parse, validate, compile) on an engine
 *                  already running the same ruleset (a replace)
 *   event          JSON.stringify of the replace's change event (every change), which each
 *                  subscriber of GET /v1/events serializes before the event's first byte
 *   to-datapath    structuredClone of the text (what postMessage to the datapath thread copies)
 *   datapath-load  the same load on the datapath thread's engine (measured here on a second
 *                  engine in this thread: the same code on the same input; on the node it
 *                  now runs beside control-load, RulesetEngine.prepareLoad)
 *   effect-warn    the effect warnings after the replace (EffectWarningsCache)
 *   lockout-probe  the lock-out check's probe engine: one more load of the text, then its probe
 *
 * Usage: node dist/bench/ruleset-apply-phases.js [--rounds N]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RulesetEngine } from '../node/ruleset/index.js';
import { EffectWarningsCache } from '../node/datapath/control/effect-warnings-cache.js';
import { lockoutWarnings } from '../node/datapath/control/lockout-check.js';
import { chainsRuleset } from './ruleset-gen.js';

const HAFW = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'hafw.js');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timed<T>(f: () => T): [number, T] {
  const t0 = performance.now();
  const r = f();
  return [performance.now() - t0, r];
}

function spawnMs(argv: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}`);
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--rounds');
  const rounds = i > 0 ? Number(process.argv[i + 1]) : 7;
  const text = chainsRuleset(1000, 10);
  const dir = await mkdtemp(path.join(tmpdir(), 'hafw-phases-'));
  const file = path.join(dir, 'r.nft');
  await writeFile(file, text);
  const control = new RulesetEngine();
  const datapath = new RulesetEngine();
  control.load(text, '<warm>');
  datapath.load(text, '<warm>');
  const effect = new EffectWarningsCache(control, { interfaces: ['eth0', 'eth1'] } as never);
  effect.warnings();
  const phases: Record<string, number[]> = {};
  const add = (k: string, ms: number): void => void (phases[k] ??= []).push(ms);
  try {
    for (let r = 0; r < rounds; r++) {
      add('node-start', spawnMs([process.execPath, '-e', '0']));
      add('cli-help', spawnMs([process.execPath, HAFW, 'ruleset', 'apply', '--help']));
      const [b] = timed(() => JSON.parse(JSON.stringify({ text })));
      add('body', b);
      add('parse', timed(() => (control as unknown as { parse(t: string, f: string): unknown }).parse(text, '<api>'))[0]);
      const [loadMs, committed] = timed(() => control.load(text, '<api>'));
      add('control-load', loadMs);
      add('event', timed(() => JSON.stringify({ generation: committed.generation, changes: committed.changes }).length)[0]);
      add('to-datapath', timed(() => structuredClone(text))[0]);
      add('datapath-load', timed(() => datapath.load(text, '<api>'))[0]);
      add('effect-warn', timed(() => effect.warnings())[0]);
      add('lockout-probe', timed(() => {
        const probe = new RulesetEngine();
        probe.load(text, '<lock-out probe>');
        return lockoutWarnings(probe, { listen: { host: '127.0.0.1', port: 8443 }, sources: ['192.0.2.0/24'], addresses: [{ ifname: 'eth0', family: 4, bytes: [192, 0, 2, 1], vip: false }], routes: [], interfaces: ['eth0', 'eth1'] } as never);
      })[0]);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  for (const [k, xs] of Object.entries(phases)) {
    console.log(`${k.padEnd(14)} ${median(xs).toFixed(1).padStart(8)} ms  (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`);
  }
}

await main();
