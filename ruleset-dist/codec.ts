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
 * sent or dropped.
 *
 * On TCP (fetches) a message is a stream frame: the same header with magic "HRS1", then a
 * second HMAC over just those 24 header bytes, then payload and the final HMAC (over every
 * byte before it, the header MAC included):
 *
 *   0  header (magic "HRS1")                 24 bytes
 *  24  HMAC-SHA256(key, bytes 0 .. 24)        32 bytes
 *  56  payload                               length from the header
 *  ..  HMAC-SHA256(key, bytes 0 .. end of payload)   32 bytes
 *
 * The receiver reads the fixed 56 bytes, authenticates them and checks the length, type,
 * sender and sequence before it reads (and buffers) one byte of the body: a connection
 * without the key costs 56 bytes, not the 64 MiB a length field could claim. Replays are refused by the (epoch, sequence) pair, with a 64-message
 * window below the highest sequence so that reordered datagrams still count (the
 * anti-replay window of RFC 4303 §3.4.3). Only the control plane reads these messages,
 * a few per second: JSON and allocation are fine here.
 */
import type { MsgType } from './messages.js';
import { KEYED_MAC_LEN, ReplayVerdict, ReplayWindow, keyedMacValid, writeKeyedMac } from '../inet/index.js';

const MAGIC = 0x48524431; // "HRD1"
const STREAM_MAGIC = 0x48525331; // "HRS1"
export const HEADER_BYTES = 24;
export const MAC_BYTES = KEYED_MAC_LEN;
/** The authenticated head of a stream frame: header and its own HMAC. */
export const STREAM_HEAD_BYTES = HEADER_BYTES + MAC_BYTES;
/** Largest payload accepted in a fetch answer (a full ruleset text); datagrams are bounded by UDP. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Largest payload accepted in a fetch request: {version, nonce} is under 100 bytes. */
export const MAX_REQUEST_BYTES = 4096;

/** Sequences per sender a reordered frame may lag behind the newest and still be accepted. */
const REPLAY_WINDOW = 64;

export interface Frame {
  type: MsgType;
  nodeId: number;
  epoch: number;
  seq: number;
  payload: unknown;
}

/** Why a received frame was dropped; each reason has its own counter. */
export type DropReason = 'malformed' | 'auth' | 'replay' | 'own' | 'oversize';

export class FrameError extends Error {
  constructor(readonly reason: DropReason, message: string) {
    super(message);
  }
}

/** The header fields of a stream frame, authenticated before its body is read. */
interface StreamHead {
  type: number;
  nodeId: number;
  epoch: number;
  seq: number;
  /** Payload bytes that follow the head (the final HMAC follows them). */
  payloadBytes: number;
}

function encode(key: Uint8Array, f: Frame, stream: boolean): Buffer {
  const body = Buffer.from(JSON.stringify(f.payload), 'utf8');
  const start = stream ? STREAM_HEAD_BYTES : HEADER_BYTES;
  const out = Buffer.alloc(start + body.length + MAC_BYTES);
  out.writeUInt32BE(stream ? STREAM_MAGIC : MAGIC, 0);
  out.writeUInt8(f.type, 4);
  out.writeUInt32BE(f.nodeId >>> 0, 8);
  out.writeUInt32BE(f.epoch >>> 0, 12);
  out.writeUInt32BE(f.seq >>> 0, 16);
  out.writeUInt32BE(body.length, 20);
  if (stream) writeKeyedMac(key, out.subarray(0, HEADER_BYTES), out, HEADER_BYTES);
  body.copy(out, start);
  writeKeyedMac(key, out.subarray(0, start + body.length), out, start + body.length);
  return out;
}

/** A datagram frame (ANNOUNCE, UPDATE). */
export function encodeFrame(key: Uint8Array, f: Frame): Buffer {
  return encode(key, f, false);
}

