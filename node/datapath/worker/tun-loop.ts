/**
 * The packet loop: TUN batch in -> parse -> stage verdict -> batch out.
 *
 * The native reader fills slots of one arena and calls `onBatch(n)` once per batch; this
 * loop parses every slot into the one reused PacketInfo, asks the stage, and marks the
 * slot's verdict byte; the native side then writes every slot marked Forward back into the
 * TUN device, with its virtio header unchanged so super-packets stay super-packets.
 */
import { native, openTun, closeFd, NativeStat, type NativeReader, type TunDevice } from '../../native/index.js';
import { BatchProcessor } from './batch-processor.js';
import { datapathClock } from '../shared/clock.js';
import type { PacketStage } from './stage.js';

export interface TunLoopOptions {
  tunName: string;
  offloads: boolean;
  /** Packets per batch (slots in the arena). */
  batchSize: number;
  /** Batches handled per wake-up before yielding to the event loop. */
  maxBatchesPerWake: number;
  counters: SharedArrayBuffer;
  nativeStats: SharedArrayBuffer;
  stage: PacketStage;
}

/** A slot holds one virtio header plus the largest packet the kernel hands a TUN reader. */
export const SLOT_SIZE = 10 + 65535 + 1;

export class TunLoop {
  readonly device: TunDevice;
  private readonly reader: NativeReader;
  private readonly arena: Uint8Array;
  private readonly lengths: Int32Array;
  private readonly verdicts: Uint8Array;
  private readonly processor: BatchProcessor;
  private closed = false;

  constructor(opts: TunLoopOptions) {
    this.device = openTun(opts.tunName, opts.offloads);
    this.arena = new Uint8Array(SLOT_SIZE * opts.batchSize);
    this.lengths = new Int32Array(opts.batchSize);
    this.verdicts = new Uint8Array(opts.batchSize);
    this.processor = new BatchProcessor(this.arena, SLOT_SIZE, this.lengths, this.verdicts, new Float64Array(opts.counters), this.device.vnetHdrLen, opts.stage);
    try {
      this.reader = native().readerCreate(
        this.device.fd,
        this.arena,
        SLOT_SIZE,
        opts.batchSize,
        this.lengths,
        this.verdicts,
        new Float64Array(opts.nativeStats, 0, NativeStat.Count),
        (n) => this.onBatch(n),
        opts.maxBatchesPerWake,
      );
    } catch (err) {
      closeFd(this.device.fd);
      throw err;
    }
  }

  start(): void {
    this.reader.start();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.close();
    closeFd(this.device.fd);
  }

  /** Writes a packet the datapath made itself (with its virtio header) into the TUN device. */
  inject(bytes: Uint8Array, offset: number, length: number): void {
    native().writePacket(this.device.fd, bytes, offset, length);
  }

  private onBatch(n: number): void {
    this.processor.process(n, datapathClock());
  }
}
