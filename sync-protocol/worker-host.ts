/**
 * Main-thread handle of a sync worker: starts it, applies what it receives to the node's
 * table (StateSink), tracks inSync for failover, and fetches metrics.
 */
import { Worker } from 'node:worker_threads';
import type { StateRecord, StateSink } from './state-record.js';
import { applySinkOps, type FromWorker, type SyncWorkerData, type ToWorker } from './worker-messages.js';

export class SyncWorkerHandle {
  /** Mirrors the worker's endpoint.inSync (failover reads this). */
  inSync = false;
  /** UDP port the worker bound. */
  port = 0;
  ringOverflows = 0;
  private nextId = 1;
  private readonly waiting = new Map<number, (m: Extract<FromWorker, { type: 'metrics' }>) => void>();
  private stopped: Promise<void> | null = null;

  private constructor(private readonly worker: Worker) {}

  static start(
    data: SyncWorkerData,
    sink: StateSink,
    onInSync?: (v: boolean) => void,
    /** The ring overflowed: dump the local table and call rebuildLocal. */
    onRingOverflow?: () => void,
  ): Promise<SyncWorkerHandle> {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: data });
    const h = new SyncWorkerHandle(worker);
    return new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'ready':
            h.port = m.port;
            worker.off('error', reject);
            resolve(h);
            break;
          case 'ops':
            applySinkOps(m.ops, sink);
            break;
          case 'inSync':
            h.inSync = m.value;
            onInSync?.(m.value);
            break;
          case 'ringOverflow':
            h.ringOverflows++;
            onRingOverflow?.();
            break;
          case 'metrics':
            h.waiting.get(m.id)?.(m);
            h.waiting.delete(m.id);
            break;
          case 'stopped':
            break;
        }
      });
    });
  }

  private send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  /** After a ring overflow: hand the worker a full dump of the local table taken at `dumpTime` (syncClock). */
  rebuildLocal(records: StateRecord[], dumpTime: number): void {
    this.send({ type: 'localTable', records, dumpTime });
  }

  setPeers(peers: { address: string; port: number }[]): void {
    this.send({ type: 'peers', peers });
  }

  /** prom-client JSON metrics (merge several with AggregatorRegistry.aggregate) and per-peer status. */
  metrics(): Promise<Extract<FromWorker, { type: 'metrics' }>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.send({ type: 'metrics', id });
    });
  }

  stop(): Promise<void> {
    if (this.stopped === null) {
      this.stopped = new Promise((resolve) => {
        this.worker.once('exit', () => resolve());
        this.send({ type: 'stop' });
        setTimeout(() => void this.worker.terminate(), 2000).unref();
      });
    }
    return this.stopped;
  }
}
