/**
 * Test fixture for thread-priority.test.ts (not loaded by the node): builds the datapath in
 * a worker thread of its own, as worker.ts does, on a memory device, with the workerData's
 * `nice`, then reports the 'ready' message and this thread's nice value as the kernel has it.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { buildDatapath } from './datapath.js';
import { MemoryDevice } from './memory-device.js';
import { memoryWorkerData } from './memory-datapath.js';
import type { FromDatapath } from '../shared/messages.js';
import { threadNiceOf } from './thread-priority.js';

const sent: FromDatapath[] = [];
const dp = await buildDatapath(memoryWorkerData([], { nice: (workerData as { nice?: number }).nice }), {
  send: (m) => sent.push(m),
  openDevice: (d) => new MemoryDevice({ name: d.tunName, vnetHdrLen: 10 }),
});
const tid = readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0];
parentPort!.postMessage({ ready: sent.find((m) => m.type === 'ready'), tid: Number(tid), nice: threadNiceOf('thread-self') });
dp.handle({ type: 'stop' });
