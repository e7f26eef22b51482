/**
 * Preloaded into the lab's nodes by the scale bench only (`--import`, which runs in every
 * thread of the node: main, datapath, sync worker, VRRP advert sender): answers "where is
 * the memory" per thread, which /proc sees only for the process as a whole.
 *
 * Each thread polls `<HAFW_MEM_PROBE>/<pid>.req` (a request id) every 100 ms; on a new id it
 * writes `<dir>/<pid>.<threadId>.json` with its isolate's figures (process.memoryUsage and
 * v8 heap statistics: heap, ArrayBuffers, malloc'd) and, in the datapath thread, the
 * connection table's array bytes. A node started any other way never loads this file.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { getHeapStatistics, setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread, threadId, workerData } from 'node:worker_threads';
import { onDatapathStart } from '../node/datapath/worker/extensions.js';
import type { ConnTracker } from '../node/conntrack/index.js';

export interface ThreadMemory {
  thread: string;
  threadId: number;
  /** V8 heap reserved / used / resident (total_physical_size). */
  heapTotal: number;
  heapUsed: number;
  heapPhysical: number;
  /** ArrayBuffers and SharedArrayBuffers allocated by this isolate (allocated, not necessarily resident). */
  arrayBuffers: number;
  /** Memory V8 itself malloc'd (compiler zones, ...). */
  malloced: number;
  /** Datapath: the conntrack table's typed arrays (allocated for maxEntries) and its live entries. */
  tableBytes?: number;
  /** Of tableBytes, those written so far (ConnTable.touchedBytes). */
  tableTouched?: number;
  tableLive?: number;
  tableCap?: number;
}

function threadName(): string {
  if (isMainThread) return 'main';
  const d = (workerData ?? {}) as Record<string, unknown>;
  if ('ringSab' in d) return 'sync';
  if ('conntrack' in d || 'batchSize' in d) return 'datapath';
  return 'worker';
}

function fullGc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const dir = process.env.HAFW_MEM_PROBE;
if (dir) {
  let ct: ConnTracker | undefined;
  onDatapathStart((c) => {
    ct = c.ct;
  });
  const reqFile = `${dir}/${process.pid}.req`;
  let last = '';
  setInterval(() => {
    let id: string;
    try {
      id = readFileSync(reqFile, 'utf8').trim();
    } catch {
      return;
    }
    if (id === last) return;
    last = id;
    // "<n> gc": collect garbage first, so the figures are what the thread holds, not what it
    // has not yet collected; "<n> gc snap": also write a heap snapshot of the thread.
    if (/\bgc\b/.test(id)) fullGc();
    if (/\bsnap\b/.test(id)) writeHeapSnapshot(`${dir}/${process.pid}.${threadId}.heapsnapshot`);
    const m = process.memoryUsage();
    const h = getHeapStatistics();
    const out: ThreadMemory & { id: string } = {
      id,
      thread: threadName(),
      threadId,
      heapTotal: m.heapTotal,
      heapUsed: m.heapUsed,
      heapPhysical: h.total_physical_size,
      arrayBuffers: m.arrayBuffers,
      malloced: h.malloced_memory,
    };
    if (ct) Object.assign(out, { tableBytes: ct.table.byteSize(), tableTouched: ct.table.touchedBytes, tableLive: ct.count(), tableCap: ct.capacity });
    const file = `${dir}/${process.pid}.${threadId}.json`;
    writeFileSync(`${file}.tmp`, JSON.stringify(out));
    renameSync(`${file}.tmp`, file);
  }, 100).unref();
}
