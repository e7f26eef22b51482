/**
 * Control-thread handle on the datapath worker: starts it, waits until the TUN device is
 * open, exposes the shared counters, feeds it routes and ruleset changes, stops it.
 */
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { createCounterBuffer, readCounters } from './counters.js';
import { NativeStat } from '../native/index.js';
import type { PlainRoute } from './route-source.js';
import type { DatapathConntrackSettings, DatapathWorkerData, FromDatapath, ToDatapath } from './messages.js';

export interface DatapathThreadOptions {
  tunName: string;
  offloads: boolean;
  batchSize: number;
  maxBatchesPerWake: number;
  conntrack?: DatapathConntrackSettings;
  routes: PlainRoute[];
  sniffInterfaces?: string[];
}

export interface DatapathRulesetResult {
  ok: boolean;
  generation: number;
  error?: string;
}

export class DatapathThread {
  private readonly worker: Worker;
  private readonly counterBuf = createCounterBuffer();
  private readonly nativeBuf = new SharedArrayBuffer(NativeStat.Count * 8);
  private exited = false;
  private stopping = false;
  private nextId = 1;
  private readonly waiting = new Map<number, (r: DatapathRulesetResult) => void>();
  vnetHdrLen = 0;

  private constructor(opts: DatapathThreadOptions) {
    const data: DatapathWorkerData = { ...opts, counters: this.counterBuf, nativeStats: this.nativeBuf };
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: data, name: 'hafw-datapath' });
    this.worker.once('exit', () => {
      this.exited = true;
      for (const w of this.waiting.values()) w({ ok: false, generation: -1, error: 'datapath thread exited' });
      this.waiting.clear();
    });
  }

  /** Starts the worker; resolves once the TUN device is open, rejects with its error. */
  static async start(opts: DatapathThreadOptions, onUnexpectedExit?: (err: Error) => void): Promise<DatapathThread> {
    const t = new DatapathThread(opts);
    const first = await new Promise<FromDatapath>((resolve, reject) => {
      t.worker.once('message', resolve);
      t.worker.once('error', reject);
      t.worker.once('exit', (code) => reject(new Error(`datapath thread exited with code ${code} before it was ready`)));
    });
    if (first.type === 'error') {
      await t.worker.terminate();
      throw new Error(first.message);
    }
    if (first.type !== 'ready') throw new Error(`datapath thread: unexpected first message ${first.type}`);
    t.vnetHdrLen = first.vnetHdrLen;
    t.worker.on('message', (m: FromDatapath) => {
      if (m.type === 'ruleset-result') {
        t.waiting.get(m.id)?.(m);
        t.waiting.delete(m.id);
      }
    });
    t.worker.on('error', (err) => onUnexpectedExit?.(err));
    t.worker.on('exit', (code) => {
      if (!t.stopping) onUnexpectedExit?.(new Error(`datapath thread exited with code ${code}`));
    });
    return t;
  }

  private post(m: ToDatapath): void {
    this.worker.postMessage(m);
  }

  private request(build: (id: number) => ToDatapath): Promise<DatapathRulesetResult> {
    if (this.exited) return Promise.resolve({ ok: false, generation: -1, error: 'datapath thread is not running' });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.post(build(id));
    });
  }

  /** Replaces the datapath's whole ruleset (undefined: none). */
  loadRuleset(text: string | undefined, file?: string): Promise<DatapathRulesetResult> {
    return this.request((id) => ({ type: 'ruleset-load', id, text, file }));
  }

  transaction(ops: unknown, baseGeneration?: number): Promise<DatapathRulesetResult> {
    return this.request((id) => ({ type: 'ruleset-tx', id, ops, baseGeneration }));
  }

  /** Sniff mode: watch the segments (standby) or stop (active). */
  setSniffing(active: boolean): void {
    if (!this.exited) this.post({ type: 'sniff', active });
  }

  setRoutes(routes: PlainRoute[]): void {
    if (!this.exited) this.post({ type: 'routes', routes });
  }

  counters(): ReturnType<typeof readCounters> {
    return readCounters(this.counterBuf);
  }

  nativeStats(): { wakeups: number; batches: number; readErrors: number; writeErrors: number; written: number } {
    const v = new Float64Array(this.nativeBuf);
    return {
      wakeups: v[NativeStat.Wakeups],
      batches: v[NativeStat.Batches],
      readErrors: v[NativeStat.ReadErrors],
      writeErrors: v[NativeStat.WriteErrors],
      written: v[NativeStat.Written],
    };
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    this.stopping = true;
    this.post({ type: 'stop' });
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await once(this.worker, 'exit');
    clearTimeout(timer);
  }
}
