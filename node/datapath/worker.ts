/**
 * The datapath thread: owns the TUN device and the packet loop and does nothing else
 * (DESIGN §3). The control thread talks to it by messages; counters travel through shared
 * memory so reading them never disturbs the loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TunLoop } from './tun-loop.js';
import { PassThroughStage } from './stage.js';
import type { DatapathWorkerData, ToDatapath, FromDatapath } from './messages.js';

const data = workerData as DatapathWorkerData;
const port = parentPort!;
const send = (m: FromDatapath): void => port.postMessage(m);

let loop: TunLoop | undefined;
try {
  loop = new TunLoop({
    tunName: data.tunName,
    offloads: data.offloads,
    batchSize: data.batchSize,
    maxBatchesPerWake: data.maxBatchesPerWake,
    counters: data.counters,
    nativeStats: data.nativeStats,
    stage: new PassThroughStage(),
  });
  loop.start();
  send({ type: 'ready', tunName: loop.device.name, vnetHdrLen: loop.device.vnetHdrLen });
} catch (err) {
  send({ type: 'error', message: (err as Error).message });
}

port.on('message', (m: ToDatapath) => {
  if (m.type === 'stop') {
    loop?.close();
    loop = undefined;
    send({ type: 'stopped' });
    port.close();
  }
});
