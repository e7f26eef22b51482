/**
 * The packet loop: TUN batch in -> parse -> stage verdict -> batch out.
 *
 * The native reader fills slots of one arena and calls `onBatch(n)` once per batch; this
 * loop parses every slot into the one reused PacketInfo, asks the stage, and marks the
 * slot's verdict byte; the native side then writes every slot marked Forward back into the
 * TUN device, with its virtio header unchanged so super-packets stay super-packets.
 */
import { native, openTun, closeFd, NativeStat, SlotVerdict, type NativeReader, type TunDevice } from '../native/index.js';
import { PacketInfo, ParseStatus, GsoType } from '../packet/packet-info.js';
import { parsePacket } from '../packet/parse.js';
import { C } from './counters.js';
import { Verdict, type PacketStage } from './stage.js';

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
  private readonly counters: Float64Array;
  private readonly pkt = new PacketInfo();
  private readonly stage: PacketStage;
  private closed = false;

  constructor(opts: TunLoopOptions) {
    this.device = openTun(opts.tunName, opts.offloads);
    this.arena = new Uint8Array(SLOT_SIZE * opts.batchSize);
    this.lengths = new Int32Array(opts.batchSize);
    this.verdicts = new Uint8Array(opts.batchSize);
    this.counters = new Float64Array(opts.counters);
    this.stage = opts.stage;
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
    const c = this.counters;
    const pkt = this.pkt;
    const arena = this.arena;
    const hdr = this.device.vnetHdrLen;
    const now = performance.now();
    c[C.batches] += 1;
    for (let i = 0; i < n; i++) {
      const len = this.lengths[i];
      const off = i * SLOT_SIZE;
      const ipBytes = len - hdr;
      c[C.rx_packets] += 1;
      c[C.rx_bytes] += ipBytes;
      if (ipBytes > c[C.max_packet_bytes]) c[C.max_packet_bytes] = ipBytes;
      const status = parsePacket(pkt, arena, off, len, hdr);
      c[C.rx_segments] += pkt.segments;
      if (pkt.gsoType !== GsoType.None) {
        c[C.gso_packets] += 1;
        c[C.gso_bytes] += ipBytes;
      }
      if (status !== ParseStatus.Ok) {
        c[status === ParseStatus.Unsupported ? C.unsupported : C.malformed] += 1;
        this.verdicts[i] = SlotVerdict.Drop;
        continue;
      }
      let verdict: Verdict;
      try {
        verdict = this.stage.process(pkt, now);
      } catch {
        // A bug in a stage must cost one packet, never the node.
        c[C.stage_errors] += 1;
        verdict = Verdict.Drop;
      }
      if (verdict === Verdict.Accept) {
        c[C.verdict_accept] += 1;
        c[C.tx_packets] += 1;
        c[C.tx_bytes] += ipBytes;
        this.verdicts[i] = SlotVerdict.Forward;
      } else {
        c[verdict === Verdict.Reject ? C.verdict_reject : C.verdict_drop] += 1;
        this.verdicts[i] = SlotVerdict.Drop;
      }
    }
    if (this.stage.endBatch) {
      try {
        this.stage.endBatch(now);
      } catch {
        c[C.stage_errors] += 1;
      }
    }
  }
}
