/**
 * Replacing bytes of a TCP segment's payload with text of another length (what a NAT helper
 * does to an FTP PORT command: Linux's nf_nat_mangle_tcp_packet), in place in the packet's
 * buffer: what follows moves, the IP length field, the IPv4 header checksum and the TCP
 * checksum (or, under virtio NeedsCsum, the partial pseudo-header sum) are made right.
 *
 * The packet may grow only up to `PacketInfo.maxEnd` (the end of its slot); 0 there means
 * its length may not change (a reassembled datagram, whose fragments are written back as
 * they came). Length fields that do not describe the packet (a BIG TCP super-packet's 0,
 * an IPv6 jumbogram) are not rewritten either: the caller is told, nothing is touched.
 */
import { setIpv4HeaderChecksum, setL4Checksum } from './checksum.js';
import { IpProto, type PacketInfo } from './packet-info.js';

export const enum MangleResult {
  Ok = 0,
  /** Not a whole TCP segment with a payload there (a quote, the range outside the payload). */
  NotTcp = 1,
  /** The length must change and cannot: no room in the slot, or a length field we do not own. */
  NoRoom = 2,
}

function read16(b: Uint8Array, i: number): number {
  return (b[i]! << 8) | b[i + 1]!;
}

/** Whether the packet's IP length field says exactly where it ends (so it can be rewritten). */
function lengthFieldExact(pkt: PacketInfo): boolean {
  const b = pkt.buf;
  if (pkt.family === 4) return read16(b, pkt.l3Off + 2) === pkt.end - pkt.l3Off;
  return read16(b, pkt.l3Off + 4) === pkt.end - pkt.l3Off - 40;
}

/**
 * Replaces payload bytes buf[off, off+oldLen) of the TCP segment `pkt` with
 * text[0, textLen). The range must lie inside the payload. On Ok the packet's `end`,
 * `payloadLen`, `segments` and `lenDelta` follow the change.
 */
export function manglePayload(pkt: PacketInfo, off: number, oldLen: number, text: Uint8Array, textLen: number): MangleResult {
  if (pkt.inner || pkt.l4proto !== IpProto.Tcp || !pkt.l4Valid || pkt.isFragment) return MangleResult.NotTcp;
  const payOff = pkt.l4Off + pkt.tcpHdrLen;
  if (off < payOff || oldLen < 0 || off + oldLen > pkt.end || textLen < 0 || textLen > text.length) return MangleResult.NotTcp;
  const delta = textLen - oldLen;
  const buf = pkt.buf;
  if (delta !== 0) {
    if (pkt.maxEnd === 0 || pkt.end + delta > pkt.maxEnd || pkt.maxEnd > buf.length || !lengthFieldExact(pkt)) return MangleResult.NoRoom;
    const ipLen = pkt.end + delta - pkt.l3Off - (pkt.family === 4 ? 0 : 40);
    if (ipLen > 0xffff) return MangleResult.NoRoom;
    buf.copyWithin(off + textLen, off + oldLen, pkt.end);
    const f = pkt.l3Off + (pkt.family === 4 ? 2 : 4);
    buf[f] = ipLen >> 8;
    buf[f + 1] = ipLen & 0xff;
    pkt.end += delta;
    pkt.payloadLen += delta;
    pkt.lenDelta += delta;
    if (pkt.gsoSize > 0) pkt.segments = pkt.payloadLen > pkt.gsoSize ? Math.ceil(pkt.payloadLen / pkt.gsoSize) : 1;
  }
  for (let i = 0; i < textLen; i++) buf[off + i] = text[i]!;
  // The length moved: the IPv4 header checksum and the TCP sum (its pseudo-header holds the
  // length) are computed afresh. Once per rewrite, never per packet of the connection.
  if (delta !== 0) setIpv4HeaderChecksum(pkt);
  setL4Checksum(pkt);
  return MangleResult.Ok;
}
