/**
 * The thread one target is fuzzed in (started by supervisor.ts): a hang or a memory blowup
 * can then be stopped from outside (Worker.terminate, resourceLimits) without losing the
 * run, and the supervisor reads the input that caused it from the shared slot.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { targetNamed } from './targets/index.js';
import { CurrentSlot, fuzzLoop } from './loop.js';

export interface WorkerData {
  target: string;
  seed: number;
  until: number;
  maxRuns?: number;
  maxBytes?: number;
  keep: number;
  sab: SharedArrayBuffer;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'finding'; input: Uint8Array; error: { name: string; message: string; stack?: string }; signature: string }
  | { type: 'stats'; execs: number; pool: number; outcomes: number; crashes: number }
  | { type: 'novel'; inputs: { label: string; input: Uint8Array }[] }
  | { type: 'done' };

const d = workerData as WorkerData;
const post = (m: WorkerMessage) => parentPort!.postMessage(m);
const target = targetNamed(d.target);
const runner = await target.setup();
post({ type: 'ready' });
await fuzzLoop(target, runner, {
  seed: d.seed,
  until: d.until,
  maxRuns: d.maxRuns,
  maxBytes: d.maxBytes,
  slot: new CurrentSlot(d.sab),
  onFinding: (f) => post({ type: 'finding', ...f }),
  onStats: (s) => post({ type: 'stats', ...s }),
  onNovel: (inputs) => {
    if (d.keep <= 0 || inputs.length === 0) return;
    // An even spread over the run: early finds are simple, late ones deep.
    const step = Math.max(1, inputs.length / d.keep);
    const kept = [];
    for (let i = 0; i < inputs.length && kept.length < d.keep; i += step) kept.push(inputs[Math.floor(i)]!);
    post({ type: 'novel', inputs: kept });
  },
});
await runner.close?.();
post({ type: 'done' });
