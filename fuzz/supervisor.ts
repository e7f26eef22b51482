/**
 * Runs one target for a bounded time in a worker thread and watches it: an input that runs
 * longer than the target's bound is a hang (the thread is stopped), a thread that runs out
 * of its heap limit is a memory finding; either way the input is read from the shared slot
 * and the run goes on in a new thread with the next seed until the time is up.
 */
import { Worker } from 'node:worker_threads';
import { CurrentSlot } from './loop.js';
import type { WorkerData, WorkerMessage } from './worker.js';
import type { FindingKind, FuzzTarget } from './target.js';

export interface SupervisedFinding {
  kind: FindingKind;
  input: Uint8Array;
  error?: { name: string; message: string; stack?: string };
  signature: string;
  /** Slug of the known issue it belongs to, if any (see KnownIssue). */
  known?: string;
}

export interface TargetRun {
  target: string;
  seconds: number;
  execs: number;
  outcomes: number;
  restarts: number;
  findings: SupervisedFinding[];
  novel: { label: string; input: Uint8Array }[];
}

export interface SuperviseOptions {
  seconds: number;
  seed: number;
  maxRuns?: number;
  maxBytes?: number;
  /** Heap limit of the worker thread (MB). */
  heapMb?: number;
  /** Novel inputs to hand back for the corpus. */
  keep?: number;
  onProgress?(execs: number): void;
}

const SETUP_LIMIT_MS = 60_000;

export async function superviseTarget(target: FuzzTarget, o: SuperviseOptions): Promise<TargetRun> {
  const t0 = Date.now();
  const until = t0 + o.seconds * 1000;
  const timeoutMs = target.timeoutMs ?? 2000;
  const run: TargetRun = { target: target.name, seconds: 0, execs: 0, outcomes: 0, restarts: 0, findings: [], novel: [] };
  const seen = new Set<string>();
  const add = (f: Omit<SupervisedFinding, 'known'>) => {
    if (seen.has(f.signature)) return;
    seen.add(f.signature);
    const known = target.known?.find((k) => k.matches(f));
    run.findings.push(known ? { ...f, known: known.slug } : f);
  };
  let seed = o.seed;
  // A new thread after each hang or blowup, with the next seed, while time remains.
  for (let attempt = 0; attempt < 20; attempt++) {
    const slot = CurrentSlot.create();
    const data: WorkerData = { target: target.name, seed, until, maxRuns: o.maxRuns, maxBytes: o.maxBytes, keep: o.keep ?? 0, sab: slot.sab };
    const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: data, resourceLimits: { maxOldGenerationSizeMb: o.heapMb ?? 1024 } });
    const execsBase = run.execs;
    const ended = await new Promise<'done' | 'hang' | 'memory' | 'crashed'>((resolve) => {
      let ready = false;
      let finished = false;
      const finish = (how: 'done' | 'hang' | 'memory' | 'crashed') => {
        if (finished) return;
        finished = true;
        clearInterval(watch);
        resolve(how);
      };
      const watch = setInterval(() => {
        const since = slot.runningSince();
        const now = Date.now();
        if ((since !== undefined && now - since > timeoutMs) || (!ready && now - t0 > SETUP_LIMIT_MS + o.seconds * 1000)) {
          const input = slot.input() ?? new Uint8Array(0);
          add({ kind: 'hang', input, signature: `hang ${since !== undefined ? `> ${timeoutMs} ms` : 'in setup'}`, error: { name: 'Hang', message: `no answer after ${timeoutMs} ms` } });
          void w.terminate().then(() => finish('hang'));
        }
      }, 50);
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') ready = true;
        else if (m.type === 'finding') add({ kind: 'crash', input: new Uint8Array(m.input), error: m.error, signature: m.signature });
        else if (m.type === 'stats') {
          run.execs = execsBase + m.execs;
          run.outcomes = Math.max(run.outcomes, m.outcomes);
          o.onProgress?.(run.execs);
        } else if (m.type === 'novel') run.novel.push(...m.inputs.map((x) => ({ label: x.label, input: new Uint8Array(x.input) })));
        else if (m.type === 'done') finish('done');
      });
      w.on('error', (err: Error & { code?: string }) => {
        if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          add({ kind: 'memory', input: slot.input() ?? new Uint8Array(0), signature: 'memory: heap limit reached', error: { name: 'OutOfMemory', message: err.message } });
          finish('memory');
        } else {
          // The harness itself failed (a target's setup threw): a finding, and the end of this target.
          add({ kind: 'crash', input: new Uint8Array(0), signature: `harness: ${err.message}`, error: { name: err.name, message: err.message, stack: err.stack } });
          finish('crashed');
        }
      });
      w.on('exit', () => finish('done'));
    });

    if (ended === 'done' || ended === 'crashed' || Date.now() >= until) break;
    run.restarts++;
    seed = (seed + 0x9e3779b9) >>> 0;
  }
  run.seconds = (Date.now() - t0) / 1000;
  return run;
}
