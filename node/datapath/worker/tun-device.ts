/**
 * The node's PacketDevice: the TUN device (IFF_VNET_HDR, offloads) read and written by the
 * native batch reader, which watches the fd with uv_poll on this thread's loop and writes
 * back the slots marked Forward with their virtio header unchanged, so super-packets stay
 * super-packets.
 */
import { native, openTun, closeFd, NativeStat, type NativeReader, type TunDevice } from '../../native/index.js';
import type { BatchBuffers, PacketDevice } from './packet-device.js';

export interface TunPacketDeviceOptions {
  tunName: string;
  offloads: boolean;
  /** Batches handled per wake-up before yielding to the event loop. */
  maxBatchesPerWake: number;
  /** The native reader's figures (NativeStat), read by the control thread. */
  nativeStats: SharedArrayBuffer;
}

export class TunPacketDevice implements PacketDevice {
  readonly name: string;
  readonly vnetHdrLen: number;
  private readonly tun: TunDevice;
  private reader: NativeReader | undefined;
  private closed = false;

  constructor(private readonly opts: TunPacketDeviceOptions) {
    this.tun = openTun(opts.tunName, opts.offloads);
    this.name = this.tun.name;
    this.vnetHdrLen = this.tun.vnetHdrLen;
  }

  start(b: BatchBuffers, onBatch: (n: number) => void): void {
    if (this.reader !== undefined) throw new Error(`TUN device ${this.name}: already reading`);
    try {
      this.reader = native().readerCreate(
        this.tun.fd,
        b.arena,
        b.slotSize,
        b.slotCount,
        b.lengths,
        b.verdicts,
        new Float64Array(this.opts.nativeStats, 0, NativeStat.Count),
        onBatch,
        this.opts.maxBatchesPerWake,
      );
    } catch (err) {
      this.close();
      throw err;
    }
    this.reader.start();
  }

  inject(bytes: Uint8Array, offset: number, length: number): void {
    native().writePacket(this.tun.fd, bytes, offset, length);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader?.close();
    closeFd(this.tun.fd);
  }
}
