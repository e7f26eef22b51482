/**
 * The native addon's public face: TUN devices with offloads and batched, non-blocking
 * packet I/O. The C side (tun.c, batch-io.c) only opens devices and moves bytes; every
 * decision about a packet is made in JavaScript.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

interface NativeBinding {
  tunOpen(name: string, offloads: boolean): { fd: number; name: string; vnetHdrLen: number };
  fdClose(fd: number): void;
  writePacket(fd: number, bytes: Uint8Array, offset: number, length: number): number;
  readerCreate(
    fd: number,
    arena: Uint8Array,
    slotSize: number,
    slotCount: number,
    lengths: Int32Array,
    verdicts: Uint8Array,
    stats: Float64Array,
    onBatch: (count: number) => void,
    maxBatchesPerWake: number,
  ): NativeReader;
  packetOpen(ifname: string, promisc: boolean): number;
  rawIpOpen(family: 4 | 6, protocol: number, ifname: string, group: string | null): number;
  sendTo(fd: number, family: 4 | 6, bytes: Uint8Array, offset: number, length: number, address: string): number;
  recvFrom(fd: number, bytes: Uint8Array): { length: number; from: string; to: string; hopLimit: number } | null;
  watchReadable(fd: number, onReadable: () => void): { close(): void };
  interfaceInfo(ifname: string): { index: number; mac: Uint8Array };
  setRealtime(priority: number): boolean;
  /** Absent from an addon built before it existed (an old build/ kept by a developer). */
  unixDgramSend?(path: string, bytes: Uint8Array): number;
}

export interface NativeReader {
  start(): void;
  stop(): void;
  close(): void;
}

/** Indices into the stats array the native reader updates (batch-io.c). */
export const enum NativeStat {
  Wakeups = 0,
  Batches = 1,
  ReadErrors = 2,
  WriteErrors = 3,
  Written = 4,
  Count = 5,
}

/** Verdict bytes the native reader acts on after each batch. */
export const enum SlotVerdict {
  Drop = 0,
  Forward = 1,
}

let binding: NativeBinding | undefined;

/** Walks up from this file to the package root (where build/ lives), in src or dist. */
function findAddon(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'build', 'Release', 'hafw_native.node');
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('native addon build/Release/hafw_native.node not found: run `npm ci` (or `npm run install`) to build it');
}

export function native(): NativeBinding {
  if (!binding) binding = createRequire(import.meta.url)(findAddon()) as NativeBinding;
  return binding;
}

export interface TunDevice {
  fd: number;
  name: string;
  vnetHdrLen: number;
}

/**
 * Opens (creates) a TUN device with IFF_VNET_HDR and, when `offloads`, checksum + TSO4/6
 * offloads. Errors are rewritten into advice an operator can act on.
 */
export function openTun(name: string, offloads = true): TunDevice {
  try {
    return native().tunOpen(name, offloads);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      throw new Error(`cannot open TUN device ${name}: /dev/net/tun does not exist (load the tun module: modprobe tun; in a container add --device /dev/net/tun)`);
    }
    if (e.code === 'EACCES' || e.code === 'EPERM') {
      throw new Error(`cannot open TUN device ${name}: permission denied (run as root or grant CAP_NET_ADMIN; in a container add --cap-add NET_ADMIN)`);
    }
    if (e.code === 'EBUSY') {
      throw new Error(`cannot open TUN device ${name}: it is in use by another process (is another hafw node running in this network namespace?)`);
    }
    throw new Error(`cannot open TUN device ${name}: ${e.message}`);
  }
}

export function closeFd(fd: number): void {
  native().fdClose(fd);
}

/**
 * A raw IP socket for one protocol on one interface (VRRP: protocol 112): multicast leaves
 * through that interface with TTL/hop limit 255, is not looped back, and `group` is joined.
 */
export function openRawIp(family: 4 | 6, protocol: number, ifname: string, group: string | null): number {
  return native().rawIpOpen(family, protocol, ifname, group);
}

/** An AF_PACKET socket on one interface (frames out; with promisc, sniffing in). */
export function openPacketSocket(ifname: string, promisc: boolean): number {
  return native().packetOpen(ifname, promisc);
}

/** Real-time (SCHED_RR) scheduling for the calling thread only. */
export function setRealtimePriority(priority: number): void {
  native().setRealtime(priority);
}