/** A stream frame (FETCH request and answer on TCP). */
export function encodeStreamFrame(key: Uint8Array, f: Frame): Buffer {
  return encode(key, f, true);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Authenticates the fixed-size head of a stream frame (exactly STREAM_HEAD_BYTES bytes);
 * throws FrameError. Costs one HMAC over 24 bytes, whatever length the head claims.
 */
export function decodeStreamHead(key: Uint8Array, head: Uint8Array): StreamHead {
  const b = asBuffer(head);
  if (b.length !== STREAM_HEAD_BYTES || b.readUInt32BE(0) !== STREAM_MAGIC) throw new FrameError('malformed', 'not a ruleset-distribution stream frame');
  if (!keyedMacValid(key, b.subarray(0, HEADER_BYTES), b.subarray(HEADER_BYTES))) throw new FrameError('auth', 'header HMAC mismatch (wrong key or altered message)');
  return { type: b.readUInt8(4), nodeId: b.readUInt32BE(8), epoch: b.readUInt32BE(12), seq: b.readUInt32BE(16), payloadBytes: b.readUInt32BE(20) };
}

function decode(key: Uint8Array, bytes: Uint8Array, stream: boolean): Frame {
  const b = asBuffer(bytes);
  const start = stream ? STREAM_HEAD_BYTES : HEADER_BYTES;
  if (b.length < start + MAC_BYTES || b.readUInt32BE(0) !== (stream ? STREAM_MAGIC : MAGIC)) throw new FrameError('malformed', 'not a ruleset-distribution frame');
  const len = b.readUInt32BE(20);
  if (start + len + MAC_BYTES !== b.length) throw new FrameError('malformed', 'length field does not match the frame');
  if (stream) decodeStreamHead(key, b.subarray(0, STREAM_HEAD_BYTES));
  if (!keyedMacValid(key, b.subarray(0, start + len), b.subarray(start + len))) throw new FrameError('auth', 'HMAC mismatch (wrong key or altered message)');
  const type = b.readUInt8(4);
  if (type < 1 || type > 4) throw new FrameError('malformed', `unknown message type ${type}`);
  let payload: unknown;
  try {
    payload = JSON.parse(b.toString('utf8', start, start + len));
  } catch {
    throw new FrameError('malformed', 'payload is not JSON');
  }
  return { type: type as MsgType, nodeId: b.readUInt32BE(8), epoch: b.readUInt32BE(12), seq: b.readUInt32BE(16), payload };
}

/** Authenticates and parses a datagram frame; throws FrameError (never anything else) for a bad frame. */
export function decodeFrame(key: Uint8Array, bytes: Uint8Array): Frame {
  return decode(key, bytes, false);
}

/** The same for a whole stream frame (head and body): both HMACs must hold. */
export function decodeStreamFrame(key: Uint8Array, bytes: Uint8Array): Frame {
  return decode(key, bytes, true);
}

/**
 * Per-sender anti-replay state: a newer epoch resets the window (the sender restarted);
 * an older epoch is a replay of a previous boot. Within an epoch, the inet library's window
 * over the last 64 sequences (serial arithmetic, so the sender's 32-bit counter may wrap).
 */
export class ReplayGuard {
  private readonly senders = new Map<number, { epoch: number; window: ReplayWindow }>();

  /** True when (epoch, seq) from `nodeId` would be accepted; remembers nothing. */
  fresh(nodeId: number, epoch: number, seq: number): boolean {
    const s = this.senders.get(nodeId);
    if (!s || epoch > s.epoch) return true;
    if (epoch < s.epoch) return false;
    return s.window.check(seq) === ReplayVerdict.Accept;
  }

  /** True (and remembered) when (epoch, seq) from `nodeId` was not seen before. */
  accept(nodeId: number, epoch: number, seq: number): boolean {
    let s = this.senders.get(nodeId);
    if (s && epoch < s.epoch) return false;
    if (!s || epoch > s.epoch) {
      s = { epoch, window: new ReplayWindow(REPLAY_WINDOW) };
      this.senders.set(nodeId, s);
    }
    return s.window.accept(seq) === ReplayVerdict.Accept;
  }
}
