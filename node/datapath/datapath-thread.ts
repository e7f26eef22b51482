/**
 * Control-thread handle on the datapath worker: starts it, waits until the TUN device is
 * open, exposes the shared counters, feeds it routes and ruleset changes, stops it.
 */
import type { PlainAddress } from './local-addresses.js';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { createCounterBuffer, readCounters } from './counters.js';
import { NativeStat } from '../native/index.js';
import type { PlainRoute } from './route-source.js';
import type { CtOp, CtOpResult } from '../conntrack/index.js';
import type { ReassemblyLimits } from './reassembly.js';
import type { DatapathConntrackSettings, DatapathSyncSettings, DatapathWorkerData, FromDatapath, SyncReport, ToDatapath } from './messages.js';

export interface DatapathThreadOptions {
  tunName: string;
  offloads: boolean;
  batchSize: number;
  maxBatchesPerWake: number;
  conntrack?: DatapathConntrackSettings;
  routes: PlainRoute[];
  sniffInterfaces?: string[];
  sync?: DatapathSyncSettings;
  fragments?: ReassemblyLimits;
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
  private readonly waiting = new Map<number, (m: FromDatapath) => void>();
  vnetHdrLen = 0;
  /** Last inSync the sync worker reported (false until it reports; undefined: no sync). */
  syncInSync: boolean | undefined;
  private readonly inSyncListeners: ((v: boolean) => void)[] = [];

  private constructor(opts: DatapathThreadOptions) {
    const data: DatapathWorkerData = { ...opts, counters: this.counterBuf, nativeStats: this.nativeBuf };
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: data, name: 'hafw-datapath' });
    this.worker.once('exit', () => {
      this.exited = true;
      for (const [id, w] of this.waiting) w({ type: 'ruleset-result', id, ok: false, generation: -1, error: 'datapath thread exited' });
      this.waiting.clear();
    });
  }

  /** Starts the worker; resolves once the TUN device is open, rejects with its error. */
  static async start(opts: DatapathThreadOptions, onUnexpectedExit?: (err: Error) => void): Promise<DatapathThread> {
    const t = new DatapathThread(opts);
    const first = await new Promise<FromDatapath>((resolve, reject) => {
      const onMessage = (m: FromDatapath): void => {
        if (m.type === 'sync-inSync') t.syncInSync = m.value;
        else {
          t.worker.off('message', onMessage);
          resolve(m);
        }
      };
      t.worker.on('message', onMessage);
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
      if (m.type === 'sync-inSync') {
        t.syncInSync = m.value;
        for (const l of t.inSyncListeners) l(m.value);
      } else if ('id' in m) {
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

  private ask(build: (id: number) => ToDatapath): Promise<FromDatapath> {
    if (this.exited) return Promise.resolve({ type: 'ruleset-result', id: 0, ok: false, generation: -1, error: 'datapath thread is not running' });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.post(build(id));
    });
  }

  private async request(build: (id: number) => ToDatapath): Promise<DatapathRulesetResult> {
    const m = await this.ask(build);
    return m.type === 'ruleset-result' ? m : { ok: false, generation: -1, error: `unexpected answer ${m.type}` };
  }

  /** State sync's figures (null when sync is off). */
  async syncReport(): Promise<SyncReport | null> {
    const m = await this.ask((id) => ({ type: 'sync-report', id }));
    return m.type === 'sync-report' ? m.report : null;
  }

  /** Connections in the table, and how many of them are replicas of a peer's. */
  async ctCount(): Promise<{ total: number; replicated: number; capacity: number }> {
    const m = await this.ask((id) => ({ type: 'ct-count', id }));
    return m.type === 'ct-count' ? { total: m.total, replicated: m.replicated, capacity: m.capacity } : { total: 0, replicated: 0, capacity: 0 };
  }

  /** A connection-table query or delete (API); rejects with the datapath's error (`field` names a bad filter field). */
  async ctOp(op: CtOp): Promise<CtOpResult> {
    const m = await this.ask((id) => ({ type: 'ct-op', id, op }));
    if (m.type !== 'ct-op') throw Object.assign(new Error(m.type === 'ruleset-result' ? (m.error ?? 'datapath thread is not running') : `unexpected answer ${m.type}`), { field: '' });
    if (m.error) throw Object.assign(new Error(m.error.message), { field: m.error.field });
    return m.result!;
  }

  onInSync(cb: (v: boolean) => void): void {
    this.inSyncListeners.push(cb);
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

  /** The node's own addresses, VIPs flagged (see local-addresses.ts). */
  setAddresses(list: PlainAddress[]): void {
    if (!this.exited) this.post({ type: 'addresses', list });
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
