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
}

export class MemoryDevice implements PacketDevice {
  readonly name: string;
  readonly vnetHdrLen: number;
  /** Packets the datapath wrote into the device: forwarded slots and injected packets. */
  readonly outbound: Uint8Array[] = [];
  /** Like the native reader's stats: wake-ups, batches, packets too long for a slot. */
  readonly stats = { wakeups: 0, batches: 0, readErrors: 0 };
  private readonly inbound: Uint8Array[] = [];
  private readonly maxBatchesPerWake: number;
  private buffers: BatchBuffers | undefined;
  private onBatch: ((n: number) => void) | undefined;
  private pending: ReturnType<typeof setImmediate> | undefined;
  private idleWaiters: (() => void)[] = [];
  closed = false;

  constructor(opts: MemoryDeviceOptions = {}) {
    this.name = opts.name ?? 'mem0';
    this.vnetHdrLen = opts.vnetHdrLen ?? 10;
    this.maxBatchesPerWake = opts.maxBatchesPerWake ?? 8;
  }

  start(buffers: BatchBuffers, onBatch: (n: number) => void): void {
    if (this.closed) throw new Error(`device ${this.name} is closed`);
    if (this.buffers !== undefined) throw new Error(`device ${this.name}: already reading`);
    this.buffers = buffers;
    this.onBatch = onBatch;
    this.wake();
  }

  /** Queues a packet (header included when vnetHdrLen > 0) for the datapath to read. */
  send(packet: Uint8Array): void {
    if (this.closed) throw new Error(`device ${this.name} is closed`);
    this.inbound.push(packet.slice());
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
      let n = 0;
      while (n < b.slotCount && this.inbound.length > 0) {
        const p = this.inbound.shift()!;
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
      this.onBatch!(n);
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
