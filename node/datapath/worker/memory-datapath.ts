/**
 * Test helper: the whole datapath thread built in-process on a MemoryDevice (no TUN, no
 * root, no worker thread), with a small routing table the test gives. Not used by the node.
 */
import assert from 'node:assert/strict';
import { NativeStat } from '../../native/index.js';
import { createCounterBuffer } from '../shared/counters.js';
import type { DatapathWorkerData, FromDatapath, PlainRoute, ToDatapath } from '../shared/messages.js';
import { buildDatapath, type Datapath } from './datapath.js';
import { MemoryDevice } from './memory-device.js';

export interface MemoryDatapath {
  dp: Datapath;
  dev: MemoryDevice;
  data: DatapathWorkerData;
  /** Every message the datapath sent to its control thread, in order. */
  sent: FromDatapath[];
  /** Sends a request and returns the answer with its id (every answer here is synchronous). */
  ask(m: ToDatapath & { id: number }): FromDatapath;
}

/** The worker data the node would give, with a 1024-entry strict conntrack table. */
export function memoryWorkerData(routes: PlainRoute[], extra: Partial<DatapathWorkerData> = {}): DatapathWorkerData {
  return {
    tunName: 'hafw0',
    offloads: true,
    batchSize: 8,
    maxBatchesPerWake: 4,
    counters: createCounterBuffer(),
    nativeStats: new SharedArrayBuffer(NativeStat.Count * 8),
    conntrack: { maxEntries: 1024, tcpLoose: false, tcpBeLiberal: false, timeouts: {} },
    routes,
    ...extra,
  };
}

export async function buildMemoryDatapath(routes: PlainRoute[], extra: Partial<DatapathWorkerData> = {}): Promise<MemoryDatapath> {
  const data = memoryWorkerData(routes, extra);
  const sent: FromDatapath[] = [];
  let dev: MemoryDevice | undefined;
  const dp = await buildDatapath(data, {
    send: (m) => sent.push(m),
    openDevice: (d) => (dev = new MemoryDevice({ name: d.tunName, vnetHdrLen: 10, inputs: d.inputDevices?.map((i) => i.ifname) })),
  });
  return {
    dp, dev: dev!, data, sent,
    ask(m) {
      dp.handle(m);
      const a = sent.find((x) => 'id' in x && x.id === m.id);
      assert.ok(a, `no answer to ${m.type}`);
      return a;
    },
  };
}
