/**
 * The sync worker thread: endpoint + UDP transport + event ring + metrics, nothing else.
 * Start it with `new Worker(new URL('./worker.js', import.meta.url), { workerData })` (see
 * worker-host.ts). Runs on the compiled output (tsx loaders fail on worker .ts files, DESIGN §8).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SyncEndpoint } from './endpoint.js';
import { EventRing } from './ring.js';
import { SyncRunner } from './runner.js';
import { UdpTransport } from './transport-udp.js';
import { SyncMetrics } from './metrics.js';
import { syncClock } from './lag.js';
import { syncStatus } from './stats-format.js';
import type { StateRecord, StateSink } from './state-record.js';
import type { FromWorker, SinkOp, SyncWorkerData, ToWorker } from './worker-messages.js';

if (parentPort === null) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;
const data = workerData as SyncWorkerData;
const post = (m: FromWorker) => port.postMessage(m);

let ops: SinkOp[] = [];
let flushQueued = false;
function queue(op: SinkOp): void {
  ops.push(op);
  if (!flushQueued) {
    flushQueued = true;
    setImmediate(() => {
      flushQueued = false;
      const batch = ops;
      ops = [];
      post({ type: 'ops', ops: batch });
    });
  }
}

const sink: StateSink = {
  apply: (owner: number, rec: StateRecord, ageMs: number) => queue({ op: 'apply', owner, rec, ageMs }),
  resyncBegin: (owner: number) => queue({ op: 'begin', owner }),
  resyncEnd: (owner: number) => queue({ op: 'end', owner }),
};

const endpoint = new SyncEndpoint({ ...data.config, key: new Uint8Array(data.config.key) }, sink);
const ring = new EventRing(data.ringSab);
const metrics = new SyncMetrics();
if (data.metricLabels) metrics.registry.setDefaultLabels(data.metricLabels);
let runner: SyncRunner | null = null;
const transport = await UdpTransport.open(data.transport, (m) => runner?.onDatagram(m));
runner = new SyncRunner(endpoint, transport, ring, {
  pollMs: data.pollMs ?? 1,
  onRingOverflow: () => post({ type: 'ringOverflow' }),
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
    const status = syncStatus(endpoint, ring); // before update() drains the lag samples
    metrics.update(endpoint, ring);
    post({ type: 'metrics', id: m.id, metrics: await metrics.registry.getMetricsAsJSON(), peers: endpoint.peerStatus(), status });
  } else if (m.type === 'localTable') {
    endpoint.rebuildLocal(m.records, m.dumpTime, syncClock());
  } else if (m.type === 'peers') {
    transport.setPeers(m.peers);
  } else if (m.type === 'stop') {
    clearInterval(status);
    runner?.stop();
    await transport.close();
    post({ type: 'stopped' });
    port.close();
  }
});
post({ type: 'ready', port: transport.port });
