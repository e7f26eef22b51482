/**
 * Messages between the sync worker thread and the thread that owns the table. Records
 * received from peers cross as one batch of operations per worker turn (never one
 * postMessage per event: that tops out near 0.5 M/s, DESIGN §8), in order, so a resync's
 * begin / records / end stay in sequence.
 */
import type { StateRecord, StateSink } from './state-record.js';
import type { SyncConfig } from './endpoint.js';
import type { UdpTransportOptions } from './transport-udp.js';
import type { SyncStatusSnapshot } from './stats-format.js';

export type SinkOp =
  | { op: 'apply'; owner: number; rec: StateRecord; ageMs: number }
  | { op: 'begin'; owner: number }
  | { op: 'end'; owner: number };

export interface SyncWorkerData {
  config: SyncConfig;
  transport: UdpTransportOptions;
  /** The datapath → worker event ring (EventRing.sab). */
  ringSab: SharedArrayBuffer;
  pollMs?: number;
  /** How often the worker posts metrics and status without being asked (ms; 0 = never). */
  statusIntervalMs?: number;
  /** Labels put on every metric (e.g. {node: 'fwa'}), so they merge with the node's own. */
  metricLabels?: Record<string, string>;
}

export type FromWorker =
  | { type: 'ready'; port: number }
  | { type: 'ops'; ops: SinkOp[] }
  | { type: 'inSync'; value: boolean }
  | { type: 'ringOverflow' }
  | { type: 'metrics'; id: number; metrics: unknown; peers: ReturnType<import('./endpoint.js').SyncEndpoint['peerStatus']>; status: SyncStatusSnapshot }
  | { type: 'stopped' };

export type ToWorker =
  | { type: 'metrics'; id: number }
  | { type: 'peers'; peers: { address: string; port: number }[] }
  /** Answer to ringOverflow: the full local table, dumped at `dumpTime` (syncClock). */
  | { type: 'localTable'; records: StateRecord[]; dumpTime: number }
  | { type: 'stop' };

/** Applies a batch of operations from the worker to the node's table, in order. */
export function applySinkOps(ops: readonly SinkOp[], sink: StateSink): void {
  for (const o of ops) {
    if (o.op === 'apply') sink.apply(o.owner, o.rec, o.ageMs);
    else if (o.op === 'begin') sink.resyncBegin?.(o.owner);
    else sink.resyncEnd?.(o.owner);
  }
}
