/**
 * Main-thread handle of a sync worker: starts it, applies what it receives to the node's
 * table (StateSink), tracks inSync for failover, and fetches metrics.
 *
 * Once ready, the worker's death (an uncaught error, or an exit nobody asked for) is not
 * the handle's to repair: it is reported once through `onFailure`, pending requests are
 * rejected, and the owner decides (the node fails stop: docs/security.md). A half-dead
 * sync (the node still holding the VIPs with replication silently gone) is never left.
 */
import { Worker } from 'node:worker_threads';
import type { StateRecord, StateSink } from './state-record.js';
import { APPLIED_BYTES, applyOps, type FromWorker, type SyncWorkerData, type ToWorker } from './worker-messages.js';
import { SlotReader } from './ring.js';
import { syncClock } from './lag.js';

type Batch = { buf: ArrayBuffer; count: number; token: number };

/** Operations applied per event-loop turn of the table's thread. */
const APPLY_SLICE = 4096;

export class SyncWorkerHandle {
  /** Mirrors the worker's endpoint.inSync (failover reads this). */
  inSync = false;
  /** UDP port the worker bound. */
  port = 0;
  ringOverflows = 0;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: Extract<FromWorker, { type: 'metrics' }>) => void; reject: (e: Error) => void }>();
  private stopped: Promise<void> | null = null;
  private exited = false;
  /** Why the worker is gone (set once, on its failure after ready). */
  failure: Error | undefined;
  private onFailure?: (err: Error) => void;

  /** Received operations not applied yet, in arrival order (a resync brings hundreds of thousands). */
  private readonly backlog: (Batch | { inSync: boolean })[] = [];
  private backlogPos = 0;
  private draining = false;
  private sink!: StateSink;
  private onInSync?: (v: boolean) => void;

  private readonly reader = new SlotReader();
  /** Shared with the worker: Int32 [0] last batch applied, Float64 [1] when (syncClock). */
  private readonly appliedToken: Int32Array;
  private readonly appliedTime: Float64Array;

  private constructor(
    private readonly worker: Worker,
    appliedSab: SharedArrayBuffer,
  ) {
    this.appliedToken = new Int32Array(appliedSab, 0, 1);
    this.appliedTime = new Float64Array(appliedSab, 8, 1);
  }

  private enqueue(item: Batch | { inSync: boolean }): void {
    this.backlog.push(item);
    if (!this.draining) {
      this.draining = true;
      this.drain();
    }
  }

  /**
   * Applies the backlog in slices of at most APPLY_SLICE operations, yielding to the event
   * loop between slices: the thread that owns the table (the datapath) keeps forwarding
   * packets and answering requests while a large resync is applied.
   */
  private drain(): void {
    let budget = APPLY_SLICE;
    while (this.backlog.length > 0 && budget > 0) {
      const item = this.backlog[0]!;
      if ('inSync' in item) {
        this.backlog.shift();
        this.inSync = item.inSync;
        this.onInSync?.(item.inSync);
        continue;
      }
      const end = Math.min(item.count, this.backlogPos + budget);
      applyOps(item.buf, this.backlogPos, end, this.sink, this.reader);
      budget -= end - this.backlogPos;
      this.backlogPos = end;
      if (end === item.count) {
        this.backlog.shift();
        this.backlogPos = 0;
        // Time first, then the token (the worker reads the token first): a reader never
        // pairs a token with an earlier batch's time.
        this.appliedTime[0] = syncClock();
        Atomics.store(this.appliedToken, 0, item.token);
        this.send({ type: 'opsBuffer', buf: item.buf }, [item.buf]);
      }
    }
    if (this.backlog.length > 0) setImmediate(() => this.drain());
    else this.draining = false;
  }

  static start(
    data: SyncWorkerData,
    sink: StateSink,
    onInSync?: (v: boolean) => void,
    /** The ring overflowed: dump the local table and call rebuildLocal. */
    onRingOverflow?: () => void,
    /** The worker died after it was ready (called once; not on stop()). */
    onFailure?: (err: Error) => void,
    /** data.tableWalk: the worker asks for `records` more records of a resync walk (LocalWalk). */
    onWalk?: (start: boolean, records: number) => void,
  ): Promise<SyncWorkerHandle> {
    const appliedSab = new SharedArrayBuffer(APPLIED_BYTES);
    // V8's default young generation: an 8 MB one (as the datapath has) showed no saving here:
    // with 1M connections held, this worker's heap kept 38-80 MiB resident after a full GC
    // for the same 36 MiB live, with or without it (scale bench, docs/performance.md).
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { ...data, appliedSab } });
    const h = new SyncWorkerHandle(worker, appliedSab);
    h.sink = sink;
    h.onInSync = onInSync;
    h.onFailure = onFailure;
    return new Promise((resolve, reject) => {
      worker.once('error', reject);
      const earlyExit = (code: number): void => reject(new Error(`sync worker exited with code ${code} before it was ready`));
      worker.once('exit', earlyExit);
      worker.on('exit', () => (h.exited = true));
      worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'ready':
            h.port = m.port;
            worker.off('error', reject);
            worker.off('exit', earlyExit);
            // From now on an error or exit is a failure of a running node's sync.
            worker.on('error', (err) => h.fail(err));
            worker.on('exit', (code) => {
              if (h.stopped === null) h.fail(new Error(`sync worker exited with code ${code}`));
            });
            resolve(h);
            break;
          case 'ops':
            h.enqueue({ buf: m.buf, count: m.count, token: m.token });
            break;
          case 'inSync':
            // After the records that came before it: "in sync" must not be reported while
            // part of the table is still waiting to be applied.
            h.enqueue({ inSync: m.value });
            break;
          case 'ringOverflow':
            h.ringOverflows++;
            // With tableWalk the worker streams a new walk by itself: nothing to dump.
            if (data.tableWalk !== true) onRingOverflow?.();
            break;
          case 'walk':
            onWalk?.(m.start, m.records);
            break;
          case 'metrics':
            h.waiting.get(m.id)?.resolve(m);
            h.waiting.delete(m.id);
            break;
          case 'stopped':
            break;
        }
      });
    });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    // Nothing comes back from a dead worker: no "in sync" may be believed any more.
    this.inSync = false;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    this.onFailure?.(err);
  }

  private send(m: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (this.exited) return;
    this.worker.postMessage(m, transfer);
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
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.send({ type: 'metrics', id });
    });
  }

  stop(): Promise<void> {
    if (this.stopped === null) {
      this.stopped = this.exited ? Promise.resolve() : new Promise((resolve) => {
        this.worker.once('exit', () => resolve());
        this.send({ type: 'stop' });
        setTimeout(() => void this.worker.terminate(), 2000).unref();
      });
    }
    return this.stopped;
  }
}
