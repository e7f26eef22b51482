/**
 * Reading TCP options (RFC 9293 §3.2) from the bytes `parsePacket` located
 * (`tcpOptOff`, `tcpOptLen`). Every function returns numbers, never objects, so conntrack
 * can call them per SYN without allocating. A malformed option list (length < 2, or an
 * option running past the header) ends the walk: what follows is treated as absent, like
 * Linux's tcp_parse_options does.
 */
import { IpProto, PacketInfo } from './packet-info.js';

export const enum TcpOptionKind {
  End = 0,
  Nop = 1,
  Mss = 2,
  WindowScale = 3,
  SackPermitted = 4,
  Sack = 5,
  Timestamp = 8,
}

/** RFC 7323 §2.3: a shift above 14 is treated as 14. */
export const TCP_MAX_WINDOW_SCALE = 14;

/**
 * Offset in buf of the first option of `kind` whose length is `wantLen` (0: any length),
 * pointing at the kind byte, or -1 when absent.
 */
export function tcpFindOptionIn(buf: Uint8Array, off: number, len: number, kind: number, wantLen: number): number {
  const end = off + len;
  let p = off;
  while (p < end) {
    const k = buf[p];
    if (k === TcpOptionKind.End) return -1;
    if (k === TcpOptionKind.Nop) {
      p++;
      continue;
    }
    if (p + 1 >= end) return -1;
    const l = buf[p + 1];
    if (l < 2 || p + l > end) return -1;
    if (k === kind && (wantLen === 0 || l === wantLen)) return p;
    p += l;
  }
  return -1;
}

/** Offset of option `kind` in this packet's TCP header, or -1 (also when not TCP). */
export function tcpFindOption(info: PacketInfo, kind: number, wantLen = 0): number {
  if (info.l4proto !== IpProto.Tcp || info.tcpOptLen <= 0) return -1;
  return tcpFindOptionIn(info.buf, info.tcpOptOff, info.tcpOptLen, kind, wantLen);
}

/** Maximum segment size option (RFC 9293 §3.7.1), or -1 when absent. */
export function tcpMss(info: PacketInfo): number {
  const p = tcpFindOption(info, TcpOptionKind.Mss, 4);
  return p < 0 ? -1 : (info.buf[p + 2] << 8) | info.buf[p + 3];
}

/** Window scale shift (RFC 7323 §2), clamped to 14, or -1 when absent. */
export function tcpWindowScale(info: PacketInfo): number {
  const p = tcpFindOption(info, TcpOptionKind.WindowScale, 3);
  if (p < 0) return -1;
  const s = info.buf[p + 2];
  return s > TCP_MAX_WINDOW_SCALE ? TCP_MAX_WINDOW_SCALE : s;
}

/** True when the SACK-permitted option (RFC 2018 §2) is present. */
export function tcpSackPermitted(info: PacketInfo): boolean {
  return tcpFindOption(info, TcpOptionKind.SackPermitted, 2) >= 0;
}

/** Timestamp value TSval (RFC 7323 §3), as an unsigned 32-bit number, or -1 when absent. */
export function tcpTimestampValue(info: PacketInfo): number {
  const p = tcpFindOption(info, TcpOptionKind.Timestamp, 10);
  return p < 0 ? -1 : readU32(info.buf, p + 2);
}

/** Timestamp echo reply TSecr (RFC 7323 §3), or -1 when absent. */
export function tcpTimestampEcho(info: PacketInfo): number {
  const p = tcpFindOption(info, TcpOptionKind.Timestamp, 10);
  return p < 0 ? -1 : readU32(info.buf, p + 6);
}

/**
 * Number of SACK blocks (RFC 2018 §3) in the segment, 0 when none. Block i's left/right
 * edges are at `tcpFindOption(info, Sack) + 2 + 8 * i` and `+ 4`.
 */
export function tcpSackBlocks(info: PacketInfo): number {
  const p = tcpFindOption(info, TcpOptionKind.Sack);
  if (p < 0) return 0;
  return (info.buf[p + 1] - 2) >> 3;
}

function readU32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}
