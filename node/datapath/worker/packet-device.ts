/**
 * What the packet loop needs from a device, so the loop and the whole datapath run on the
 * TUN device in a node and on an in-memory device in tests (memory-device.ts), as
 * wireguard-go's tun.Device has tuntest.
 *
 * The shape follows the native batch reader (node/native/batch-io.c): the device pushes
 * batches. Per batch it reads packets into slots of the caller's arena, calls `onBatch(n)`
 * once, then writes back every slot the batch marked Forward. One call per batch, nothing
 * per packet: the loop's cost is the same whatever the device.
 */
export interface BatchBuffers {
  /** slotCount slots of slotSize bytes; a slot holds a virtio header (vnetHdrLen bytes) and a packet. */
  arena: Uint8Array;
  slotSize: number;
  slotCount: number;
  /** Bytes read into slot i, header included. */
  lengths: Int32Array;
  /** Per slot: the device sets Drop when it reads the slot; the batch sets Forward to have it written back. */
  verdicts: Uint8Array;
}

export interface PacketDevice {
  /** The device's name (the TUN interface). */
  readonly name: string;
  /** Length of the virtio-net header in front of each packet read or written (0: none). */
  readonly vnetHdrLen: number;
  /**
   * The input interface of each source the device reads (a batch comes from one source):
   * the steered interface whose traffic that source carries, or undefined when it is not
   * known (the shared TUN device, which every interface and the node's own output reach).
   * Source 0 is the device itself; per-interface TUN devices follow (datapath.inputDevices).
   */
  readonly sources: readonly (string | undefined)[];
  /**
   * Starts reading into `buffers`; per batch: slots 0..n-1 filled (all from one source),
   * `onBatch(n, source)` called once, then the slots marked Forward written back into that
   * source (none if the device was closed during the call). Called once.
   */
  start(buffers: BatchBuffers, onBatch: (n: number, source: number) => void): void;
  /** Writes one packet the datapath made itself (header included) into the device. */
  inject(bytes: Uint8Array, offset: number, length: number): void;
  /** Stops reading and releases the device (no handle left to keep the thread alive). Idempotent. */
  close(): void;
}
