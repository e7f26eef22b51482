/**
 * The node's PacketDevice: the TUN device (IFF_VNET_HDR, offloads) read and written by the
 * native batch reader, which watches the fd with uv_poll on this thread's loop and writes
 * back the slots marked Forward with their virtio header unchanged, so super-packets stay
 * super-packets.
 *
 * With per-interface input devices (datapath.inputDevices: per-interface) it also opens one
 * TUN device per steered interface, into which the kernel routes only that interface's
 * traffic (kernel-plumbing.ts): a batch read from one of them carries its input interface
 * exactly. Every reader fills the same arena: they all run on this thread and a reader's
 * wake-up reads, calls back and writes back before any other reader runs, so one arena
 * serves them all. A slot is written back into the device it was read from; packets the
 * datapath makes itself (resets, ICMP errors, reassembled datagrams) go into the first one.
 */
import { native, openTun, closeFd, NativeStat, type NativeReader, type TunDevice } from '../../native/index.js';
import type { BatchBuffers, PacketDevice } from './packet-device.js';

export interface TunPacketDeviceOptions {
  tunName: string;
  offloads: boolean;
  /** Batches handled per wake-up before yielding to the event loop. */
  maxBatchesPerWake: number;
  /** The native reader's figures (NativeStat), read by the control thread; summed over the devices. */
  nativeStats: SharedArrayBuffer;
  /** Per-interface input devices: the TUN device's name and the interface it carries. */
  inputs?: readonly { tun: string; ifname: string }[];
}

export class TunPacketDevice implements PacketDevice {
  readonly name: string;
  readonly vnetHdrLen: number;
  readonly sources: readonly (string | undefined)[];
  private readonly tuns: TunDevice[] = [];
  private readers: NativeReader[] = [];
  private started = false;
  private closed = false;

  constructor(private readonly opts: TunPacketDeviceOptions) {
    try {
      this.tuns.push(openTun(opts.tunName, opts.offloads));
      for (const i of opts.inputs ?? []) this.tuns.push(openTun(i.tun, opts.offloads));
    } catch (err) {
      for (const t of this.tuns) closeFd(t.fd);
      throw err;
    }
    this.name = this.tuns[0]!.name;
    this.vnetHdrLen = this.tuns[0]!.vnetHdrLen;
    this.sources = [undefined, ...(opts.inputs ?? []).map((i) => i.ifname)];
  }

  start(b: BatchBuffers, onBatch: (n: number, source: number) => void): void {
    if (this.started) throw new Error(`TUN device ${this.name}: already reading`);
    this.started = true;
    const stats = new Float64Array(this.opts.nativeStats, 0, NativeStat.Count);
    try {
      this.tuns.forEach((t, source) => {
        const reader = native().readerCreate(t.fd, b.arena, b.slotSize, b.slotCount, b.lengths, b.verdicts, stats, (n) => onBatch(n, source), this.opts.maxBatchesPerWake);
        this.readers.push(reader);
      });
    } catch (err) {
      this.close();
      throw err;
    }
    for (const r of this.readers) r.start();
  }

  inject(bytes: Uint8Array, offset: number, length: number): void {
    native().writePacket(this.tuns[0]!.fd, bytes, offset, length);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.readers) r.close();
    this.readers = [];
    // Closing a TUN fd removes its (non-persistent) device, and with it its routes.
    for (const t of this.tuns) closeFd(t.fd);
  }
}
