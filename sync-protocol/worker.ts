/**
 * The sync worker thread: endpoint + UDP transport + event ring + metrics, nothing else.
 * Start it with `new Worker(new URL('./worker.js', import.meta.url), { workerData })` (see
 * worker-host.ts). Runs on the compiled output (tsx loaders fail on worker .ts files, DESIGN §8).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SyncEndpoint } from './endpoint.js';
import { EventRing } from './ring.js';
import { SyncRunner } from './runner.js';
import { UdpTransport } from './udp-transport.js';
import { SyncMetrics } from './metrics.js';
import { syncClock } from './lag.js';
import { syncStatus } from './stats-format.js';
import type { StateRecord, StateSink } from './state-record.js';
import { APPLIED_BYTES, OpBatchWriter, type FromWorker, type SyncWorkerData, type ToWorker } from './worker-messages.js';

if (parentPort === null) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;
const data = workerData as SyncWorkerData;
const post = (m: FromWorker) => port.postMessage(m);

// Received records go to the table's thread in one binary batch per event-loop turn
// (setImmediate runs right after the poll phase that read the datagrams).
const ops = new OpBatchWriter();
let posted = 0;
let flushQueued = false;
function queued(): void {
  if (flushQueued) return;
  flushQueued = true;
  setImmediate(() => {
    flushQueued = false;
    if (ops.count === 0) return;
    const { buf, count } = ops.take();
    posted++;
    port.postMessage({ type: 'ops', buf, count, token: posted } satisfies FromWorker, [buf]);
  });
}

// When the table's thread applied batch n (see SyncWorkerData.appliedSab).
const appliedSab = data.appliedSab ?? new SharedArrayBuffer(APPLIED_BYTES);
const appliedToken = new Int32Array(appliedSab, 0, 1);
const appliedTime = new Float64Array(appliedSab, 8, 1);

const sink: StateSink = {
  apply: (owner: number, rec: StateRecord, ageMs: number) => {
    ops.apply(owner, rec, ageMs);
    queued();
  },
  applySlot: (owner: number, _view: DataView, bytes: Uint8Array, o: number, ageMs: number) => {
    ops.applySlot(owner, bytes, o, ageMs);
    queued();
  },
  resyncBegin: (owner: number) => {
    ops.begin(owner);
    queued();
  },
  resyncEnd: (owner: number) => {
    ops.end(owner);
    queued();
  },
  // The batch the records given so far travel in, and when it was applied: the time read
  // is that of the newest batch applied, never earlier than the asked one's (lag errs high).
  applyToken: () => posted + 1,
  appliedAt: (token: number) => (Atomics.load(appliedToken, 0) >= token ? appliedTime[0]! : NaN),
};

// tableWalk: no copy of the table here; resyncs read it where it lives (LocalWalk).
const walk = data.tableWalk === true ? { request: (start: boolean, records: number) => post({ type: 'walk', start, records }) } : undefined;
const endpoint = new SyncEndpoint({ ...data.config, key: new Uint8Array(data.config.key) }, sink, walk);
const ring = new EventRing(data.ringSab);
const metrics = new SyncMetrics();
if (data.metricLabels) metrics.registry.setDefaultLabels(data.metricLabels);
let runner: SyncRunner | null = null;
const transport = await UdpTransport.open(data.transport, (m, from) => runner?.onDatagram(m, from.address));
runner = new SyncRunner(endpoint, transport, ring, {
  pollMs: data.pollMs,
  onRingOverflow: () => {
    // With tableWalk the walk reads the table itself: no dump to wait for.
    if (walk !== undefined) endpoint.rebuildLocal(null, syncClock(), syncClock());
    post({ type: 'ringOverflow' });
  },
});
runner.start();

let lastInSync = false;
const status = setInterval(() => {
  if (endpoint.inSync !== lastInSync) {
    lastInSync = endpoint.inSync;
    post({ type: 'inSync', value: lastInSync });
  }
}, 10);

port.on('message', async (m: ToWorker) => {
  if (m.type === 'metrics') {
    const status = syncStatus(endpoint, ring);
    metrics.update(endpoint, ring);
    post({ type: 'metrics', id: m.id, metrics: await metrics.registry.getMetricsAsJSON(), peers: endpoint.peerStatus(), status });
  } else if (m.type === 'localTable') {
    endpoint.rebuildLocal(m.records, m.dumpTime, syncClock());
  } else if (m.type === 'opsBuffer') {
    ops.recycle(m.buf);
  } else if (m.type === 'peers') {
    transport.setPeers(m.peers);
  } else if (m.type === 'stop') {
    clearInterval(status);
    // A clean stop is a leave: the peers stop counting this node now, and say it left.
    runner?.leave();
    await transport.close();
    post({ type: 'stopped' });
    port.close();
  }
});
post({ type: 'ready', port: transport.port });
