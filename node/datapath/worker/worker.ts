/**
 * The datapath thread's entry (started by control/datapath-thread.ts): adapts the worker
 * thread's workerData and parentPort to buildDatapath (datapath.ts) and opens the TUN device.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildDatapath } from './datapath.js';
import { TunPacketDevice } from './tun-device.js';
import type { DatapathWorkerData, FromDatapath, ToDatapath } from '../shared/messages.js';

const port = parentPort!;
const datapath = await buildDatapath(workerData as DatapathWorkerData, {
  send: (m: FromDatapath) => port.postMessage(m),
  openDevice: (d) => new TunPacketDevice({ tunName: d.tunName, offloads: d.offloads, maxBatchesPerWake: d.maxBatchesPerWake, nativeStats: d.nativeStats, inputs: d.inputDevices }),
});
port.on('message', (m: ToDatapath) => {
  datapath.handle(m);
  // After `stopped` went out: the port is what keeps the thread alive.
  if (m.type === 'stop') port.close();
});
