/**
 * Test double of the TUN device (like wireguard-go's tun/tuntest): a PacketDevice made of
 * two queues, so the packet loop and the whole datapath run without root or a device.
 * `send` queues a packet as the kernel would route one into the TUN device; what the
 * datapath writes (slots it forwarded, packets it injected) lands in `outbound`, in the
 * order a reader of the device would see it. Batches are delivered on setImmediate, as
 * the native reader delivers them on a poll wake-up. Not used by the node.
 */
import { SlotVerdict } from '../../native/index.js';
import type { BatchBuffers, PacketDevice } from './packet-device.js';

export interface MemoryDeviceOptions {
  name?: string;
  /** Virtio-net header length in front of each packet (the TUN device in a node: 10). */
  vnetHdrLen?: number;
  /** Batches per wake-up before yielding, as the native reader's maxBatchesPerWake. */
  maxBatchesPerWake?: number;
  /** Per-interface input queues after source 0 (datapath.inputDevices), by interface name. */
  inputs?: string[];
}

export class MemoryDevice implements PacketDevice {
  readonly name: string;
  readonly vnetHdrLen: number;
  readonly sources: readonly (string | undefined)[];
  /** Packets the datapath wrote into the device: forwarded slots and injected packets. */
  readonly outbound: Uint8Array[] = [];
  /** Like the native reader's stats: wake-ups, batches, packets too long for a slot. */
  readonly stats = { wakeups: 0, batches: 0, readErrors: 0 };
  /** Queued packets and the source each came in by. */
  private readonly inbound: { bytes: Uint8Array; source: number }[] = [];
  private readonly maxBatchesPerWake: number;
  private buffers: BatchBuffers | undefined;
  private onBatch: ((n: number, source: number) => void) | undefined;
  private pending: ReturnType<typeof setImmediate> | undefined;
  private idleWaiters: (() => void)[] = [];
  closed = false;

  constructor(opts: MemoryDeviceOptions = {}) {
    this.name = opts.name ?? 'mem0';
    this.vnetHdrLen = opts.vnetHdrLen ?? 10;
    this.maxBatchesPerWake = opts.maxBatchesPerWake ?? 8;
    this.sources = [undefined, ...(opts.inputs ?? [])];
  }

  start(buffers: BatchBuffers, onBatch: (n: number, source: number) => void): void {
    if (this.closed) throw new Error(`device ${this.name} is closed`);
    if (this.buffers !== undefined) throw new Error(`device ${this.name}: already reading`);
    this.buffers = buffers;
    this.onBatch = onBatch;
    this.wake();
  }

  /**
   * Queues a packet (header included when vnetHdrLen > 0) for the datapath to read, as the
   * kernel routes it into source `source` (0: the device itself; else the per-interface
   * device of `sources[source]`).
   */
  send(packet: Uint8Array, source = 0): void {
    if (this.closed) throw new Error(`device ${this.name} is closed`);
    if (!Number.isInteger(source) || source < 0 || source >= this.sources.length) throw new Error(`device ${this.name}: no source ${source}`);
    this.inbound.push({ bytes: packet.slice(), source });
    this.wake();
  }

  inject(bytes: Uint8Array, offset: number, length: number): void {
    if (this.closed) throw new Error(`device ${this.name} is closed`);
    this.outbound.push(bytes.slice(offset, offset + length));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pending !== undefined) clearImmediate(this.pending);
    this.pending = undefined;
    this.inbound.length = 0;
    this.settle();
  }

  /** Resolves once every packet sent so far has been read and its batch handled (or the device closed). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.closed || this.buffers === undefined || (this.inbound.length === 0 && this.pending === undefined);
  }

  private settle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private wake(): void {
    if (this.pending === undefined && this.buffers !== undefined && this.inbound.length > 0) this.pending = setImmediate(() => this.deliver());
  }

  /** One wake-up, as batch-io.c's on_poll: up to maxBatchesPerWake batches, each read, handled, written back. */
  private deliver(): void {
    this.pending = undefined;
    const b = this.buffers!;
    this.stats.wakeups++;
    for (let k = 0; k < this.maxBatchesPerWake && this.inbound.length > 0; k++) {
      // A batch holds packets of one source, as each TUN device has its own reader.
      let n = 0;
      const source = this.inbound[0]!.source;
      while (n < b.slotCount && this.inbound.length > 0 && this.inbound[0]!.source === source) {
        const p = this.inbound.shift()!.bytes;
        if (p.length > b.slotSize) {
          this.stats.readErrors++;
          continue;
        }
        b.arena.set(p, n * b.slotSize);
        b.lengths[n] = p.length;
        b.verdicts[n] = SlotVerdict.Drop;
        n++;
      }
      if (n === 0) break;
      this.stats.batches++;
      this.onBatch!(n, source);
      if (this.closed) return;
      for (let i = 0; i < n; i++) {
        if (b.verdicts[i] !== SlotVerdict.Forward) continue;
        const at = i * b.slotSize;
        this.outbound.push(b.arena.slice(at, at + b.lengths[i]!));
      }
    }
    this.wake();
    this.settle();
  }
}
