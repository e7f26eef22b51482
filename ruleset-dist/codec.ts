/**
 * The frame of every ruleset-distribution message, datagram or TCP exchange:
 *
 *   0  magic "HRD1"        4 bytes
 *   4  type                u8 (messages.ts), 3 bytes zero
 *   8  sender node id      u32 BE
 *  12  sender boot epoch   u32 BE (grows on every start)
 *  16  sequence            u32 BE (per sender, per boot)
 *  20  payload length      u32 BE
 *  24  payload             UTF-8 JSON
 *  ..  HMAC-SHA256(key, bytes 0 .. end of payload)   32 bytes
 *
 * The HMAC covers every byte before it, so a message is either exactly what a key holder
 * sent or dropped. Replays are refused by the (epoch, sequence) pair, with a 64-message
 * window below the highest sequence so that reordered datagrams still count (the
 * anti-replay window of RFC 4303 §3.4.3). Only the control plane reads these messages,
 * a few per second: JSON and allocation are fine here.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MsgType } from './messages.js';

const MAGIC = 0x48524431; // "HRD1"
export const HEADER_BYTES = 24;
export const MAC_BYTES = 32;
/** Largest frame accepted on TCP (a full ruleset text); datagrams are bounded by UDP. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export interface Frame {
  type: MsgType;
  nodeId: number;
  epoch: number;
  seq: number;
  payload: unknown;
}

/** Why a received frame was dropped; each reason has its own counter. */
export type DropReason = 'malformed' | 'auth' | 'replay' | 'own';

export class FrameError extends Error {
  constructor(readonly reason: DropReason, message: string) {
    super(message);
  }
}

export function encodeFrame(key: Uint8Array, f: Frame): Buffer {
  const body = Buffer.from(JSON.stringify(f.payload), 'utf8');
  const out = Buffer.alloc(HEADER_BYTES + body.length + MAC_BYTES);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt8(f.type, 4);
  out.writeUInt32BE(f.nodeId >>> 0, 8);
  out.writeUInt32BE(f.epoch >>> 0, 12);
  out.writeUInt32BE(f.seq >>> 0, 16);
  out.writeUInt32BE(body.length, 20);
  body.copy(out, HEADER_BYTES);
  createHmac('sha256', key).update(out.subarray(0, HEADER_BYTES + body.length)).digest().copy(out, HEADER_BYTES + body.length);
  return out;
}

/** Authenticates and parses; throws FrameError (never anything else) for a bad frame. */
export function decodeFrame(key: Uint8Array, bytes: Uint8Array): Frame {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < HEADER_BYTES + MAC_BYTES || b.readUInt32BE(0) !== MAGIC) throw new FrameError('malformed', 'not a ruleset-distribution frame');
  const len = b.readUInt32BE(20);
  if (HEADER_BYTES + len + MAC_BYTES !== b.length) throw new FrameError('malformed', 'length field does not match the frame');
  const mac = createHmac('sha256', key).update(b.subarray(0, HEADER_BYTES + len)).digest();
  if (!timingSafeEqual(mac, b.subarray(HEADER_BYTES + len))) throw new FrameError('auth', 'HMAC mismatch (wrong key or altered message)');
  const type = b.readUInt8(4);
  if (type < 1 || type > 4) throw new FrameError('malformed', `unknown message type ${type}`);
  let payload: unknown;
  try {
    payload = JSON.parse(b.toString('utf8', HEADER_BYTES, HEADER_BYTES + len));
  } catch {
    throw new FrameError('malformed', 'payload is not JSON');
  }
  return { type: type as MsgType, nodeId: b.readUInt32BE(8), epoch: b.readUInt32BE(12), seq: b.readUInt32BE(16), payload };
}

/**
 * Per-sender anti-replay state: a newer epoch resets the window (the sender restarted);
 * an older epoch is a replay of a previous boot.
 */
export class ReplayGuard {
  private readonly senders = new Map<number, { epoch: number; top: number; mask: bigint }>();

  /** True (and remembered) when (epoch, seq) from `nodeId` was not seen before. */
  accept(nodeId: number, epoch: number, seq: number): boolean {
    const s = this.senders.get(nodeId);
    if (!s || epoch > s.epoch) {
      this.senders.set(nodeId, { epoch, top: seq, mask: 1n });
      return true;
    }
    if (epoch < s.epoch) return false;
    if (seq > s.top) {
      const shift = seq - s.top;
      s.mask = shift >= 64 ? 1n : ((s.mask << BigInt(shift)) | 1n) & 0xffffffffffffffffn;
      s.top = seq;
      return true;
    }
    const back = s.top - seq;
    if (back >= 64) return false;
    const bit = 1n << BigInt(back);
    if (s.mask & bit) return false;
    s.mask |= bit;
    return true;
  }
}
