/**
 * Messages between the sync worker thread and the thread that owns the table. Records
 * received from peers cross as one batch of operations per worker turn (never one
 * postMessage per event: that tops out near 0.5 M/s, DESIGN §8), in order, so a resync's
 * begin / records / end stay in sequence. A batch is binary (fixed-size op slots holding the
 * ring's record layout) and transferred, not cloned: no per-record objects to copy on the
 * way, and the table's thread reads it into one reused record (no allocation there).
 */
import type { StateRecord, StateSink } from './state-record.js';
import { SLOT_BYTES, SlotReader, writeSlot } from './ring.js';
import type { SyncConfig } from './endpoint.js';
import type { UdpTransportOptions } from './udp-transport.js';
import type { SyncStatusSnapshot } from './stats-format.js';

export interface SyncWorkerData {
  config: SyncConfig;
  transport: UdpTransportOptions;
  /** The datapath → worker event ring (EventRing.sab). */
  ringSab: SharedArrayBuffer;
  pollMs?: number;
  /** How often the worker posts metrics and status without being asked (ms; 0 = never). */
  statusIntervalMs?: number;
  /**
   * Written by the table's thread after each applied batch: Int32 [0] = token of the last
   * batch applied, Float64 [1] = when (syncClock). The worker reads it to time its ACK
   * echoes from *applied*, so the lag metric includes the hop to the table (APPLIED_BYTES).
   */
  appliedSab?: SharedArrayBuffer;
  /** Labels put on every metric (e.g. {node: 'fwa'}), so they merge with the node's own. */
  metricLabels?: Record<string, string>;
  /**
   * The table's thread walks its table for resyncs (LocalWalk: the worker posts `walk`,
   * the records come through the ring), and the worker keeps no copy of the table. A ring
   * overflow then needs no dump either: the worker streams a new walk by itself.
   */
  tableWalk?: boolean;
}

export type FromWorker =
  | { type: 'ready'; port: number }
  /** `count` ops in `buf` (OP_BYTES each); batch number `token` (1, 2, ...). */
  | { type: 'ops'; buf: ArrayBuffer; count: number; token: number }
  | { type: 'inSync'; value: boolean }
  | { type: 'ringOverflow' }
  /** tableWalk: `records` more records of the resync walk into the ring; `start`: a new walk from the table's beginning. */
  | { type: 'walk'; start: boolean; records: number }
  | { type: 'metrics'; id: number; metrics: unknown; peers: ReturnType<import('./endpoint.js').SyncEndpoint['peerStatus']>; status: SyncStatusSnapshot }
  | { type: 'stopped' };

export type ToWorker =
  | { type: 'metrics'; id: number }
  | { type: 'peers'; peers: { address: string; port: number }[] }
  /** Answer to ringOverflow: the full local table, dumped at `dumpTime` (syncClock). */
  | { type: 'localTable'; records: StateRecord[]; dumpTime: number }
  /** An ops buffer applied and handed back for reuse (OpBatchWriter.recycle). */
  | { type: 'opsBuffer'; buf: ArrayBuffer }
  | { type: 'stop' };

export const APPLIED_BYTES = 16;
/** One operation: u8 op (0 apply, 1 resync begin, 2 resync end), u32 owner at 4, f64 ageMs at 8, record slot at 16. */
export const OP_BYTES = 16 + SLOT_BYTES;
const OP_APPLY = 0;
const OP_BEGIN = 1;
const OP_END = 2;

/** Builds a batch of operations in the worker; take() hands the buffer over (to transfer). */
export class OpBatchWriter {
  /** Applied buffers handed back (recycle), reused by take(). */
  private readonly spare: ArrayBuffer[] = [];
  private buf = new ArrayBuffer(64 * OP_BYTES);
  private view = new DataView(this.buf);
  private bytes = new Uint8Array(this.buf);
  count = 0;

  private next(op: number, owner: number): number {
    if ((this.count + 1) * OP_BYTES > this.buf.byteLength) {
      const bigger = new ArrayBuffer(this.buf.byteLength * 2);
      new Uint8Array(bigger).set(this.bytes);
      this.buf = bigger;
      this.view = new DataView(bigger);
      this.bytes = new Uint8Array(bigger);
    }
    const o = this.count++ * OP_BYTES;
    this.view.setUint8(o, op);
    this.view.setUint32(o + 4, owner >>> 0, true);
    return o;
  }

  apply(owner: number, rec: StateRecord, ageMs: number): void {
    const o = this.next(OP_APPLY, owner);
    this.view.setFloat64(o + 8, ageMs, true);
    writeSlot(this.view, this.bytes, o + 16, rec);
  }

  /** apply() of a record held in a ring-layout slot at `o` of `bytes` (copied as it is). */
  applySlot(owner: number, bytes: Uint8Array, o: number, ageMs: number): void {
    const at = this.next(OP_APPLY, owner);
    this.view.setFloat64(at + 8, ageMs, true);
    this.bytes.set(bytes.subarray(o, o + SLOT_BYTES), at + 16);
  }

  begin(owner: number): void {
    this.next(OP_BEGIN, owner);
  }

  end(owner: number): void {
    this.next(OP_END, owner);
  }

  /**
   * The filled buffer (its first `count` ops) to transfer; the writer starts on a recycled
   * one when it has one (the table's thread sends them back once applied: a new buffer per
   * batch is hundreds of KB to allocate, zero and collect, on both threads).
   */
  take(): { buf: ArrayBuffer; count: number } {
    const out = { buf: this.buf, count: this.count };
    this.buf = this.spare.pop() ?? new ArrayBuffer(this.buf.byteLength);
    this.view = new DataView(this.buf);
    this.bytes = new Uint8Array(this.buf);
    this.count = 0;
    return out;
  }

  /** A buffer given by take() and applied: kept for reuse (at most a few). */
  recycle(buf: ArrayBuffer): void {
    if (this.spare.length < 4 && buf.byteLength >= this.buf.byteLength) this.spare.push(buf);
  }
}

/** Applies ops [from, to) of a batch to the node's table, in order, through one reused record. */
export function applyOps(buf: ArrayBuffer, from: number, to: number, sink: StateSink, reader: SlotReader): void {
  const v = new DataView(buf);
  const b = new Uint8Array(buf);
  for (let i = from; i < to; i++) {
    const o = i * OP_BYTES;
    const op = v.getUint8(o);
    const owner = v.getUint32(o + 4, true);
    if (op === OP_APPLY) sink.apply(owner, reader.read(v, b, o + 16), v.getFloat64(o + 8, true));
    else if (op === OP_BEGIN) sink.resyncBegin?.(owner);
    else if (op === OP_END) sink.resyncEnd?.(owner);
  }
}
