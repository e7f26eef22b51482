/**
 * The packet loop: device batch in -> parse -> stage verdict -> batch out.
 *
 * The device (packet-device.ts: the TUN device in a node) fills slots of one arena and
 * calls back once per batch; this loop parses every slot into the one reused PacketInfo,
 * asks the stage, and marks the slot's verdict byte; the device then writes every slot
 * marked Forward back, with its virtio header unchanged so super-packets stay super-packets.
 */
import { BatchProcessor } from './batch-processor.js';
import { datapathClock } from '../shared/clock.js';
import type { BatchBuffers, PacketDevice } from './packet-device.js';
import type { PacketStage } from './stage.js';

export interface PacketLoopOptions {
  /** Packets per batch (slots in the arena). */
  batchSize: number;
  counters: SharedArrayBuffer;
  stage: PacketStage;
  /**
   * Told which source (PacketDevice.sources) a batch came from, before its packets are
   * processed: the datapath tags them with that input interface.
   */
  onSource?: (source: number) => void;
}

/** A slot holds one virtio header plus the largest packet the kernel hands a TUN reader. */
const SLOT_SIZE = 10 + 65535 + 1;

export class PacketLoop {
  private readonly buffers: BatchBuffers;
  private readonly processor: BatchProcessor;
  private readonly onSource: ((source: number) => void) | undefined;

  constructor(
    readonly device: PacketDevice,
    opts: PacketLoopOptions,
  ) {
    const n = opts.batchSize;
    this.buffers = { arena: new Uint8Array(SLOT_SIZE * n), slotSize: SLOT_SIZE, slotCount: n, lengths: new Int32Array(n), verdicts: new Uint8Array(n) };
    const b = this.buffers;
    this.processor = new BatchProcessor(b.arena, SLOT_SIZE, b.lengths, b.verdicts, new Float64Array(opts.counters), device.vnetHdrLen, opts.stage);
    this.onSource = opts.onSource;
  }

  start(): void {
    const processor = this.processor;
    const onSource = this.onSource;
    this.device.start(this.buffers, (n, source) => {
      onSource?.(source);
      processor.process(n, datapathClock());
    });
  }
}
