/**
 * The wire form of a handed-off packet (worker/handoff.ts): a packet of another node's
 * connection, sent over the sync segment to that node. Pure functions over bytes.
 *
 *   0  u16 magic 0x4848 ("HH")   2 u8 version (1)   3 u8 virtio header length (0 or 10)
 *   4  u32 sender node id        8 u32 sender boot epoch       12 u32 sequence number
 *  16  the TUN slot: virtio header (so a super-packet stays one) and the IP packet
 *  ..  HMAC-SHA256 over everything before it, with the cluster key (32 bytes)
 *
 * Integers big-endian. The sync key authenticates it: the receiver forwards what it
 * decodes, so an unauthenticated datagram must never reach its filter. The sequence
 * number, per sender and boot epoch, lets the receiver refuse a replayed one.
 */
import { KEYED_MAC_LEN, keyedMacValid, writeKeyedMac } from '../../../inet/index.js';

export const HANDOFF_MAGIC = 0x4848;
export const HANDOFF_VERSION = 1;
export const HANDOFF_HEADER = 16;
export const HANDOFF_MAC = KEYED_MAC_LEN;
/** The largest UDP payload (IPv4): a slot must fit in one datagram with header and MAC. */
export const HANDOFF_MAX_DATAGRAM = 65507;
export const HANDOFF_MAX_SLOT = HANDOFF_MAX_DATAGRAM - HANDOFF_HEADER - HANDOFF_MAC;

export interface HandoffHeader {
  vnetHdrLen: number;
  node: number;
  epoch: number;
  seq: number;
}

export type HandoffDecodeError = 'short' | 'long' | 'magic' | 'version' | 'auth' | 'vnet';
export type HandoffDecode = { ok: true; header: HandoffHeader; slot: Uint8Array } | { ok: false; reason: HandoffDecodeError };

/**
 * The datagram for one slot (virtio header and packet), written into `into` when it is long
 * enough (the sender's reused buffer), else into a new buffer; null when the slot is too
 * long for one datagram. The result is a view of exactly the datagram's length.
 */
export function encodeHandoff(h: HandoffHeader, slot: Uint8Array, key: Uint8Array, into?: Buffer): Buffer | null {
  if (slot.length > HANDOFF_MAX_SLOT) return null;
  const len = HANDOFF_HEADER + slot.length + HANDOFF_MAC;
  const out = into !== undefined && into.length >= len ? into.subarray(0, len) : Buffer.allocUnsafe(len);
  out.writeUInt16BE(HANDOFF_MAGIC, 0);
  out.writeUInt8(HANDOFF_VERSION, 2);
  out.writeUInt8(h.vnetHdrLen, 3);
  out.writeUInt32BE(h.node >>> 0, 4);
  out.writeUInt32BE(h.epoch >>> 0, 8);
  out.writeUInt32BE(h.seq >>> 0, 12);
  out.set(slot, HANDOFF_HEADER);
  const end = HANDOFF_HEADER + slot.length;
  writeKeyedMac(key, out.subarray(0, end), out, end);
  return out;
}

/**
 * Checks and decodes one datagram; never throws. The cheap checks (length, magic, version)
 * come first so a flood of garbage costs no HMAC; the MAC is verified before anything else
 * is believed. `slot` is a view into `bytes`. `vnetHdrLen` is the receiver's own: a slot
 * with another header length cannot be written to its device as it is.
 */
export function decodeHandoff(bytes: Uint8Array, key: Uint8Array, vnetHdrLen: number): HandoffDecode {
  if (bytes.length < HANDOFF_HEADER + 20 + HANDOFF_MAC) return { ok: false, reason: 'short' };
  if (bytes.length > HANDOFF_MAX_DATAGRAM) return { ok: false, reason: 'long' };
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.readUInt16BE(0) !== HANDOFF_MAGIC) return { ok: false, reason: 'magic' };
  if (b.readUInt8(2) !== HANDOFF_VERSION) return { ok: false, reason: 'version' };
  const end = b.length - HANDOFF_MAC;
  if (!keyedMacValid(key, b.subarray(0, end), b.subarray(end))) return { ok: false, reason: 'auth' };
  const header: HandoffHeader = { vnetHdrLen: b.readUInt8(3), node: b.readUInt32BE(4), epoch: b.readUInt32BE(8), seq: b.readUInt32BE(12) };
  if (header.vnetHdrLen !== vnetHdrLen) return { ok: false, reason: 'vnet' };
  return { ok: true, header, slot: bytes.subarray(HANDOFF_HEADER, end) };
}
