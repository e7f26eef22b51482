/** Messages between the control thread and the datapath thread. */
export interface DatapathWorkerData {
  tunName: string;
  offloads: boolean;
  batchSize: number;
  maxBatchesPerWake: number;
  counters: SharedArrayBuffer;
  nativeStats: SharedArrayBuffer;
}

export type ToDatapath = { type: 'stop' };

export type FromDatapath =
  | { type: 'ready'; tunName: string; vnetHdrLen: number }
  | { type: 'error'; message: string }
  | { type: 'stopped' };
